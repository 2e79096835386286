"""Recurrent layers: RNN, LSTM, GRU and their single-step cells, with PyTorch's parameter names
(``weight_ih_l0``, ``weight_hh_l0_reverse`` ...) and gate orders (LSTM: i, f, g, o; GRU: r, z,
n), so state dicts load into and from PyTorch unchanged.

The input projection of a whole sequence is one matmul per layer and direction; the time loop
is one primitive per layer and direction (ops/activation.py: lstm_layer, gru_layer, rnn_layer),
whose forward and backward run only the hidden-to-hidden product and the step's elementwise part
per time step, outside the autograd graph.
"""
from __future__ import annotations

import math

import numpy as np

from ... import _creation as C
from ...errors import ShapeError, fmt_shape
from ...ops import cat, stack, where
from ...ops.activation import gru_layer, lstm_layer, rnn_layer
from ..utils.rnn import PackedSequence, _pack, pad_packed_sequence
from .. import functional as F, init
from ..parameter import Parameter
from .module import Module
from .rnn_cell import GRUCell, LSTMCell, RNNCell, RNNCellBase, _lstm_step  # noqa: F401

__all__ = ["RNNBase", "RNN", "LSTM", "GRU", "RNNCellBase", "RNNCell", "LSTMCell", "GRUCell"]

_GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}


