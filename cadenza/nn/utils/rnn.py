"""Variable-length sequences (``torch.nn.utils.rnn``): ``PackedSequence`` and
``pack_padded_sequence`` / ``pad_packed_sequence`` / ``pack_sequence`` / ``unpack_sequence``,
``pad_sequence`` / ``unpad_sequence``.

A PackedSequence stores the time steps of a batch of sequences, sorted by decreasing length,
one after the other: ``data`` (sum of lengths, *), ``batch_sizes[t]`` = how many sequences
are longer than t. Packing and unpacking are index_selects, so gradients flow through them.
"""
from __future__ import annotations

from collections import namedtuple

import numpy as np

from ... import _creation as C
from ..._tensor_base import TensorBase as Tensor
from ...errors import fmt_shape
from ...ops import cat

__all__ = ["PackedSequence", "invert_permutation", "pack_padded_sequence",
           "pad_packed_sequence", "pad_sequence", "unpad_sequence", "pack_sequence",
           "unpack_sequence"]


def _np_int(v):
    """Lengths / indices (a tensor, list or array) as an int64 NumPy array."""
    if isinstance(v, Tensor):
        v = v.detach().cpu().numpy()
    return np.asarray(v, dtype=np.int64).reshape(-1)


def invert_permutation(permutation):
    """The inverse permutation (``None`` stays None).

    >>> import cadenza as torch
    >>> torch.nn.utils.rnn.invert_permutation(torch.tensor([2, 0, 1]))
    tensor([1, 2, 0])
    """
    if permutation is None:
        return None
    p = _np_int(permutation)
    out = np.empty_like(p)
    out[p] = np.arange(len(p))
    return C.tensor(out)


_PackedBase = namedtuple("PackedSequence",
                         ["data", "batch_sizes", "sorted_indices", "unsorted_indices"])


class PackedSequence(_PackedBase):
    """Packed time steps of variable-length sequences (see the module docstring); the input
    and output of RNN, LSTM and GRU for such batches.

    >>> import cadenza as torch
    >>> p = torch.nn.utils.rnn.pack_sequence([torch.tensor([1., 2.]), torch.tensor([3.])])
    >>> p.data, p.batch_sizes
    (tensor([1., 3., 2.]), tensor([2, 1]))
    """

    def __new__(cls, data, batch_sizes=None, sorted_indices=None, unsorted_indices=None):
        if batch_sizes is None and isinstance(data, (tuple, list)):
            data, batch_sizes = data                       # PackedSequence((data, sizes))
        if batch_sizes is not None and not isinstance(batch_sizes, Tensor):
            batch_sizes = C.tensor(_np_int(batch_sizes))
        if unsorted_indices is None:
            unsorted_indices = invert_permutation(sorted_indices)
        return super().__new__(cls, data, batch_sizes, sorted_indices, unsorted_indices)

    def _map(self, fn):
        """A PackedSequence with ``fn`` applied to data (indices follow device moves)."""
        data = fn(self.data)
        move = (lambda t: t if t is None else t.to(data.device))
        return type(self)(data, self.batch_sizes, move(self.sorted_indices),
                          move(self.unsorted_indices))

    def to(self, *args, **kwargs):
        data = self.data.to(*args, **kwargs)
        return self if data is self.data else self._map(lambda _: data)

    def cuda(self, *args, **kwargs):
        return self._map(lambda d: d.cuda(*args, **kwargs))

    @property
    def is_cuda(self) -> bool:
        return self.data.is_cuda

    def is_pinned(self) -> bool:
        return False


def _converter(name):
    def method(self):
        return self._map(lambda d: getattr(d, name)())
    method.__name__ = name
    method.__doc__ = f"The PackedSequence with ``data.{name}()``."
    return method


for _name in ("cpu", "double", "float", "half", "long", "int", "short", "char", "byte"):
    setattr(PackedSequence, _name, _converter(_name))


