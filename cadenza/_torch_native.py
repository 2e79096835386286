"""ATen's top-level forms of nn operations that programs (and code ported from TorchScript or
exported graphs) call directly: the ``native_*`` normalisations and dropout with their saved
statistics, the functional recurrent layers (``torch.lstm``/``gru``/``rnn_tanh``/``rnn_relu``
with ATen's flat parameter lists, padded or packed), ``convolution``, ``conv_tbc``,
``grid_sampler(_2d/_3d)``, ``affine_grid_generator``, ``embedding_bag`` and
``segment_reduce``. Each is a wrapper
over the functional op or nn layer machinery that has the implementation (and the op-table
entry); gradients flow through it."""
from __future__ import annotations

import builtins

import numpy as np

from . import _creation
from ._tensor_base import TensorBase
from .autograd.grad_mode import no_grad
from .errors import ShapeError, fmt_shape
from .nn import functional as F
from .ops import stack as _stack
from .nn.modules.rnn import RNNBase
from .nn.utils.rnn import PackedSequence, _pack, pad_packed_sequence

__all__ = ["native_layer_norm", "native_batch_norm", "native_group_norm", "native_dropout",
           "lstm", "gru", "rnn_tanh", "rnn_relu", "convolution", "conv_tbc", "grid_sampler",
           "grid_sampler_2d", "grid_sampler_3d", "affine_grid_generator", "embedding_bag",
           "segment_reduce"]


# ----------------------------------------------------------------------------- native_*
def _stats(x, dims, eps, keepdim):
    """(mean, 1 / sqrt(biased var + eps)) of ``x`` over ``dims``."""
    mean = x.mean(dim=dims, keepdim=keepdim)
    var = x.var(dim=dims, unbiased=False, keepdim=keepdim)
    return mean, (var + eps).rsqrt()


def native_layer_norm(input, normalized_shape, weight, bias, eps):
    """``(layer_norm(input), mean, rstd)``; mean and rstd keep the normalised dims as 1s and
    carry no gradient (as ATen's)."""
    shape = (normalized_shape,) if isinstance(normalized_shape, (builtins.int, np.integer)) \
        else tuple(normalized_shape)
    out = F.layer_norm(input, shape, weight, bias, eps)
    dims = tuple(builtins.range(input.ndim - len(shape), input.ndim))
    with no_grad():
        mean, rstd = _stats(input.detach(), dims, eps, True)
    return out, mean, rstd


def native_batch_norm(input, weight, bias, running_mean, running_var, training, momentum,
                      eps):
    """``(batch_norm(...), save_mean, save_invstd)``: the batch's per-channel mean and
    1 / sqrt(var + eps) when training (running stats updated in place), empty otherwise."""
    out = F.batch_norm(input, running_mean, running_var, weight, bias, training, momentum, eps)
    if not training:
        empty = _creation.zeros(0, dtype=input.dtype, device=input.device)
        return out, empty, empty.clone()
    dims = (0, *builtins.range(2, input.ndim))
    with no_grad():
        mean, invstd = _stats(input.detach(), dims, eps, False)
    return out, mean, invstd


def native_group_norm(input, weight, bias, N, C, HxW, group, eps):
    """``(group_norm(...), mean, rstd)`` with mean and rstd of shape (N, group),
    differentiable (as ATen's)."""
    if input.shape[0] != N or input.shape[1] != C or input.numel() != N * C * HxW:
        raise ShapeError(f"native_group_norm: expected input of N={N}, C={C} and HxW={HxW} "
                         f"elements per channel, got {fmt_shape(input.shape)}")
    out = F.group_norm(input, group, weight, bias, eps)
    mean, rstd = _stats(input.reshape(N, group, -1), 2, eps, False)
    return out, mean, rstd


