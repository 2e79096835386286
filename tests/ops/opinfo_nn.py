"""The op table's entries for the functional composites: every public function of
``cadenza.nn.functional`` (== ``cadenza.functional``) that ``torch.nn.functional`` also has,
and the top-level composites of ``cadenza``.

An entry named ``f`` or ``f:<variant>`` calls ``cadenza.nn.functional.f`` (the completeness test
in test_ops.py reads the part before the colon); ``f:F`` marks the functional form of a name
that ``cadenza.ops`` also has, ``f:top`` the top-level ``cadenza.f``. Functions left out are in
EXCLUDED_FUNCTIONAL with the reason. Imported by opinfo.py, which adds NN_OPS to the table.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as TF

import cadenza
import cadenza.nn.functional as F
from opinfo_base import Err, Maker, OpInfo, S

REDUCTIONS = ("mean", "sum", "none")


class TracedPrims:
    """The registered primitives a composite runs, read from traces of its float32 samples on
    first use (the C backend's tolerance and the primitive coverage test read ``prims``)."""

    def __init__(self, info, extra=()):
        self.info = info
        self.extra = tuple(extra)   # primitives only the backward runs
        self.names = None

    def _get(self):
        if self.names is None:
            from ops_helpers import convert_sample     # imports this table: import on use
            from cadenza.errors import TraceError
            from cadenza.graph.trace import trace
            names = set(self.extra)
            for s in self.info.samples(Maker("float32")):
                args, kwargs, _ = convert_sample(s, "cd")
                try:
                    g = trace(lambda: self.info.cd(*args, **kwargs))
                except TraceError:      # uncapturable sample: the others tell the primitives
                    continue
                names.update(n.op.name for n in g.nodes if not isinstance(n.op, str))
            self.names = tuple(sorted(names))
        return self.names

    def __iter__(self):
        return iter(self._get())

    def __len__(self):
        return len(self._get())

    def __repr__(self):
        return f"TracedPrims({self.info.name})"


def nn(name, samples, backward_prims=(), **kw):
    """An entry calling F.<base> and TF.<base>, where <base> is the name before any colon;
    ``backward_prims``: the gradient primitives its backward runs (the trace sees forwards)."""
    base = name.split(":")[0]
    kw.setdefault("cd", getattr(F, base))
    kw.setdefault("th", getattr(TF, base))
    return traced(OpInfo(name, samples, **kw), backward_prims)


def traced(info, backward_prims=()):
    info.prims = TracedPrims(info, backward_prims)
    return info


def _x(m):
    return m(3, 5)


# the kinks of relu, hardtanh, hardsigmoid, hardswish, the shrinks...: gradients there follow
# torch's conventions (after the first three samples, so finite differences skip them)
KINKS = [0.0, 3.0, -3.0, 6.0, -6.0, 1.0, -1.0, 0.5, -0.5]


def unary_nn(*extra, low=None, high=None):
    """Samples of an activation: a matrix, a scalar, an empty tensor, the kinks, then ``extra``
    argument tuples applied to the matrix."""
    def gen(m):
        out = [S(m(3, 5, low=low, high=high)), S(m(low=low, high=high)), S(m(0, 3)),
               S(np.array(KINKS, m.dtype))]
        return out + [S(m(3, 5, low=low, high=high), *a) for a in extra]
    return gen


def _inplace(fn):
    """``fn`` applied in place to a copy of its input (a leaf cannot be changed in place), so
    the gradient flows through the in-place op."""
    def call(x, *a, **k):
        return fn(x * 1, *a, **k)
    call.__name__ = fn.__name__
    return call


NN_OPS: list[OpInfo] = []


def add(*infos):
    NN_OPS.extend(infos)


# ----------------------------------------------------------------------------- activations
add(nn("relu6", unary_nn(low=-8, high=8)),
    nn("leaky_relu", unary_nn((0.2,))),
    nn("elu", unary_nn((1.3,))),
    nn("selu", unary_nn()),
    nn("celu", unary_nn((0.7,))),
    nn("silu", unary_nn()),
    nn("mish", unary_nn()),
    nn("softplus", lambda m: unary_nn((2.0, 3.0))(m) + [S(m(3, 5, low=-30, high=30), 0.5, 4.0)]),
    nn("softsign", unary_nn()),
    nn("hardtanh", unary_nn((-0.5, 1.5))),
    nn("hardsigmoid", unary_nn(low=-4, high=4)),
    nn("hardswish", unary_nn(low=-4, high=4)),
    nn("logsigmoid", lambda m: unary_nn()(m) + [S(m(4, low=-900, high=900))]),
    nn("threshold", lambda m: [S(_x(m), 0.5, -2.0), S(m(), -0.5, 3.0)]),
    nn("tanhshrink", unary_nn()),
    nn("softshrink", unary_nn((1.0,))),
    nn("hardshrink", unary_nn((1.0,))),
    nn("rrelu", unary_nn((0.1, 0.3))),                        # training=False: deterministic
    nn("softmin", lambda m: [S(_x(m), 1), S(_x(m), 0), S(m(2, 3, 2), -1)]),
    nn("glu", lambda m: [S(m(4, 3), 0), S(m(3, 4)), S(m(2, 2, 6), -1)]),
    nn("normalize", lambda m: [S(_x(m)), S(_x(m), 1.0, 0), S(_x(m), 3.0, 1),
                               S(m(2, 3, 4), dim=-1)]),
    nn("prelu", lambda m: [S(m(2, 3, 4), m(3)), S(m(2, 3, 4), m(1)), S(m(4, 3), m(3))],
       backward_prims=("prelu_kernel", "prelu_backward", "prelu_weight_backward")),  # (eager)
    nn("relu:F", unary_nn()), nn("sigmoid:F", unary_nn()), nn("tanh:F", unary_nn()),
    nn("gelu:F", lambda m: [S(_x(m)), S(_x(m), approximate="tanh"), S(m(0, 3))]),
    # the in-place forms (and ``inplace=True``) on an intermediate tensor
    nn("relu_", unary_nn(), cd=_inplace(F.relu_), th=_inplace(TF.relu_)),
    nn("elu_", unary_nn((1.3,)), cd=_inplace(F.elu_), th=_inplace(TF.elu_)),
    nn("celu_", unary_nn((0.7,)), cd=_inplace(F.celu_), th=_inplace(TF.celu_)),
    nn("selu_", unary_nn(), cd=_inplace(F.selu_), th=_inplace(TF.selu_)),
    nn("leaky_relu_", unary_nn((0.2,)), cd=_inplace(F.leaky_relu_), th=_inplace(TF.leaky_relu_)),
    nn("hardtanh_", unary_nn((-0.5, 1.5)), cd=_inplace(F.hardtanh_), th=_inplace(TF.hardtanh_)),
    nn("rrelu_", unary_nn((0.1, 0.3)), cd=_inplace(F.rrelu_), th=_inplace(TF.rrelu_)),
    nn("threshold_", lambda m: [S(_x(m), 0.5, -2.0)], cd=_inplace(F.threshold_),
       th=_inplace(TF.threshold_)),
    nn("relu:inplace", lambda m: [S(_x(m), True)], cd=_inplace(F.relu), th=_inplace(TF.relu)),
    nn("hardswish:inplace", lambda m: [S(_x(m, ), True)], cd=_inplace(F.hardswish),
       th=_inplace(TF.hardswish)),
    # top-level composites
    traced(OpInfo("softmax:top", lambda m: [S(_x(m), 1), S(_x(m), 0, dtype=cadenza.float64)],
                  cd=cadenza.softmax, th=lambda x, d, dtype=None: torch.softmax(
                      x, d, dtype=None if dtype is None else torch.float64))),
    traced(OpInfo("log_softmax:top", lambda m: [S(_x(m), 1)], cd=cadenza.log_softmax,
                  th=torch.log_softmax)),
    traced(OpInfo("clip:top", lambda m: [S(_x(m), -0.5, 0.5), S(_x(m), min=0.1)],
                  cd=cadenza.clip, th=torch.clip)),
    )

# dropout in evaluation mode (the identity; training mode is random: tests/functional)
for _n, _shape in (("dropout", (2, 3)), ("dropout1d", (2, 3, 4)), ("dropout2d", (2, 3, 2, 2)),
                   ("dropout3d", (1, 2, 2, 2, 2)), ("alpha_dropout", (2, 3)),
                   ("feature_alpha_dropout", (2, 3, 2, 2))):
    add(nn(_n + ":eval", lambda m, _shape=_shape: [S(m(*_shape), 0.3, False)]))

# ----------------------------------------------------------------------------- linear, conv
add(nn("linear:F", lambda m: [S(m(4, 3), m(5, 3), m(5)), S(m(3), m(5, 3))]),
    nn("bilinear", lambda m: [S(m(3, 2), m(3, 4), m(5, 2, 4), m(5)),
                              S(m(2, 2), m(2, 3), m(1, 2, 3))], check_limit=80),
    nn("conv1d", lambda m: [S(m(1, 2, 5), m(2, 2, 2)),
                            S(m(2, 3, 9), m(6, 3, 3), m(6)),
                            S(m(2, 3, 9), m(6, 3, 3), m(6), 2, 2, 2),
                            S(m(2, 3, 9), m(6, 1, 3), m(6), groups=3),
                            S(m(2, 3, 9), m(6, 3, 3), padding="same")],
       rtol=1e-4, check_limit=40),
    nn("conv2d", lambda m: [S(m(1, 2, 3, 3), m(2, 2, 2, 2)),
                            S(m(2, 4, 6, 5), m(6, 4, 3, 2), m(6)),
                            S(m(2, 4, 6, 5), m(6, 4, 3, 2), m(6), stride=2, padding=1),
                            S(m(2, 4, 6, 5), m(6, 4, 3, 2), stride=(2, 1), padding=(0, 2),
                              dilation=(1, 2)),
                            S(m(2, 4, 6, 5), m(6, 4, 3, 2), m(6), padding="same", dilation=2),
                            S(m(2, 4, 6, 5), m(6, 2, 3, 2), m(6), groups=2, padding=1),
                            S(m(3, 5, 5), m(2, 3, 2, 4), padding="same")],
       rtol=1e-4, check_limit=40, backward_prims=("conv2d_input_grad", "conv2d_weight_grad",
                                                       "conv2d_bias_grad")),
    nn("conv_transpose1d", lambda m: [S(m(1, 2, 3), m(2, 2, 2)),
                                      S(m(2, 4, 5), m(4, 2, 3), None, 2, 1, 1, 2)],
       rtol=1e-4, check_limit=40),
    nn("conv_transpose2d", lambda m: [S(m(1, 2, 2, 2), m(2, 1, 2, 2), stride=2),
                                      S(m(2, 4, 3, 4), m(4, 3, 3, 2), m(3)),
                                      S(m(2, 4, 3, 4), m(4, 3, 3, 2), m(3), stride=2, padding=1,
                                        output_padding=1),
                                      S(m(2, 4, 3, 4), m(4, 3, 3, 2), m(6), stride=(2, 3),
                                        dilation=2, groups=2)],
       rtol=1e-4, check_limit=40),
    nn("conv3d", lambda m: [S(m(1, 1, 2, 3, 2), m(1, 1, 2, 2, 2)),
                            S(m(1, 2, 3, 3, 3), m(2, 2, 2, 2, 2)),
                            S(m(2, 4, 4, 5, 3), m(6, 2, 3, 2, 2), m(6), 2, 1, 1, 2),
                            S(m(1, 2, 5, 4, 4), m(2, 2, 2, 3, 2), stride=(1, 2, 1),
                              padding=(2, 0, 1), dilation=(2, 1, 1)),
                            S(m(2, 4, 3, 4), m(3, 2, 2, 3, 2), padding="same")],
       rtol=1e-4, check_limit=40),
    nn("conv_transpose3d", lambda m: [S(m(1, 2, 2, 2, 2), m(2, 1, 2, 2, 2), stride=2),
                                      S(m(2, 4, 3, 2, 3), m(4, 2, 2, 3, 2), m(4), 2, 1, 1, 2),
                                      S(m(1, 2, 2, 3, 2), m(2, 3, 3, 2, 2), m(3),
                                        stride=(3, 1, 2), dilation=(2, 1, 1),
                                        padding=(1, 0, 1), output_padding=(1, 0, 1))],
       rtol=1e-4, check_limit=40),
    nn("conv_tbc", lambda m: [S(m(5, 2, 3), m(2, 3, 4), m(4)), S(m(4, 1, 2), m(3, 2, 2), m(2), 1)],
       th=torch.conv_tbc, check_limit=40),
    )

# ----------------------------------------------------------------------------- pooling
_TIES = np.maximum(np.random.default_rng(5).standard_normal((1, 2, 4, 4)), 0)  # tied zeros
add(nn("max_pool1d", lambda m: [S(m(1, 2, 5), 2), S(m(2, 3, 9), 3, 2, 1, return_indices=True),
                                S(m(3, 9), 2, ceil_mode=True),
                                S(m(2, 3, 9), 3, 1, 1, 2)]),
    nn("max_pool2d:indices", lambda m: [S(m(1, 2, 4, 4), 2, return_indices=True),
                                        S(m(2, 3, 7, 6), 3, 2, 1, return_indices=True),
                                        S(m(2, 3, 7, 6), (2, 3), (1, 2), 0, (2, 1),
                                          return_indices=True),
                                        S(m(2, 3, 7, 6), 2, 2, 1, ceil_mode=True)],
       check_limit=32),
    # tied maxima (a ReLU output): the gradient goes to the first one, as torch's; no finite
    # differences (not differentiable at a tie)
    nn("max_pool2d:ties", lambda m: [S(_TIES.astype(m.dtype), 2),
                                     S(_TIES.astype(m.dtype), 3, 1, 1, return_indices=True)],
       gradcheck=False),
    nn("avg_pool1d", lambda m: [S(m(1, 2, 6), 2), S(m(2, 3, 8), 3, 2, 1, True, False),
                                S(m(3, 8), 3, 2, 1)]),
    nn("avg_pool2d", lambda m: [S(m(1, 2, 4, 4), 2), S(m(2, 3, 7, 6), 3, 2, 1),
                                S(m(2, 3, 7, 6), 3, 2, 1, count_include_pad=False),
                                S(m(2, 3, 7, 6), 3, 2, 1, ceil_mode=True),
                                S(m(2, 3, 7, 6), 3, 2, 1, True, False),
                                S(m(2, 3, 7, 6), (2, 3), divisor_override=5)], check_limit=32),
    nn("adaptive_avg_pool1d", lambda m: [S(m(1, 2, 7), 3), S(m(2, 3, 7), 1), S(m(3, 8), 4)]),
    nn("adaptive_avg_pool2d", lambda m: [S(m(1, 2, 4, 3), (3, 2)), S(m(2, 3, 7, 6), (2, 3)),
                                         S(m(2, 3, 7, 6), 1), S(m(2, 3, 7, 6), (None, 4))]),
    nn("adaptive_max_pool1d", lambda m: [S(m(1, 2, 7), 3), S(m(2, 3, 7), 3, True)]),
    nn("adaptive_max_pool2d", lambda m: [S(m(1, 2, 4, 3), (3, 2)),
                                         S(m(2, 3, 7, 6), (2, 3), True), S(m(3, 4, 6), 2)]),
    )



def _unpool_idx(lead, out, k):
    """Valid flat indices of max_pool's winners: one random position in each k window."""
    rng = np.random.default_rng(len(out))
    in_sp = [o * kk for o, kk in zip(out, k)]
    grids = np.meshgrid(*[np.arange(o) for o in out], indexing="ij")
    flat = 0
    for i, (g, kk) in enumerate(zip(grids, k)):
        pos = g * kk + rng.integers(0, kk, size=(*lead, *out))
        flat = flat * in_sp[i] + pos
    return flat.astype(np.int64)


_U = np.random.default_rng(9).random((2, 3, 3))                  # fractional pool samples
add(nn("max_pool3d", lambda m: [S(m(1, 1, 2, 2, 4), 2),
                                S(m(1, 2, 4, 4, 4), 2), S(m(2, 2, 5, 4, 6), 3, 2, 1),
                                S(m(2, 3, 4, 5), (2, 3, 2), (1, 2, 2), 0, (2, 1, 1),
                                  return_indices=True),
                                S(m(1, 2, 5, 5, 4), 2, 2, ceil_mode=True)], check_limit=40),
    nn("max_pool3d_with_indices", lambda m: [S(m(1, 1, 2, 2, 4), 2), S(m(2, 3, 4, 5), 3, 2, 1)],
       check_limit=40),
    nn("avg_pool3d", lambda m: [S(m(1, 1, 2, 2, 4), 2),
                                S(m(1, 2, 4, 4, 4), 2), S(m(2, 2, 5, 4, 6), 3, 2, 1),
                                S(m(2, 2, 5, 4, 6), 3, 2, 1, count_include_pad=False),
                                S(m(2, 3, 5, 4), 2, 2, 1, True),
                                S(m(1, 2, 4, 4, 4), 2, divisor_override=3)], check_limit=40),
    nn("adaptive_avg_pool3d", lambda m: [S(m(1, 1, 2, 3, 4), (1, 2, 2)),
                                         S(m(1, 2, 4, 5, 3), (2, 3, 2)), S(m(2, 3, 4, 5), 1),
                                         S(m(1, 2, 4, 5, 3), (None, 2, 3))]),
    nn("adaptive_max_pool3d", lambda m: [S(m(1, 1, 2, 3, 4), (1, 2, 2)),
                                         S(m(1, 2, 4, 5, 3), (2, 3, 2)),
                                         S(m(2, 3, 4, 5), 2, True)], check_limit=40),
    nn("adaptive_max_pool3d_with_indices", lambda m: [S(m(1, 1, 2, 3, 4), (1, 2, 2))]),
    nn("max_pool1d_with_indices", lambda m: [S(m(2, 1, 9), 3, 2, 1)]),
    nn("max_pool2d_with_indices", lambda m: [S(m(1, 1, 5, 4), 3, 2, 1)]),
    nn("adaptive_max_pool1d_with_indices", lambda m: [S(m(2, 1, 7), 3)]),
    nn("adaptive_max_pool2d_with_indices", lambda m: [S(m(1, 1, 5, 4), (2, 3))]),
    nn("lp_pool1d", lambda m: [S(m(2, 1, 8, low=0.1, high=2), 2, 3, 2),
                               S(m(2, 3, 8, low=0.1, high=2), 1.5, 2)]),
    nn("lp_pool2d", lambda m: [S(m(2, 3, 6, 5, low=0.1, high=2), 2, 2),
                               S(m(1, 2, 6, 5, low=0.1, high=2), 3, (2, 3), 1),
                               S(m(1, 2, 5, 5, low=0.1, high=2), 2, 2, 2, True),
                               S(m(1, 2, 4, 4), float("inf"), 2)], check_limit=40),
    nn("lp_pool3d", lambda m: [S(m(1, 1, 2, 2, 4, low=0.1, high=2), 2, 2),
                               S(m(1, 2, 4, 4, 4, low=0.1, high=2), 2, 2)], check_limit=40),
    nn("max_unpool1d", lambda m: [S(m(2, 3, 4), _unpool_idx((2, 3), (4,), (2,)), 2).const(1),
                                  S(m(2, 3, 4), _unpool_idx((2, 3), (4,), (2,)), 2,
                                    output_size=(9,)).const(1)], check_limit=60),
    nn("max_unpool2d", lambda m: [S(m(1, 2, 2, 3), _unpool_idx((1, 2), (2, 3), (2, 2)), 2)
                                  .const(1),
                                  S(m(2, 2, 3), _unpool_idx((2,), (2, 3), (3, 2)), (3, 2))
                                  .const(1)], check_limit=60),
    nn("max_unpool3d", lambda m: [S(m(1, 2, 2, 2, 1), _unpool_idx((1, 2), (2, 2, 1), (2, 2, 2)),
                                    2).const(1)]),
    nn("fractional_max_pool2d", lambda m: [
        S(m(1, 1, 5, 4), 2, output_size=(3, 2), _random_samples=_U[:1, :1, :2].astype(m.dtype))
        .const("_random_samples"),
        S(m(2, 3, 7, 6), 2, output_size=(3, 4), _random_samples=_U[:, :, :2].astype(m.dtype))
        .const("_random_samples"),
        S(m(2, 3, 7, 6), (2, 3), output_ratio=(0.5, 0.5), return_indices=True,
          _random_samples=_U[:, :, :2].astype(m.dtype)).const("_random_samples")],
       check_limit=48),
    nn("fractional_max_pool3d", lambda m: [
        S(m(1, 1, 3, 3, 4), 1, output_size=(2, 2, 2), _random_samples=_U[:1, :1].astype(m.dtype))
        .const("_random_samples"),
        S(m(2, 3, 5, 4, 6), 2, output_size=(3, 2, 4), _random_samples=_U.astype(m.dtype))
        .const("_random_samples")], check_limit=48),
    nn("fractional_max_pool2d_with_indices", lambda m: [
        S(m(1, 1, 5, 4), 2, output_size=(3, 2), _random_samples=_U[:1, :1, :2].astype(m.dtype))
        .const("_random_samples")], check_limit=48),
    nn("fractional_max_pool3d_with_indices", lambda m: [
        S(m(1, 1, 3, 3, 4), 1, output_size=(2, 2, 2), _random_samples=_U[:1, :1].astype(m.dtype))
        .const("_random_samples")], check_limit=48),
    )

# ----------------------------------------------------------------------------- resampling
_INTERP = [dict(scale_factor=2), dict(size=(5, 3)), dict(scale_factor=(1.5, 0.5)),
           dict(size=(7, 4), mode="nearest-exact"), dict(scale_factor=2, mode="bilinear"),
           dict(size=(5, 3), mode="bilinear"),
           dict(size=(5, 7), mode="bilinear", align_corners=True),
           dict(scale_factor=1.7, mode="bilinear", recompute_scale_factor=True),
           dict(size=(2, 3), mode="area"), dict(scale_factor=2, mode="bicubic"),
           dict(size=(5, 7), mode="bicubic", align_corners=True),
           dict(size=(3, 2), mode="bicubic"),
           dict(size=(3, 2), mode="bilinear", antialias=True),
           dict(scale_factor=0.5, mode="bicubic", antialias=True),
           dict(size=(2, 3), mode="bicubic", align_corners=True, antialias=True),
           dict(size=(6, 7), mode="bilinear", antialias=True),
           dict(size=(3, 2), mode="lanczos", antialias=True)]
add(nn("interpolate", lambda m: [S(m(1, 1, 2, 3), scale_factor=2, mode="bilinear")] +
       [S(m(2, 3, 4, 5), **kw) for kw in _INTERP] +
       [S(m(2, 3, 4), size=7, mode="linear"),
        S(m(1, 2, 2, 3, 2), scale_factor=2, mode="trilinear"),
        S(m(1, 2, 2, 3, 2), size=(3, 5, 1))]),
    nn("upsample", lambda m: [S(m(1, 1, 2, 3), scale_factor=2),
                              S(m(2, 3, 4, 5), (5, 7), mode="bilinear", align_corners=True)]),
    nn("upsample_nearest", lambda m: [S(m(1, 1, 2, 3), scale_factor=2), S(m(2, 3, 4, 5), (5, 3))]),
    nn("upsample_bilinear", lambda m: [S(m(1, 1, 2, 3), scale_factor=2),
                                       S(m(2, 3, 4, 5), (5, 3))]),
    nn("affine_grid", lambda m: [S(m(2, 2, 3), (2, 3, 4, 5)),
                                 S(m(1, 2, 3), (1, 1, 3, 2), align_corners=True),
                                 S(m(1, 3, 4), (1, 2, 2, 3, 2))]),
    nn("grid_sample", lambda m: [
        S(m(1, 1, 3, 2), m(1, 2, 2, 2, low=-1.2, high=1.2)),
        S(m(2, 2, 4, 5), m(2, 3, 2, 2, low=-1.2, high=1.2), align_corners=True),
        S(m(2, 2, 4, 5), m(2, 3, 2, 2, low=-1.5, high=1.5), padding_mode="border"),
        S(m(2, 2, 4, 5), m(2, 3, 2, 2, low=-2.5, high=2.5), padding_mode="reflection"),
        S(m(2, 2, 4, 5), m(2, 3, 2, 2, low=-2.5, high=2.5), padding_mode="reflection",
          align_corners=True)], check_limit=30),
    nn("grid_sample:bicubic", lambda m: [
        S(m(1, 1, 4, 4), m(1, 3, 2, 2, low=-1.2, high=1.2), mode="bicubic", padding_mode=p,
          align_corners=ac) for p in ("zeros", "border", "reflection") for ac in (False, True)],
       check_limit=80),
    nn("grid_sample:3d", lambda m: [
        S(m(1, 1, 3, 3, 2), m(1, 2, 2, 2, 3, low=-1.2, high=1.2), padding_mode=p,
          align_corners=ac) for p in ("zeros", "border", "reflection") for ac in (False, True)],
       check_limit=80),
    # nearest: piecewise constant in the grid (no finite differences across a rounding)
    nn("grid_sample:nearest", lambda m: [
        S(m(1, 2, 3, 4), m(1, 3, 2, 2, low=-1.2, high=1.2), mode="nearest", padding_mode=p)
        .const(1) for p in ("zeros", "border", "reflection")] + [
        S(m(1, 2, 3, 2, 4), m(1, 2, 2, 2, 3, low=-1.2, high=1.2), mode="nearest", padding_mode=p)
        .const(1) for p in ("zeros", "border", "reflection")], check_limit=40),
    nn("pixel_shuffle", lambda m: [S(m(1, 4, 2, 3), 2), S(m(2, 8, 3, 4), 2), S(m(9, 2, 1), 3)]),
    nn("pixel_unshuffle", lambda m: [S(m(1, 1, 4, 2), 2), S(m(2, 1, 4, 6), 2)]),
    nn("channel_shuffle", lambda m: [S(m(1, 4, 2, 3), 2), S(m(2, 6, 3), 3), S(m(2, 6, 1), 6)],
       errors=(Err(lambda m: S(m(2, 6), 3), RuntimeError),
               Err(lambda m: S(m(2, 5, 2), 3), RuntimeError))),
    # torch has no derivative for native_channel_shuffle: forward only
    nn("native_channel_shuffle", lambda m: [S(m(2, 6, 3, 2), 3)], grad=False),
    )

# ----------------------------------------------------------------------------- embedding
add(nn("embedding", lambda m: [S(np.array([[0, 2, 4], [4, 4, 1]]), m(5, 3)),
                               S(np.array(3), m(5, 3))]),
    # torch's gradient rules that are not the derivative (no gradcheck): padding_idx rows get
    # no gradient, scale_grad_by_freq divides by the index counts
    nn("embedding:grad_rules", lambda m: [
        S(np.array([[0, 2, 4], [4, 4, 1]]), m(5, 3), padding_idx=4),
        S(np.array([0, 2, 2, 1]), m(4, 3), scale_grad_by_freq=True)], gradcheck=False))

_BAGS = np.array([1, 2, 4, 0, 4, 3, 2, 4])
add(nn("embedding_bag", lambda m: [
        S(np.array([[0, 2, 4], [4, 4, 1]]), m(5, 3), mode=md) for md in ("sum", "mean", "max")]
       + [S(np.array([[0, 2, 4], [4, 3, 1]]), m(5, 3), mode="mean", padding_idx=4),
          S(np.array([[0, 2], [4, 1]]), m(5, 3), mode="sum", per_sample_weights=m(2, 2))],
       check_limit=30),
    # offsets give the bags' extents (values read on the host: not compiled)
    nn("embedding_bag:offsets", lambda m: [
        S(_BAGS, m(5, 3), np.array([0, 3, 3, 6]), mode=md) for md in ("sum", "mean", "max")]
       + [S(_BAGS, m(5, 3), np.array([0, 2, 5, 8]), mode="sum", include_last_offset=True),
          S(_BAGS, m(5, 3), np.array([0, 2, 5]), mode="mean", padding_idx=4),
          S(_BAGS, m(5, 2), np.array([0, 5]), mode="sum", per_sample_weights=m(8))],
       check_limit=30),
    )

# ----------------------------------------------------------------------------- normalisation
add(nn("batch_norm", lambda m: [
        S(m(4, 3), None, None, m(3), m(3), True, 0.3, 1e-4),
        S(m(3, 2, 5), None, None, training=True),
        S(m(2, 3, 2, 2), np.zeros(3, m.dtype), np.ones(3, m.dtype), m(3), m(3), True, 0.3,
          1e-4).const(1, 2),
        S(m(2, 3, 2, 2), m(3), m(3, low=0.5, high=2), m(3), m(3)).const(1, 2),
        S(m(4, 3), m(3), m(3, low=0.5, high=2)).const(1, 2),
        S(m(3, 4, 3, 5), None, None, m(4), None, True),
        S(m(3, 4, 3, 5), None, None, None, m(4), True)], rtol=1e-4,
       backward_prims=("batch_norm_backward", "batch_norm_param_grad")),
    nn("group_norm", lambda m: [S(m(2, 4, 3), 2), S(m(2, 4, 3, 2), 2, m(4), m(4)),
                                S(m(2, 4, 3, 2), 4, m(4), m(4), 1e-3)], rtol=1e-4),
    nn("instance_norm", lambda m: [S(m(2, 3, 4)), S(m(2, 4, 3, 2), weight=m(4), bias=m(4)),
                                   S(m(2, 4, 3, 2), np.zeros(4, m.dtype), np.ones(4, m.dtype),
                                     m(4), m(4)).const(1, 2),
                                   S(m(2, 4, 5), m(4), m(4, low=0.5, high=2),
                                     use_input_stats=False).const(1, 2)], rtol=1e-4),
    nn("local_response_norm", lambda m: [S(m(2, 5, 3), 3), S(m(2, 5, 3), 2, 1e-2),
                                         S(m(1, 4, 2, 2), 3, 1e-1, 0.5, 2.0)], rtol=1e-4),
    nn("layer_norm:F", lambda m: [S(m(2, 3, 4), (3, 4), eps=1e-3)], cd=F.layer_norm,
       th=TF.layer_norm, rtol=1e-4),
    )

# ----------------------------------------------------------------------------- attention
_MASK = np.array([[True, False, True, False], [False] * 4, [True, True, False, True]])
add(nn("scaled_dot_product_attention:mask", lambda m: [
        S(m(1, 1, 2, 2), m(1, 1, 3, 2), m(1, 1, 3, 2), attn_mask=_MASK[:2, :3]),
        S(m(2, 2, 3, 5), m(2, 2, 4, 5), m(2, 2, 4, 5), attn_mask=_MASK),
        S(m(2, 2, 3, 5), m(2, 2, 4, 5), m(2, 2, 4, 5), attn_mask=m(2, 1, 3, 4)),
        S(m(2, 4, 3, 5), m(2, 2, 3, 5), m(2, 2, 3, 5), is_causal=True, enable_gqa=True),
        S(m(2, 2, 3, 5), m(2, 2, 4, 5), m(2, 2, 4, 5), scale=0.3)], rtol=1e-4, check_limit=40),
    # float32 runs the fused primitive (cadenza/ops/attention.py; float64 the composite)
    nn("scaled_dot_product_attention", lambda m: [
        S(m(1, 2, 3, 2), m(1, 2, 3, 2), m(1, 2, 3, 2), is_causal=True),
        S(m(1, 2, 1, 3), m(1, 1, 4, 3), m(1, 1, 4, 2), enable_gqa=True),
        S(m(2, 2, 5, 4), m(2, 2, 5, 4), m(2, 2, 5, 3), is_causal=True),
        S(m(1, 3, 1, 4), m(1, 3, 6, 4), m(1, 3, 6, 4)),
        S(m(2, 9, 6), m(2, 9, 6), m(2, 9, 6), is_causal=True, scale=0.5),
        S(m(2, 4, 3, 5), m(2, 2, 4, 5), m(2, 2, 4, 5), enable_gqa=True),
        S(m(2, 2, 3, 5), m(2, 2, 4, 5), m(2, 2, 4, 5), attn_mask=_MASK)], rtol=1e-4,
       check_limit=40, backward_prims=("scaled_dot_product_attention_backward",)),
    # (query, key, value, E, heads, in_proj_weight, in_proj_bias, bias_k, bias_v,
    #  add_zero_attn, dropout_p, out_proj_weight, out_proj_bias)
    nn("multi_head_attention_forward", lambda m: [
        S(m(1, 1, 2), m(2, 1, 2), m(2, 1, 2), 2, 1, m(6, 2), None, None, None, False, 0.0,
          m(2, 2), None),
        S(m(3, 2, 4), m(5, 2, 4), m(5, 2, 4), 4, 2, m(12, 4), m(12), None, None, False, 0.0,
          m(4, 4), m(4),
          key_padding_mask=np.array([[True, False, False, False, True], [False] * 5]),
          attn_mask=m(3, 5), average_attn_weights=False),
        S(m(3, 4), m(5, 4), m(5, 4), 4, 1, m(12, 4), m(12), m(1, 1, 4), m(1, 1, 4), True, 0.0,
          m(4, 4), m(4), attn_mask=np.triu(np.ones((3, 5), bool), 1)),
        S(m(3, 2, 4), m(5, 2, 3), m(5, 2, 2), 4, 2, None, m(12), None, None, False, 0.0,
          m(4, 4), m(4), use_separate_proj_weight=True,
          q_proj_weight=m(4, 4), k_proj_weight=m(4, 3), v_proj_weight=m(4, 2))],
       rtol=1e-4, check_limit=80))


# ----------------------------------------------------------------------------- losses
def _probs(m, *shape):
    p = m(*shape, low=0.05, high=1)
    return p / p.sum(-1, keepdims=True)


def _sign(m, *shape):
    return np.where(m(*shape) > 0, 1.0, -1.0).astype(m.dtype)


def _bits(m, *shape):
    return (m(*shape) > 0).astype(m.dtype)


def _loss(name, pair, extra=(), **kw):
    """A pairwise loss: ``pair(m) -> (input, target)`` under every reduction; the target
    never requires grad unless ``target_grad``."""
    target_grad = kw.pop("target_grad", False)

    def gen(m):
        out = []
        for r in REDUCTIONS:
            s = S(*pair(m), reduction=r)
            out.append(s if target_grad else s.const(1))
        return out + [s(m) for s in extra]
    return nn(name, gen, **kw)


_W5 = np.array([0.5, 1.0, 2.0, 1.5, 0.7])
add(_loss("mse_loss", lambda m: (m(3, 4), m(3, 4)), target_grad=True,
          extra=(lambda m: S(m(3, 4), m(3, 4), weight=m(3, 4, low=0, high=2)).const("weight"),)),
    _loss("l1_loss", lambda m: (m(3, 4), m(3, 4)), target_grad=True,
          extra=(lambda m: S(m(3, 4), m(3, 4), weight=m(3, 4, low=0, high=2)).const("weight"),)),
    _loss("smooth_l1_loss", lambda m: (m(3, 4), m(3, 4)), target_grad=True,
          extra=(lambda m: S(m(3, 4), m(3, 4), beta=0.7),
                 lambda m: S(m(3, 4), m(3, 4), beta=0.0))),
    _loss("huber_loss", lambda m: (m(3, 4), m(3, 4)), target_grad=True,
          extra=(lambda m: S(m(3, 4), m(3, 4), delta=0.8),
                 lambda m: S(m(3, 4), m(3, 4), weight=m(3, 4, low=0, high=2), delta=0.8)
                 .const("weight"))),
    # torch's gradient w.r.t. a zero target is NaN (log 0): targets are constants
    _loss("kl_div", lambda m: (m(3, 4), m(3, 4, low=0, high=1)),
          extra=(lambda m: S(m(3, 4), m(3, 4), log_target=True),
                 lambda m: S(m(3, 4), m(3, 4, low=0, high=1), reduction="batchmean").const(1),
                 lambda m: S(m(3, 4), np.array([[0.0, 0.5, 1.0, 0.2]] * 3, m.dtype)).const(1))),
    _loss("soft_margin_loss", lambda m: (m(3, 4), _sign(m, 3, 4))),
    _loss("poisson_nll_loss", lambda m: (m(3, 4), m(3, 4, low=0, high=3)), target_grad=True,
          extra=(lambda m: S(m(3, 4, low=0.1, high=3), m(3, 4, low=0, high=3), False, True),)),
    _loss("binary_cross_entropy_with_logits", lambda m: (m(3, 4) * 10, _bits(m, 3, 4)),
          extra=(lambda m: S(m(3, 4) * 30, _bits(m, 3, 4), m(4, low=0, high=2),
                             pos_weight=m(4, low=0, high=2)).const(1, 2, "pos_weight"),)),
    _loss("multilabel_soft_margin_loss", lambda m: (m(3, 4), _bits(m, 3, 4)),
          extra=(lambda m: S(m(3, 4), _bits(m, 3, 4), m(4, low=0, high=2)).const(1, 2),)),
    _loss("binary_cross_entropy", lambda m: (m(3, 4, low=0.05, high=0.95),
                                             np.concatenate([[0.3], _bits(m, 11)])
                                             .reshape(3, 4).astype(m.dtype)),
          extra=(lambda m: S(m(3, 4, low=0.05, high=0.95), _bits(m, 3, 4),
                             m(3, 4, low=0, high=2)).const(1, 2),
                 lambda m: S(m(3, 4, low=0.05, high=0.95), _bits(m, 3, 4),
                             m(4, low=0, high=2), reduction="sum").const(1, 2))),
    nn("nll_loss", lambda m: [
        S(np.log(m(4, 5, low=0.1, high=2)), np.array([0, 4, 2, 2]), _W5.astype(m.dtype),
          ignore_index=2, reduction=r).const(2) for r in REDUCTIONS] + [
        S(m(2, 3, 2, 2), np.array([[[0, 1], [2, -100]], [[1, 1], [0, 2]]]), reduction=r)
        for r in REDUCTIONS] + [   # no class weights: the fused primitive (eager)
        S(np.log(m(4, 5, low=0.1, high=2)), np.array([0, 4, 2, 2]), ignore_index=i,
          reduction=r) for r in REDUCTIONS for i in (2, -100)] + [
        S(np.log(m(5, low=0.1, high=2)), np.array(3), reduction=r) for r in REDUCTIONS] + [
        S(m(3, 4), np.array([1, 1, 1]), ignore_index=1)],   # every target ignored: NaN
       backward_prims=("nll_loss", "nll_loss_backward"), check_limit=32),
    nn("cross_entropy:more", lambda m: [
        S(m(2, 3, 2, 2), np.array([[[0, 1], [2, -100]], [[1, 1], [0, 2]]]),
          np.array([0.3, 1.0, 2.0], m.dtype), reduction=r, label_smoothing=0.2).const(2)
        for r in REDUCTIONS] + [
        S(m(4, 5), np.array([0, 4, 2, 2]), _W5.astype(m.dtype), ignore_index=4,
          label_smoothing=0.2).const(2),
        S(m(4, 5), _probs(m, 4, 5)).const(1),
        S(m(4, 5), _probs(m, 4, 5), label_smoothing=0.3, reduction="sum").const(1),
        S(m(4, 5), _probs(m, 4, 5), _W5.astype(m.dtype), reduction="none").const(1, 2),
        S(m(5), np.array(3)), S(m(1, 3), np.array([1]), label_smoothing=0.1)],
       cd=F.cross_entropy, th=TF.cross_entropy, rtol=1e-4),
    nn("gaussian_nll_loss", lambda m: [
        S(m(3, 4), m(3, 4), m(3, 4, low=0.1, high=2), full=True),
        S(m(3, 4), m(3, 4), m(3, 1, low=0.1, high=2), reduction="sum"),
        S(m(3, 4), m(3, 4), np.array([[1e-9, 1, 2, 3]] * 3, m.dtype),
          reduction="none").const(2)], check_limit=40),
    nn("cosine_embedding_loss", lambda m: [
        S(m(4, 3), m(4, 3), np.array([1.0, -1.0, 1.0, -1.0], m.dtype), 0.1,
          reduction=r).const(2) for r in ("mean", "none")], check_limit=30),
    nn("margin_ranking_loss", lambda m: [
        S(m(4), m(4), np.array([1.0, -1.0, 1.0, -1.0], m.dtype), 0.2, reduction=r).const(2)
        for r in ("mean", "none")]),
    nn("triplet_margin_loss", lambda m: [
        S(m(4, 3), m(4, 3), m(4, 3), swap=True, reduction=r) for r in ("mean", "none")] + [
        S(m(2, 3), m(2, 3), m(2, 3), 0.5, 1)]),
    nn("linear_cross_entropy", lambda m: [
        S(m(4, 3), m(5, 3), np.array([0, 4, 2, 1]), linear_bias=m(5), reduction=r).const(2)
        for r in REDUCTIONS] + [
        S(m(4, 3), m(5, 3), np.array([0, 4, 2, 1]), ignore_index=2, label_smoothing=0.1,
          weight=m(5, low=0.5, high=2)).const(2, "weight"),
        S(m(2, 3), m(4, 2, 3), np.array([[0, 3], [2, 1]])).const(2)], check_limit=40),
    nn("multi_margin_loss", lambda m: [
        S(m(4, 5), np.array([1, 0, 4, 2]), reduction=r).const(1) for r in REDUCTIONS] + [
        S(m(4, 5), np.array([1, 0, 4, 2]), 2, 0.7, m(5, low=0.1, high=2)).const(1, 4),
        S(m(5), np.array(3)).const(1)]),
    nn("multilabel_margin_loss", lambda m: [
        S(m(3, 4), np.array([[3, 0, -1, 1], [1, 2, 0, 3], [-1, 0, 0, 0]]), reduction=r)
        .const(1) for r in REDUCTIONS] + [S(m(4), np.array([2, -1, 0, 0])).const(1)]),
    nn("triplet_margin_with_distance_loss", lambda m: [
        S(m(4, 3), m(4, 3), m(4, 3), swap=True, reduction=r) for r in ("mean", "none")] + [
        S(m(2, 3), m(2, 3), m(2, 3), margin=0.5)]),
    # through log_softmax: torch's CTC gradient w.r.t. log_probs is only right composed with it
    nn("ctc_loss", lambda m: [
        S(m(6, 2, 4), np.array([[1, 2, 2], [3, 1, 1]]), np.array([6, 5]), np.array([3, 2]),
          reduction=r).const(1, 2, 3) for r in REDUCTIONS] + [
        S(m(5, 2, 4), np.array([1, 2, 0]), np.array([5, 4]), np.array([2, 1]), blank=3).const(
            1, 2, 3),
        S(m(5, 4), np.array([1, 2]), np.array(5), np.array(2)).const(1, 2, 3)],
       cd=lambda x, *a, **k: F.ctc_loss(F.log_softmax(x, -1), *a, **k),
       th=lambda x, *a, **k: TF.ctc_loss(TF.log_softmax(x, -1), *a, **k),
       rtol=1e-4, check_limit=48),
    nn("hinge_embedding_loss", lambda m: [
        S(m(4), np.array([1.0, -1.0, 1.0, -1.0], m.dtype), reduction=r).const(1)
        for r in ("mean", "none")]),
    )

# ----------------------------------------------------------------------------- similarity
add(nn("cosine_similarity", lambda m: [S(m(3, 4), m(3, 4)), S(m(3, 4), m(1, 4), dim=0),
                                       S(m(2, 3), m(2, 3), 1, 0.5)]),
    nn("pdist", lambda m: [S(m(4, 3)), S(m(5, 2), 1.0), S(m(3, 4), 3.5), S(m(1, 3))]),
    nn("pairwise_distance", lambda m: [S(m(3, 4), m(3, 4)), S(m(3, 4), m(3, 4), 1.0, keepdim=True),
                                       S(m(3, 4), m(4), 3.0)]),
    )

# ----------------------------------------------------------------------------- exclusions
# Public functions of cadenza.nn.functional without a table entry, each with the reason.
EXCLUDED_FUNCTIONAL = {
    "gumbel_softmax": "random in every mode (Gumbel noise); distribution tested in "
                      "tests/functional/test_functional_activation.py",
}


from cadenza import _torch_functions  # noqa: E402  (its public names are excluded below)
from cadenza import _torch_extras  # noqa: E402  (its public names are excluded below)
from cadenza import _torch_native  # noqa: E402  (its public names are excluded below)


def _each(reason, names):
    return {n: reason for n in names.split()}


# Public functions of the top level ``cadenza`` that are neither in cadenza.ops nor an entry
# ``<name>:top`` above: not ops on tensors' values, each group with the reason.
EXCLUDED_TOP_LEVEL = {
    **_each("creates a tensor (tests/ops/test_tensor_api.py)",
            "arange as_tensor asarray empty empty_like eye from_dlpack from_numpy frombuffer "
            "full full_like linspace logspace ones ones_like range tensor zeros zeros_like"),
    **_each("random (tests/ops/test_tensor_api.py, tests/functional)",
            "bernoulli binomial dropout multinomial normal poisson rand rand_like randint "
            "randint_like "
            "randn randn_like randperm manual_seed seed initial_seed get_rng_state "
            "set_rng_state"),
    **_each("global settings", "are_deterministic_algorithms_enabled use_deterministic_algorithms "
            "get_default_dtype set_default_dtype get_float32_matmul_precision "
            "set_float32_matmul_precision get_num_interop_threads set_num_interop_threads "
            "get_num_threads set_num_threads set_printoptions is_grad_enabled "
            "is_inference_mode_enabled"),
    **_each("dtype rules (tests/ops/test_promotion.py)", "can_cast promote_types result_type"),
    **_each("a Python value from a tensor's type or shape, not an op",
            "is_complex is_floating_point is_nonzero is_tensor numel"),
    **_each("not an op: compilation (tests/compiler), files (tests/io)", "compile save load"),
    # ATen's top-level forms (torch.conv2d, torch.relu_ ...): thin wrappers with ATen's
    # signatures over the functional op or Tensor method that has the table entry
    **_each("ATen's top-level form of a functional op or Tensor method "
            "(tests/compat/test_torch_functions.py)",
            " ".join(n for n in _torch_functions.__all__
                     if callable(getattr(_torch_functions, n)))),
    **_each("process switches and queries (tests/compat/test_torch_functions.py)",
            "is_anomaly_enabled is_anomaly_check_nan_enabled set_anomaly_enabled "
            "is_autocast_enabled get_autocast_dtype is_autocast_cpu_enabled "
            "get_autocast_cpu_dtype get_autocast_gpu_dtype"),
    **_each("a function transform, not an op (tests/compat/test_func.py)", "vmap"),
    **_each("run a call, hand back its Future (tests/compat/test_futures_streams.py)",
            "fork wait"),
    **_each("ATen's forms of functional ops / nn layers with table entries, with ATen's "
            "argument conventions and saved statistics (tests/compat/test_torch_native.py)",
            " ".join(_torch_native.__all__)),
    # cadenza._torch_extras: the recurrent cells are nn's cells (the lstm_cell/gru_cell
    # primitives and linear have entries), the rest are device/setting queries, uninitialised
    # creation, a NumPy histogram and DLPack export
    **_each("ATen's recurrent cells over ops with entries, device and setting queries, "
            "histogramdd, empty_permuted, to_dlpack (tests/compat/test_torch_extras.py); "
            "svd_lowrank/pca_lowrank (random) and lobpcg (tests/compat/test_lowrank.py)",
            " ".join(_torch_extras.__all__)),
}
