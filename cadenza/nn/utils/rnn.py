"""Sequence helpers: ``pad_sequence`` and ``unpad_sequence``."""
from __future__ import annotations

from ... import _creation as C
from ...ops import cat, stack

__all__ = ["pad_sequence", "unpad_sequence"]


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
    sequences = list(sequences)
    max_len = max(s.shape[0] for s in sequences)
    padded = []
    for s in sequences:
        n = max_len - s.shape[0]
        if n:
            fill = C.full((n,) + tuple(s.shape[1:]), padding_value, dtype=s.dtype)
            s = cat([s, fill] if padding_side == "right" else [fill, s], 0)
        padded.append(s)
    out = stack(padded, 0)                               # (B, L_max, *)
    return out if batch_first else out.transpose(0, 1)


def unpad_sequence(padded_sequences, lengths, batch_first: bool = False):
    """Inverse of pad_sequence given the original lengths."""
    if not batch_first:
        padded_sequences = padded_sequences.transpose(0, 1)
    return [padded_sequences[i, :int(n)] for i, n in enumerate(lengths)]