class RNNBase(Module):
    """Shared machinery of RNN, LSTM and GRU (parameters, shapes, layer/direction loops)."""

    def __init__(self, mode: str, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, proj_size: int = 0, device=None, dtype=None):
        super().__init__()
        if not 0 <= dropout <= 1 or isinstance(dropout, bool):
            raise ValueError("dropout should be a number in range [0, 1] representing the "
                             "probability of an element being zeroed")
        if hidden_size <= 0 or num_layers <= 0:
            raise ValueError("hidden_size and num_layers must be positive")
        if proj_size < 0 or (proj_size and mode != "LSTM"):
            raise ValueError("proj_size should be a positive integer or zero to disable "
                             "projections (LSTM only)")
        if proj_size >= hidden_size:
            if proj_size:
                raise ValueError("proj_size has to be smaller than hidden_size")
        self.mode = mode
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bias = bias
        self.batch_first = batch_first
        self.dropout = float(dropout)
        self.bidirectional = bidirectional
        self.proj_size = proj_size
        dirs = 2 if bidirectional else 1
        gate = _GATES[mode] * hidden_size
        real_h = proj_size if proj_size else hidden_size
        names = []
        for layer in range(num_layers):
            for d in range(dirs):
                in_size = input_size if layer == 0 else real_h * dirs
                sfx = f"_l{layer}" + ("_reverse" if d else "")
                shapes = [("weight_ih", (gate, in_size)), ("weight_hh", (gate, real_h))]
                if bias:
                    shapes += [("bias_ih", (gate,)), ("bias_hh", (gate,))]
                if proj_size:
                    shapes.append(("weight_hr", (proj_size, hidden_size)))
                for name, shape in shapes:
                    setattr(self, name + sfx, Parameter(C.empty(shape, device=device,
                                                                dtype=dtype)))
                    names.append(name + sfx)
        self._flat_weights_names = names
        self.reset_parameters()

    def reset_parameters(self) -> None:
        stdv = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0
        for w in self.parameters():
            init.uniform_(w, -stdv, stdv)

    def flatten_parameters(self) -> None:
        pass  # cuDNN weight packing; nothing to do here

    @property
    def _flat_weights(self):
        return [getattr(self, n) for n in self._flat_weights_names]

    @property
    def all_weights(self):
        per = len(self._flat_weights_names) // (self.num_layers * (2 if self.bidirectional
                                                                    else 1))
        w = self._flat_weights
        return [w[i:i + per] for i in range(0, len(w), per)]

    def _layer_params(self, layer, d):
        sfx = f"_l{layer}" + ("_reverse" if d else "")
        get = self._parameters.get
        return (get("weight_ih" + sfx), get("weight_hh" + sfx), get("bias_ih" + sfx),
                get("bias_hh" + sfx), get("weight_hr" + sfx))

    def _check_input(self, input):
        if input.ndim not in (2, 3):
            raise ValueError(f"{self._get_name()}: Expected input to be 2D or 3D, got "
                             f"{input.ndim}D instead")
        if input.shape[-1] != self.input_size:
            raise ShapeError(f"{self._get_name()}(input_size={self.input_size}): expected "
                             f"input.shape[-1] == {self.input_size}, got "
                             f"{fmt_shape(input.shape)}")

    def _check_hidden(self, h, expected, what):
        if tuple(h.shape) != expected:
            raise ShapeError(f"{self._get_name()}: expected {what} size {expected}, got "
                             f"{fmt_shape(h.shape)}")

    def _run(self, x, h0, c0, lengths=None):
        """x: (L, N, H_in); h0/c0: (D * num_layers, N, *) -> output, (h_n, c_n). With
        ``lengths`` (a PackedSequence's, one per sample), sample b's state changes only at its
        steps t < lengths[b]: h_n is each sequence's state at its own last step and the
        reverse direction starts at that step. Each layer and direction is one primitive
        (ops/activation.py's lstm_layer, gru_layer, rnn_layer) after one input-projection
        GEMM; an LSTM with proj_size steps through _lstm_step."""
        dirs = 2 if self.bidirectional else 1
        lstm = self.mode == "LSTM"
        h_out, c_out = [], []
        seq_len = x.shape[0]
        mask = None if lengths is None else C.tensor(
            np.arange(seq_len)[:, None] < lengths.reshape(1, -1), device=x.device)  # (L, N)
        for layer in range(self.num_layers):
            outs_dir = []
            for d in range(dirs):
                w_ih, w_hh, b_ih, b_hh, w_hr = self._layer_params(layer, d)
                xw = F.linear(x, w_ih, b_ih)                  # (L, N, gates * H)
                idx = layer * dirs + d
                if w_hr is not None:
                    out, h_n, c_n = _projected_lstm(xw, h0[idx], c0[idx], w_hh, b_hh, w_hr,
                                                    mask, bool(d))
                elif lstm:
                    out, h_n, c_n = lstm_layer(xw, h0[idx], c0[idx], w_hh, b_hh, mask,
                                               reverse=bool(d))
                elif self.mode == "GRU":
                    out, h_n = gru_layer(xw, h0[idx], w_hh, b_hh, mask, reverse=bool(d))
                else:
                    out, h_n = rnn_layer(xw, h0[idx], w_hh, b_hh, mask, reverse=bool(d),
                                         nonlinearity=self.mode[4:].lower())
                outs_dir.append(out)                           # (L, N, H_out)
                h_out.append(h_n)
                if lstm:
                    c_out.append(c_n)
            x = outs_dir[0] if dirs == 1 else _cat_directions(outs_dir)
            if self.dropout and self.training and layer < self.num_layers - 1:
                x = F.dropout(x, self.dropout, True)
        h_n = stack(h_out, 0)
        return x, ((h_n, stack(c_out, 0)) if lstm else h_n)

    def forward(self, input, hx=None):
        if isinstance(input, PackedSequence):
            padded, lengths = pad_packed_sequence(input)     # (T, B, *), original order
            out, hidden = self._forward(padded, hx, lengths.numpy(), False)
            return _pack(out, lengths.numpy(), input.sorted_indices), hidden
        return self._forward(input, hx, None, self.batch_first)

    def _forward(self, input, hx, lengths, batch_first):
        self._check_input(input)
        batched = input.ndim == 3
        x = input if batched else input.unsqueeze(1)
        if batched and batch_first:
            x = x.transpose(0, 1)                              # (L, N, H_in)
        n = x.shape[1]
        dirs = 2 if self.bidirectional else 1
        real_h = self.proj_size or self.hidden_size
        lstm = self.mode == "LSTM"
        if hx is None:
            h0 = C.zeros(self.num_layers * dirs, n, real_h, dtype=x.dtype, device=x.device)
            c0 = C.zeros(self.num_layers * dirs, n, self.hidden_size, dtype=x.dtype,
                         device=x.device) if lstm else None
        else:
            if lstm:
                if not isinstance(hx, (tuple, list)) or len(hx) != 2:
                    raise TypeError("LSTM: expected hx to be a tuple (h_0, c_0)")
                h0, c0 = hx
            else:
                h0, c0 = hx, None
            if not batched:
                if h0.ndim != 2:
                    raise RuntimeError(f"For unbatched 2-D input, hx should also be 2-D but "
                                       f"got {h0.ndim}-D tensor")
                h0 = h0.unsqueeze(1)
                c0 = c0.unsqueeze(1) if c0 is not None else None
            self._check_hidden(h0, (self.num_layers * dirs, n, real_h), "hidden")
            if lstm:
                self._check_hidden(c0, (self.num_layers * dirs, n, self.hidden_size), "cell")
        out, hidden = self._run(x, h0, c0, lengths)
        if batched and batch_first:
            out = out.transpose(0, 1)
        if not batched:
            out = out.squeeze(1)
            hidden = tuple(h.squeeze(1) for h in hidden) if lstm else hidden.squeeze(1)
        return out, hidden

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.proj_size != 0:
            s += f", proj_size={self.proj_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        if self.batch_first is not False:
            s += f", batch_first={self.batch_first}"
        if self.dropout != 0:
            s += f", dropout={self.dropout}"
        if self.bidirectional is not False:
            s += f", bidirectional={self.bidirectional}"
        return s