def native_dropout(input, p, train):
    """``(output, mask)``: mask a bool tensor of the kept elements, output = input * mask /
    (1 - p) (0 when p = 1). ``train`` False (None counts as True, as ATen's) keeps all."""
    if not 0 <= p <= 1:
        raise RuntimeError(f"native_dropout: expected p in [0, 1], got p={p}")
    if train is False:
        return input.clone(), _creation.ones(input.shape, dtype=bool, device=input.device)
    keep = _creation.rand(input.shape, device=input.device) >= p
    scale = 0.0 if p == 1 else 1.0 / (1.0 - p)
    return input * keep * scale, keep


# ----------------------------------------------------------------------------- RNNs
class _FlatLayers:
    """What RNNBase._run reads of a recurrent module, from ATen's flat parameter list
    (per layer and direction: w_ih, w_hh[, b_ih, b_hh][, w_hr])."""

    def __init__(self, mode, params, has_biases, num_layers, dropout, train, bidirectional):
        params = list(params)
        self.mode, self.num_layers = mode, builtins.int(num_layers)
        self.bidirectional, self.dropout, self.training = bidirectional, dropout, train
        dirs = 2 if bidirectional else 1
        per, extra = divmod(len(params), self.num_layers * dirs)
        base = 4 if has_biases else 2
        if extra or per not in (base, base + 1) or (per == base + 1 and mode != "LSTM"):
            names = "w_ih, w_hh, b_ih, b_hh" if has_biases else "w_ih, w_hh"
            raise RuntimeError(f"{mode.lower()}: expected {base} parameters per layer and "
                               f"direction ({names}"
                               f"{', w_hr with projections' if mode == 'LSTM' else ''}) for "
                               f"{self.num_layers} layer(s) x {dirs} direction(s), got "
                               f"{len(params)}")
        self._params = [params[i:i + per] for i in builtins.range(0, len(params), per)]
        self._has_biases = has_biases

    def _layer_params(self, layer, d):
        p = self._params[layer * (2 if self.bidirectional else 1) + d]
        if self._has_biases:
            return p[0], p[1], p[2], p[3], (p[4] if len(p) > 4 else None)
        return p[0], p[1], None, None, (p[2] if len(p) > 2 else None)


def _recurrent(mode, args, kwargs):
    names_padded = ("input", "hx", "params", "has_biases", "num_layers", "dropout", "train",
                    "bidirectional", "batch_first")
    names_packed = ("data", "batch_sizes", "hx", "params", "has_biases", "num_layers",
                    "dropout", "train", "bidirectional")
    # the packed form has batch_sizes second: the hidden state (a tensor; LSTM's a pair)
    # then comes third where the padded form has the parameter list
    packed = "batch_sizes" in kwargs or (len(args) > 2 and isinstance(args[2], TensorBase)) \
        or (mode == "LSTM" and len(args) > 1 and isinstance(args[1], TensorBase))
    names = names_packed if packed else names_padded
    if len(args) > len(names):
        raise TypeError(f"{mode.lower()}() takes {len(names)} arguments, got {len(args)}")
    a = dict(zip(names, args), **kwargs)
    missing = [n for n in names if n not in a]
    if missing:
        raise TypeError(f"{mode.lower()}() missing arguments: {', '.join(missing)}")
    lstm = mode == "LSTM"
    hx = a["hx"]
    if lstm:
        if not isinstance(hx, (tuple, list)) or len(hx) != 2:
            raise TypeError("lstm: expected hx to be a pair (h_0, c_0)")
        h0, c0 = hx
    else:
        h0, c0 = hx, None
    net = _FlatLayers(mode, a["params"], a["has_biases"], a["num_layers"], a["dropout"],
                      a["train"], a["bidirectional"])
    if packed:
        seq = PackedSequence(a["data"], a["batch_sizes"])
        x, lengths = pad_packed_sequence(seq)
        out, hidden = RNNBase._run(net, x, h0, c0, lengths.numpy())
        out = _pack(out, lengths.numpy(), None).data
    else:
        x = a["input"]
        if x.ndim != 3:
            raise ShapeError(f"{mode.lower()}: expected a 3-D input (seq, batch, feature), "
                             f"got {fmt_shape(x.shape)}")
        if a["batch_first"]:
            x = x.transpose(0, 1)
        out, hidden = RNNBase._run(net, x, h0, c0)
        if a["batch_first"]:
            out = out.transpose(0, 1)
    return (out, *hidden) if lstm else (out, hidden)