def _pack(padded, lengths, sorted_indices):
    """Pack time-major ``padded`` (T, B, *) with per-sequence ``lengths`` (original order),
    sequences taken in ``sorted_indices`` order (None: already sorted)."""
    order = np.arange(len(lengths)) if sorted_indices is None else _np_int(sorted_indices)
    ls = lengths[order]
    sizes = np.array([(ls > t).sum() for t in range(int(ls[0]))], dtype=np.int64)
    B = padded.shape[1]
    # flat (t * B + b) positions of every packed row, step by step
    rows = np.concatenate([t * B + order[:n] for t, n in enumerate(sizes)])
    flat = padded.reshape(padded.shape[0] * B, *padded.shape[2:])
    data = flat.index_select(0, C.tensor(rows, device=padded.device))
    return PackedSequence(data, C.tensor(sizes), sorted_indices,
                          invert_permutation(sorted_indices))


def pack_padded_sequence(input, lengths, batch_first: bool = False,
                         enforce_sorted: bool = True) -> PackedSequence:
    """Pack a padded batch (T, B, *) (or (B, T, *) with ``batch_first``) of sequences of the
    given lengths. ``enforce_sorted`` requires lengths in decreasing order; otherwise the
    batch is sorted here and ``sorted_indices`` records the order.

    >>> import cadenza as torch
    >>> x = torch.tensor([[1., 2., 3.], [4., 5., 0.]])
    >>> torch.nn.utils.rnn.pack_padded_sequence(x, [3, 2], batch_first=True).data
    tensor([1., 4., 2., 5., 3.])
    """
    ls = _np_int(lengths)
    if batch_first:
        input = input.transpose(0, 1)
    if len(ls) != input.shape[1]:
        raise RuntimeError(f"pack_padded_sequence: expected {input.shape[1]} lengths (the "
                           f"batch size), got {len(ls)}")
    if np.any(ls <= 0):
        raise RuntimeError("Length of all samples has to be greater than 0, but found an "
                           "element in 'lengths' that is <= 0")
    if ls.max() > input.shape[0]:
        raise RuntimeError(f"pack_padded_sequence: a length ({ls.max()}) exceeds the padded "
                           f"sequence length {input.shape[0]}")
    if enforce_sorted:
        if np.any(np.diff(ls) > 0):
            raise RuntimeError("`lengths` array must be sorted in decreasing order when "
                               "`enforce_sorted` is True. You can pass `enforce_sorted=False` "
                               "to pack_padded_sequence and/or pack_sequence to sidestep this "
                               "requirement if you do not need ONNX exportability.")
        sorted_indices = None
    else:
        sorted_indices = C.tensor(np.argsort(-ls, kind="stable").astype(np.int64))
    return _pack(input, ls, sorted_indices)


def _lengths(batch_sizes):
    """Per-sequence lengths in sorted order from the batch sizes."""
    bs = _np_int(batch_sizes)
    return np.array([(bs > b).sum() for b in range(int(bs[0]))], dtype=np.int64)


def pad_packed_sequence(sequence: PackedSequence, batch_first: bool = False,
                        padding_value: float = 0.0, total_length=None):
    """Inverse of pack_padded_sequence: ``(padded, lengths)``, padded (T, B, *) (or
    (B, T, *)) in the original batch order and lengths an int64 tensor.

    >>> import cadenza as torch
    >>> p = torch.nn.utils.rnn.pack_sequence([torch.tensor([1., 2.]), torch.tensor([3.])])
    >>> torch.nn.utils.rnn.pad_packed_sequence(p, batch_first=True)
    (tensor([[1., 2.],
            [3., 0.]]), tensor([2, 1]))
    """
    data, sizes = sequence.data, _np_int(sequence.batch_sizes)
    ls = _lengths(sizes)                                    # sorted order
    T, B = len(sizes), int(sizes[0])
    if total_length is not None:
        if total_length < T:
            raise ValueError(f"Expected total_length to be at least the length of the longest "
                             f"sequence in input, but got total_length={total_length} and max "
                             f"sequence length being {T}")
        T = int(total_length)
    # position of (t, b) in data, or the extra padding row at the end
    offsets = np.concatenate([[0], np.cumsum(sizes)])
    src = np.full((T, B), len(data), dtype=np.int64)
    for t, n in enumerate(sizes):
        src[t, :n] = offsets[t] + np.arange(n)
    unsorted = sequence.unsorted_indices
    if unsorted is not None:
        u = _np_int(unsorted)
        src, ls = src[:, u], ls[u]
    fill = C.full((1, *data.shape[1:]), padding_value, dtype=data.dtype, device=data.device)
    out = cat([data, fill], 0).index_select(0, C.tensor(src.reshape(-1), device=data.device))
    out = out.reshape(T, B, *data.shape[1:])
    if batch_first:
        out = out.transpose(0, 1)
    return out, C.tensor(ls)


