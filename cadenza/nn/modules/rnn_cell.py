"""Single-step recurrent cells: RNNCell, LSTMCell, GRUCell."""
from __future__ import annotations

import math

from ... import _creation as C
from ...errors import ShapeError, fmt_shape
from ...ops.activation import gru_cell, lstm_cell
from .. import functional as F, init
from ..parameter import Parameter
from .module import Module

__all__ = ["RNNCellBase", "RNNCell", "LSTMCell", "GRUCell"]


# one time step of each cell kind (the sequence layers in rnn.py run them too)
def _rnn_step(act):
    def step(xw, h, w_hh, b_hh):
        return act(xw + F.linear(h, w_hh, b_hh))
    return step


def _lstm_step(xw, state, w_hh, b_hh, w_hr=None):
    h, c = state
    gates = xw + F.linear(h, w_hh, b_hh)                     # (N, 4H)
    # c = sigmoid(f) c + sigmoid(i) tanh(g), h = sigmoid(o) tanh(c): one fused primitive
    h, c = lstm_cell(gates, c)
    if w_hr is not None:
        h = F.linear(h, w_hr)                                 # (N, proj_size)
    return h, c


def _gru_step(xw, h, w_hh, b_hh):
    # r, z = sigmoid(x_rz + h_rz), n = tanh(x_n + r h_n), h = (1 - z) n + z h: one primitive
    return gru_cell(xw, F.linear(h, w_hh, b_hh), h)


class RNNCellBase(Module):
    _gates = 1

    def __init__(self, input_size: int, hidden_size: int, bias: bool, device=None,
                 dtype=None):
        super().__init__()
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.bias = bias
        g = self._gates * hidden_size
        self.weight_ih = Parameter(C.empty(g, input_size, device=device, dtype=dtype))
        self.weight_hh = Parameter(C.empty(g, hidden_size, device=device, dtype=dtype))
        if bias:
            self.bias_ih = Parameter(C.empty(g, device=device, dtype=dtype))
            self.bias_hh = Parameter(C.empty(g, device=device, dtype=dtype))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        stdv = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0
        for w in self.parameters():
            init.uniform_(w, -stdv, stdv)

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        nl = getattr(self, "nonlinearity", "tanh")
        if nl != "tanh":
            s += f", nonlinearity={nl}"
        return s

    def _prep(self, input, hx, n_states):
        if input.ndim not in (1, 2):
            raise ValueError(f"{self._get_name()}: Expected input to be 1D or 2D, got "
                             f"{input.ndim}D instead")
        if input.shape[-1] != self.input_size:
            raise ShapeError(f"{self._get_name()}(input_size={self.input_size}): expected "
                             f"input.shape[-1] == {self.input_size}, got "
                             f"{fmt_shape(input.shape)}")
        batched = input.ndim == 2
        x = input if batched else input.unsqueeze(0)
        if hx is None:
            z = C.zeros(x.shape[0], self.hidden_size, dtype=x.dtype, device=x.device)
            states = (z,) * n_states
        else:
            states = tuple(hx) if n_states == 2 else (hx,)
            if not batched:
                states = tuple(s.unsqueeze(0) for s in states)
        for s in states:
            if tuple(s.shape) != (x.shape[0], self.hidden_size):
                raise ShapeError(f"{self._get_name()}: expected hidden size "
                                 f"{(x.shape[0], self.hidden_size)}, got {fmt_shape(s.shape)}")
        return x, states, batched


class RNNCell(RNNCellBase):
    """One Elman RNN step: h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh).

    >>> import cadenza as torch
    >>> torch.nn.RNNCell(4, 8)(torch.randn(3, 4)).shape
    cadenza.Size([3, 8])
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 nonlinearity: str = "tanh", device=None, dtype=None):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"Unknown nonlinearity: {nonlinearity}")
        super().__init__(input_size, hidden_size, bias, device, dtype)
        self.nonlinearity = nonlinearity

    def forward(self, input, hx=None):
        x, (h,), batched = self._prep(input, hx, 1)
        step = _rnn_step(F.tanh if self.nonlinearity == "tanh" else F.relu)
        h = step(F.linear(x, self.weight_ih, self.bias_ih), h, self.weight_hh, self.bias_hh)
        return h if batched else h.squeeze(0)


class LSTMCell(RNNCellBase):
    """One LSTM step; returns ``(h', c')``.

    >>> import cadenza as torch
    >>> h, c = torch.nn.LSTMCell(4, 8)(torch.randn(3, 4))
    """
    _gates = 4

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device=None,
                 dtype=None):
        super().__init__(input_size, hidden_size, bias, device, dtype)

    def forward(self, input, hx=None):
        x, states, batched = self._prep(input, hx, 2)
        h, c = _lstm_step(F.linear(x, self.weight_ih, self.bias_ih), states, self.weight_hh,
                          self.bias_hh)
        return (h, c) if batched else (h.squeeze(0), c.squeeze(0))


class GRUCell(RNNCellBase):
    """One GRU step.

    >>> import cadenza as torch
    >>> torch.nn.GRUCell(4, 8)(torch.randn(3, 4)).shape
    cadenza.Size([3, 8])
    """
    _gates = 3

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device=None,
                 dtype=None):
        super().__init__(input_size, hidden_size, bias, device, dtype)

    def forward(self, input, hx=None):
        x, (h,), batched = self._prep(input, hx, 1)
        h = _gru_step(F.linear(x, self.weight_ih, self.bias_ih), h, self.weight_hh,
                      self.bias_hh)
        return h if batched else h.squeeze(0)