def lstm(*args, **kwargs):
    """``torch.lstm(input, (h0, c0), params, has_biases, num_layers, dropout, train,
    bidirectional, batch_first)`` -> (output, h_n, c_n); or the packed form ``(data,
    batch_sizes, (h0, c0), params, has_biases, num_layers, dropout, train, bidirectional)``."""
    return _recurrent("LSTM", args, kwargs)


def gru(*args, **kwargs):
    """``torch.gru(input, h0, params, ...)`` -> (output, h_n) (arguments as ``lstm``)."""
    return _recurrent("GRU", args, kwargs)


def rnn_tanh(*args, **kwargs):
    """``torch.rnn_tanh(input, h0, params, ...)`` -> (output, h_n) (arguments as ``gru``)."""
    return _recurrent("RNN_TANH", args, kwargs)


def rnn_relu(*args, **kwargs):
    return _recurrent("RNN_RELU", args, kwargs)


# ----------------------------------------------------------------------------- convolution
def convolution(input, weight, bias, stride, padding, dilation, transposed, output_padding,
                groups):
    """ATen's one convolution entry: conv1d/2d/3d, or their transposes, by the input's dims."""
    nd = weight.ndim - 2
    if nd not in (1, 2, 3) or input.ndim not in (nd + 1, nd + 2):
        raise ShapeError(f"convolution: expected a 3-D to 5-D weight and an input with as many "
                         f"dims (or one fewer, unbatched), got input {fmt_shape(input.shape)} "
                         f"and weight {fmt_shape(weight.shape)}")
    if transposed:
        fn = (F.conv_transpose1d, F.conv_transpose2d, F.conv_transpose3d)[nd - 1]
        return fn(input, weight, bias, tuple(stride), tuple(padding), tuple(output_padding),
                  groups, tuple(dilation))
    fn = (F.conv1d, F.conv2d, F.conv3d)[nd - 1]
    return fn(input, weight, bias, tuple(stride), tuple(padding), tuple(dilation), groups)


def conv_tbc(input, weight, bias, pad=0):
    """1-d convolution over time-major input (T, B, C_in) with weight (K, C_in, C_out) and
    bias (C_out,), ``pad`` steps of zeros at each end: output (T + 2 pad - K + 1, B, C_out)."""
    if input.ndim != 3 or weight.ndim != 3 or bias.ndim != 1:
        raise ShapeError(f"conv_tbc: expected input (T, B, C_in), weight (K, C_in, C_out) and "
                         f"bias (C_out,), got {fmt_shape(input.shape)}, "
                         f"{fmt_shape(weight.shape)} and {fmt_shape(bias.shape)}")
    if weight.shape[1] != input.shape[2] or bias.shape[0] != weight.shape[2]:
        raise ShapeError(f"conv_tbc: channels disagree: input {fmt_shape(input.shape)}, "
                         f"weight {fmt_shape(weight.shape)}, bias {fmt_shape(bias.shape)}")
    out = F.conv1d(input.permute(1, 2, 0), weight.permute(2, 1, 0), bias, 1, pad)
    return out.permute(2, 0, 1)


_INTERP = ("bilinear", "nearest", "bicubic")
_PADDING = ("zeros", "border", "reflection")


def _grid_mode(name, table, value):
    if not isinstance(value, (builtins.int, np.integer)) or not 0 <= value < len(table):
        raise ValueError(f"{name}: expected an int in [0, {len(table) - 1}] "
                         f"({', '.join(f'{i}: {m}' for i, m in enumerate(table))}), "
                         f"got {value!r}")
    return table[value]