def pad_sequence(sequences, batch_first: bool = False, padding_value: float = 0.0,
                 padding_side: str = "right"):
    """Stack variable-length (L_i, *) tensors into (L_max, B, *) (or (B, L_max, *)).

    >>> import cadenza as torch
    >>> a, b = torch.ones(3, 2), torch.ones(1, 2)
    >>> torch.nn.utils.rnn.pad_sequence([a, b], batch_first=True).shape
    cadenza.Size([2, 3, 2])
    """
    if padding_side not in ("left", "right"):
        raise ValueError(f"padding_side must be 'left' or 'right', got {padding_side}")
    if isinstance(sequences, Tensor):
        sequences = sequences.unbind(0)
    sequences = list(sequences)
    if not sequences:
        raise RuntimeError("pad_sequence: received an empty list of sequences")
    ref = sequences[0]
    rest = ref._data.shape[1:]
    dt = ref._data.dtype
    lengths = np.empty(len(sequences), dtype=np.int64)
    for i, s in enumerate(sequences):
        shape = s._data.shape
        if not shape or shape[1:] != rest:
            raise RuntimeError(f"pad_sequence: expected sequences of shape (L, *) with equal "
                               f"trailing sizes, got {fmt_shape(ref.shape)} (sequence 0) and "
                               f"{fmt_shape(shape)} (sequence {i})")
        lengths[i] = shape[0]
        if s._data.dtype != dt:   # the result in the first sequence's dtype, as torch's
            sequences[i] = s.to(ref.dtype)
    max_len = int(lengths.max())
    # one gather from [every sequence | a padding row] (3 ops for any batch; padding each
    # sequence and stacking them was 2 ops per sequence): (B, L_max) positions in the
    # concatenation, the padding row where a sequence has ended
    sequences.append(C.full((1,) + rest, padding_value, dtype=ref.dtype, device=ref.device))
    flat = cat(sequences, 0)
    starts = np.cumsum(lengths) - lengths
    steps = np.arange(max_len, dtype=np.int64)[None, :]
    if padding_side == "left":
        steps = steps - (max_len - lengths)[:, None]
    idx = np.where((steps >= 0) & (steps < lengths[:, None]), starts[:, None] + steps,
                   int(lengths.sum()))
    if not batch_first:
        idx = np.ascontiguousarray(idx.T)                # (L_max, B): torch's layout
    return flat[C.as_tensor(idx, device=ref.device)]


def unpad_sequence(padded_sequences, lengths, batch_first: bool = False):
    """Inverse of pad_sequence given the original lengths.

    >>> import cadenza as torch
    >>> x = torch.tensor([[1., 2.], [3., 0.]])
    >>> torch.nn.utils.rnn.unpad_sequence(x, torch.tensor([2, 1]), batch_first=True)
    [tensor([1., 2.]), tensor([3.])]
    """
    if not batch_first:
        padded_sequences = padded_sequences.transpose(0, 1)
    return [padded_sequences[i, :int(n)] for i, n in enumerate(_np_int(lengths))]


def pack_sequence(sequences, enforce_sorted: bool = True) -> PackedSequence:
    """Pack a list of variable-length (L_i, *) tensors.

    >>> import cadenza as torch
    >>> torch.nn.utils.rnn.pack_sequence([torch.tensor([1.]), torch.tensor([2., 3.])],
    ...                                  enforce_sorted=False).batch_sizes
    tensor([2, 1])
    """
    lengths = [s.shape[0] for s in sequences]
    return pack_padded_sequence(pad_sequence(sequences), lengths,
                                enforce_sorted=enforce_sorted)


def unpack_sequence(packed_sequences: PackedSequence):
    """The list of sequences a PackedSequence holds, in the original order.

    >>> import cadenza as torch
    >>> p = torch.nn.utils.rnn.pack_sequence([torch.tensor([1.]), torch.tensor([2., 3.])],
    ...                                      enforce_sorted=False)
    >>> torch.nn.utils.rnn.unpack_sequence(p)
    [tensor([1.]), tensor([2., 3.])]
    """
    padded, lengths = pad_packed_sequence(packed_sequences, batch_first=True)
    return unpad_sequence(padded, lengths, batch_first=True)