def _projected_lstm(xw, h, c, w_hh, b_hh, w_hr, mask, reverse):
    """An LSTM layer with proj_size, step by step: (output, h_n, c_n)."""
    seq_len = xw.shape[0]
    outs = [None] * seq_len
    for t in (range(seq_len - 1, -1, -1) if reverse else range(seq_len)):
        hn, cn = _lstm_step(xw[t], (h, c), w_hh, b_hh, w_hr)
        if mask is not None:
            live = mask[t].unsqueeze(-1)
            hn, cn = where(live, hn, h), where(live, cn, c)
        h, c = hn, cn
        outs[t] = h
    return stack(outs, 0), h, c


def _cat_directions(parts):
    return cat(parts, -1)                                      # (L, N, 2 * H_out)


def _args(names, args, kwargs):
    """Map positional constructor args onto keyword names (PyTorch's RNN signatures)."""
    if len(args) > len(names):
        raise TypeError(f"expected at most {len(names)} positional arguments, got {len(args)}")
    for n, a in zip(names, args):
        if n in kwargs:
            raise TypeError(f"got multiple values for argument '{n}'")
        kwargs[n] = a
    return kwargs


class RNN(RNNBase):
    """Elman RNN: h_t = tanh(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh) (or relu).

    >>> import cadenza as torch
    >>> out, h = torch.nn.RNN(4, 8, num_layers=2)(torch.randn(5, 3, 4))
    >>> out.shape, h.shape
    (cadenza.Size([5, 3, 8]), cadenza.Size([2, 3, 8]))
    """

    def __init__(self, *args, **kwargs):
        kw = _args(("input_size", "hidden_size", "num_layers", "nonlinearity", "bias",
                    "batch_first", "dropout", "bidirectional"), args, kwargs)
        self.nonlinearity = kw.pop("nonlinearity", "tanh")
        if self.nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"Unknown nonlinearity '{self.nonlinearity}'. Select from 'tanh' "
                             "or 'relu'.")
        mode = "RNN_TANH" if self.nonlinearity == "tanh" else "RNN_RELU"
        super().__init__(mode, **kw)

    def __setattr__(self, name, value):
        if name == "nonlinearity" and "_parameters" not in self.__dict__:
            self.__dict__[name] = value  # set before Module.__init__
            return
        super().__setattr__(name, value)


class LSTM(RNNBase):
    """Long short-term memory (Hochreiter & Schmidhuber, 1997), gates i, f, g, o; returns
    ``output, (h_n, c_n)``; ``proj_size`` adds the LSTMP projection.

    >>> import cadenza as torch
    >>> out, (h, c) = torch.nn.LSTM(4, 8, batch_first=True)(torch.randn(3, 5, 4))
    >>> out.shape
    cadenza.Size([3, 5, 8])
    """

    def __init__(self, *args, **kwargs):
        kw = _args(("input_size", "hidden_size", "num_layers", "bias", "batch_first",
                    "dropout", "bidirectional", "proj_size"), args, kwargs)
        super().__init__("LSTM", **kw)


class GRU(RNNBase):
    """Gated recurrent unit (Cho et al., 2014), gates r, z, n.

    >>> import cadenza as torch
    >>> out, h = torch.nn.GRU(4, 8, bidirectional=True)(torch.randn(5, 3, 4))
    >>> out.shape
    cadenza.Size([5, 3, 16])
    """

    def __init__(self, *args, **kwargs):
        kw = _args(("input_size", "hidden_size", "num_layers", "bias", "batch_first",
                    "dropout", "bidirectional"), args, kwargs)
        super().__init__("GRU", **kw)