def grid_sampler(input, grid, interpolation_mode, padding_mode, align_corners):
    """``F.grid_sample`` with ATen's integer modes (interpolation 0 bilinear, 1 nearest,
    2 bicubic; padding 0 zeros, 1 border, 2 reflection)."""
    return F.grid_sample(input, grid,
                         _grid_mode("grid_sampler: interpolation_mode", _INTERP,
                                    interpolation_mode),
                         _grid_mode("grid_sampler: padding_mode", _PADDING, padding_mode),
                         align_corners)


def grid_sampler_2d(input, grid, interpolation_mode, padding_mode, align_corners):
    if input.ndim != 4:
        raise ShapeError(f"grid_sampler_2d: expected a 4-D input, got {fmt_shape(input.shape)}")
    return grid_sampler(input, grid, interpolation_mode, padding_mode, align_corners)


def grid_sampler_3d(input, grid, interpolation_mode, padding_mode, align_corners):
    if input.ndim != 5:
        raise ShapeError(f"grid_sampler_3d: expected a 5-D input, got {fmt_shape(input.shape)}")
    return grid_sampler(input, grid, interpolation_mode, padding_mode, align_corners)


def affine_grid_generator(theta, size, align_corners):
    return F.affine_grid(theta, list(size), align_corners=align_corners)


# ----------------------------------------------------------------------------- embedding_bag
_BAG_MODES = ("sum", "mean", "max")


def embedding_bag(weight, indices, offsets, scale_grad_by_freq=False, mode=0, sparse=False,
                  per_sample_weights=None, include_last_offset=False, padding_idx=None):
    """ATen's embedding_bag (weight first, mode 0 sum / 1 mean / 2 max) -> (output,
    offset2bag, bag_size, max_indices) as ATen's CPU kernel fills them: offset2bag the bag of
    each index (empty for a float32/half sum without padding_idx), bag_size the non-padding
    indices per bag (mean and max; zeros for sum), max_indices the winning row per output
    element (max), else bag_size (mean) or zeros (sum)."""
    if not isinstance(offsets, TensorBase):
        raise TypeError(f"embedding_bag(): argument 'offsets' (position 3) must be Tensor, "
                        f"not {type(offsets).__name__}")
    if indices.ndim != 1:
        raise ShapeError(f"embedding_bag: expected 1-D indices with offsets, got "
                         f"{fmt_shape(indices.shape)}")
    name = _grid_mode("embedding_bag: mode", _BAG_MODES, mode)
    out = F.embedding_bag(indices, weight, offsets, None, 2, scale_grad_by_freq, name, sparse,
                          per_sample_weights, include_last_offset, padding_idx)
    idx = indices.detach()._host().astype(np.int64)
    offs = offsets.detach()._host().astype(np.int64)
    starts = offs[:-1] if include_last_offset else offs
    n_bags = len(starts)
    bag_of = np.zeros(len(idx), dtype=np.int64)
    if len(idx):
        bag_of = np.searchsorted(starts, np.arange(len(idx)), side="right") - 1
    live = np.ones(len(idx), bool) if padding_idx is None else idx != padding_idx
    dev = weight.device
    if name == "sum":
        # (ATen's fast path for float32 and half weights without padding_idx leaves it empty)
        fast = padding_idx is None and weight.dtype.name in ("float32", "float16", "bfloat16")
        offset2bag = np.zeros(0, np.int64) if fast else bag_of
        zeros = np.zeros(n_bags, np.int64)
        return out, *(_creation.tensor(a, device=dev) for a in (offset2bag, zeros, zeros))
    sizes = np.bincount(bag_of[live], minlength=n_bags).astype(np.int64) if len(idx) else \
        np.zeros(n_bags, np.int64)
    if name == "mean":
        return out, *(_creation.tensor(a, device=dev) for a in (bag_of, sizes, sizes))
    w = weight.detach()._host()
    best = np.zeros((n_bags, w.shape[1]), np.int64)
    for b in builtins.range(n_bags):
        rows = idx[(bag_of == b) & live]
        if len(rows):
            best[b] = rows[np.argmax(w[rows], axis=0)]
    return out, *(_creation.tensor(a, device=dev) for a in (bag_of, sizes, best))


# ----------------------------------------------------------------------------- segment_reduce
_SEGMENT_REDUCE = {"sum": "sum", "mean": "mean", "max": "amax", "amax": "amax",
                   "min": "amin", "amin": "amin", "prod": "prod"}
_SEGMENT_EMPTY = {"sum": 0.0, "mean": float("nan"), "amax": float("-inf"),
                  "amin": float("inf"), "prod": 1.0}


def segment_reduce(data, reduce, *, lengths=None, indices=None, offsets=None, axis=0,
                   unsafe=False, initial=None):
    """Reduce consecutive segments of ``data`` along ``axis`` (given by ``lengths`` or by
    ``offsets``, one more than segments): sum, mean, max/amax, min/amin or prod; an empty
    segment gives ``initial`` (else 0, NaN, -inf, inf, 1), ``initial`` joins every other
    segment's reduction (the mean divides by the segment's length). Differentiable (ties of
    max/min share the gradient). 1-D lengths/offsets, so ``axis`` is 0."""
    if reduce not in _SEGMENT_REDUCE:
        raise RuntimeError(f"reduce argument must be either sum, prod, mean, amax or amin, "
                           f"got {reduce}")
    how = _SEGMENT_REDUCE[reduce]
    if indices is not None:
        raise RuntimeError("segment_reduce(): indices based reduction is not supported yet.")
    if lengths is None and offsets is None:
        raise RuntimeError("segment_reduce(): Either lengths or offsets must be defined.")
    if not data.is_floating_point():
        raise NotImplementedError(f"segment_reduce: expected floating point data, got "
                                  f"{data.dtype}")
    given = lengths if lengths is not None else offsets
    if given.is_floating_point() or given.dtype.is_complex:
        raise NotImplementedError(f"segment_reduce: lengths/offsets must be integers, got "
                                  f"{given.dtype}")
    if axis < 0:
        axis += data.ndim
    if given.ndim != 1:
        raise NotImplementedError("segment_reduce: Cadenza supports 1-D lengths/offsets (one "
                                  f"segmentation of axis 0), got {fmt_shape(given.shape)}")
    if axis != given.ndim - 1:
        raise RuntimeError(f"segment_reduce(): Expected axis to be the last dimension of "
                           f"lengths but got {axis}.")
    g = given._host().astype(np.int64)
    if lengths is not None:
        if (g < 0).any():
            raise RuntimeError("lengths contains negative value!")
        starts = np.concatenate([[0], np.cumsum(g)[:-1]]).astype(np.int64)
        sizes = g
        if not unsafe and int(g.sum()) != data.shape[axis]:
            raise RuntimeError("segment_reduce(): Expected all rows of lengths along axis to "
                               "sum to data.size(lengths.dim()-1) when !unsafe.")
    else:
        starts, sizes = g[:-1], np.diff(g)
        if (sizes < 0).any() or (len(g) and (g[0] < 0 or g[-1] > data.shape[axis])):
            raise RuntimeError(f"segment_reduce: offsets must be non-decreasing within "
                               f"[0, {data.shape[axis]}], got {g.tolist()}")
    rest = tuple(data.shape[axis + 1:])
    outs = []
    for start, size in zip(starts.tolist(), sizes.tolist()):
        if size == 0:
            fill = _SEGMENT_EMPTY[how] if initial is None else builtins.float(initial)
            outs.append(_creation.full(rest, fill, dtype=data.dtype, device=data.device))
            continue
        seg = data.narrow(axis, start, size)
        if how == "mean":
            r = seg.sum(axis)
            r = (r if initial is None else r + initial) / size
        else:
            r = getattr(seg, how)(axis)
            if initial is not None:
                r = {"sum": lambda v: v + initial, "prod": lambda v: v * initial,
                     "amax": lambda v: v.clamp(min=initial),
                     "amin": lambda v: v.clamp(max=initial)}[how](r)
        outs.append(r)
    if not outs:
        return _creation.zeros((0, *rest), dtype=data.dtype, device=data.device)
    return _stack(outs, axis)
