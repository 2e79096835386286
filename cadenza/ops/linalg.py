"""Linear algebra primitives: matmul (BLAS through the backend) and einsum, plus mm, bmm,
outer, dot, addmm, baddbmm, linear composites."""
from __future__ import annotations

import string

import numpy as np

from ._registry import Op, register, apply
from .._tensor_base import TensorBase as Tensor, _make
from ..backend import xp_of
from ..backend import blas as _blas
from ..backend import gemv as _gemv
from .._dispatch import state as _state
from ..errors import ShapeError, DTypeError, fmt_shape
from .. import dtypes as _dt
from ..dtypes import result_type
from .views import owned
from ..autograd.node import relabel

__all__ = ["addmm", "addmv", "baddbmm", "bmm", "dot", "einsum", "ger", "inner",
           "int8_linear", "linear", "matmul", "mm", "mv", "outer", "tensordot", "vdot"]




def _blas_layout(a):
    """``a`` in a layout NumPy hands to BLAS. An operand BLAS cannot take (zero strides of a
    broadcast gradient, a strided slice) goes through NumPy's own loop, which rounds
    differently: then the same product differs in the last bits with the layout, and compiled
    mode (folded constants and fused kernels are contiguous where eager had views) would not
    equal eager bit for bit (issue 14, found by tests/compiler/random_programs.py)."""
    if type(a) is np.ndarray and a.ndim >= 1 and not (a.flags.c_contiguous or
                                                      a.flags.f_contiguous):
        return np.ascontiguousarray(a)
    return a


@register
class Matmul(Op):
    autocast = "lower"
    name, kind, onnx, promote = "matmul", "library", "MatMul", False
    needs_saved = staticmethod(lambda req: (req[1], req[0]))

    @staticmethod
    def forward(xp, a, b):
        if a.dtype == np.float32 and type(a) is np.ndarray and type(b) is np.ndarray and (
                _blas.eager_float32() or _blas.pays(a, b)):
            out = _blas.product(a, b)   # float32 on the backend's helper (MKL, pool), as compiled
            if out is not None:
                return out
        return xp.matmul(_blas_layout(a), _blas_layout(b))

    # C = A B: dA = dC B^T, dB = A^T dC (vectors promoted to matrices, batch dims reduced by
    # the engine's sum_to)
    @staticmethod
    def backward(c, g):
        a, b = c.saved
        a_vec, b_vec = a.ndim == 1, b.ndim == 1
        a2 = a.unsqueeze(0) if a_vec else a
        b2 = b.unsqueeze(-1) if b_vec else b
        g2 = g
        if a_vec and b_vec:
            g2 = g.reshape(1, 1)
        elif a_vec:
            g2 = g.unsqueeze(-2)
        elif b_vec:
            g2 = g.unsqueeze(-1)
        ga = gb = None
        if c.next[0] is not None:
            ga = apply(Matmul, g2, b2.mT)
            if a_vec:
                ga = ga.squeeze(-2)
        if c.next[1] is not None:
            gb = apply(Matmul, a2.mT, g2)
            if b_vec:
                gb = gb.squeeze(-1)
        return ga, gb

    @staticmethod
    def check(a, b):
        _check_matmul("matmul", a, b)

    @staticmethod
    def meta(a, b):
        """On meta tensors: the contraction cut to length 1 (same output shape and dtype)."""
        _check_matmul("matmul", a, b)
        return (a[..., :1], b[:1] if b.ndim == 1 else b[..., :1, :]), {}


def _check_matmul(op, a, b):
    if a.ndim == 0 or b.ndim == 0:
        raise ShapeError(f"{op}: both arguments need at least 1 dimension, got "
                         f"{fmt_shape(a.shape)} and {fmt_shape(b.shape)}")
    ka = a.shape[-1]
    kb = b.shape[-2] if b.ndim > 1 else b.shape[0]
    if ka != kb:
        raise ShapeError(f"{op}: expected a.shape[-1] == b.shape[-2], got a{fmt_shape(a.shape)} "
                         f"@ b{fmt_shape(b.shape)}")
    try:
        np.broadcast_shapes(tuple(a.shape[:-2]), tuple(b.shape[:-2]))
    except ValueError:
        raise ShapeError(f"{op}: batch dims of a{fmt_shape(a.shape)} and b{fmt_shape(b.shape)} "
                         "do not broadcast") from None


@register
class Linear(Op):
    autocast = "lower"
    """y = x W^T + b for 2-D x (N, in), W (out, in), b (out,) or None: one GEMM with the bias
    added in place, and GEMM gradients (a composite would allocate the product twice and sum
    the bias gradient through a broadcast reduction)."""
    name, kind = "linear", "library"

    @staticmethod
    def onnx(ctx, node, out):
        """Gemm for 2-d x and W, else MatMul with W transposed (and an Add for the bias)."""
        x, w = node.inputs[0], node.inputs[1]
        b = node.inputs[2] if len(node.inputs) > 2 else None
        if b is not None and not hasattr(b, "shape"):
            b = None
        if len(x.shape) == 2 and len(w.shape) == 2:
            ins = [ctx.name(x), ctx.name(w)] + ([ctx.name(b)] if b is not None else [])
            ctx.node("Gemm", ins, out, transB=1)
            return
        wt = ctx.node("Transpose", [ctx.name(w)], perm=list(range(len(w.shape)))[::-1])
        if b is None:
            ctx.node("MatMul", [ctx.name(x), wt], out)
        else:
            mm = ctx.node("MatMul", [ctx.name(x), wt])
            ctx.node("Add", [mm, ctx.name(b)], out)

    @staticmethod
    def meta(x, w, b=None):
        """On meta tensors: the contraction cut to length 1 (same output shape and dtype)."""
        if x.shape[-1:] != w.shape[1:]:
            return (x, w, b), {}   # forward raises the mismatch
        return (x[..., :1], w[:, :1], b), {}

    @staticmethod
    def forward(xp, x, w, b=None):
        if x.ndim != 2:  # only from linear() when nothing records the call: rows of x
            return Linear.forward(xp, x.reshape(-1, x.shape[-1]), w, b).reshape(
                x.shape[:-1] + (w.shape[0],))
        if x.shape[0] == 1 and type(x) is np.ndarray and type(w) is np.ndarray:
            # one row (a decoding step): NumPy's gemv on this thread (backend/gemv.py), the
            # call compiled graphs make, without waking OpenBLAS's threads; same bits
            out = _gemv.product(x, w.T, b)
            if out is not None:
                return out
        if x.dtype == np.float32 and type(x) is np.ndarray and type(w) is np.ndarray and (
                _blas.eager_float32() or _blas.pays(x, w.T)) and (
                b is None or b.dtype == np.float32):
            out = _blas.product(x, w.T, b)
            if out is not None:
                return out
        if x.shape[1] == 1 and x.dtype == w.dtype and x.dtype.kind == "f":
            # one input feature (a scalar series into an RNN cell): each entry is one
            # product added to 0, as in the GEMM (the same bits, -0 becoming +0); NumPy's
            # matmul takes a slow non-BLAS loop for this (1, out) view of W
            out = xp.multiply(x, w.T)
            out += 0.0
        else:
            out = xp.matmul(x, w.T)
        if b is not None:
            out += b
        return out

    # dx = g W, dW = g^T x, db = sum_n g
    @staticmethod
    def backward(c, g):
        x, w, b = c.saved
        gx = apply(Matmul, g, w) if c.next[0] is not None else None
        gw = apply(Matmul, g.mT, x) if c.next[1] is not None else None
        gb = g.sum(0) if b is not None and c.next[2] is not None else None
        return gx, gw, gb

    @staticmethod
    def check(x, w, b=None):
        if x.ndim != 2 or w.ndim != 2 or x.shape[1] != w.shape[1]:
            raise ShapeError(f"linear: expected x (N, in) and weight (out, in) with equal in, "
                             f"got x{fmt_shape(x.shape)} and weight{fmt_shape(w.shape)}")
        if b is not None and tuple(b.shape) != (w.shape[0],):
            raise ShapeError(f"linear: expected bias of shape ({w.shape[0]},), got "
                             f"{fmt_shape(b.shape)}")


def linear(input, weight, bias=None):
    """input @ weight.T + bias over the last dim of input (any leading dims)."""
    x, w = input._data, weight._data
    if x.ndim == 2 and w.ndim == 2 and (x.dtype == w.dtype and (
            bias is None or bias._data.dtype == w.dtype) or _state.autocast is not None):
        # (inside autocast, operands of mixed dtypes too: the region casts all three, as
        # torch's one linear op; a bias added after would promote the result to float32)
        out = apply(Linear, input, weight, bias)
        # one node here; torch's Addmm (Mm) reads bias, input and a TBackward0 of the weight
        wt = ("TBackward0", (weight,))
        return relabel(out, "AddmmBackward0", (bias, input, wt)) if bias is not None else \
            relabel(out, "MmBackward0", (input, wt))
    if x.ndim > 2 and w.ndim == 2:
        if (_state.tracer is None and not (_state.grad_enabled and (
                input._requires_grad or weight._requires_grad or (
                    bias is not None and bias._requires_grad)))
                and input._data.dtype == weight._data.dtype
                and (bias is None or bias._data.dtype == weight._data.dtype)):
            # nothing records this call (inference): one primitive, no reshape ops around it
            return apply(Linear, input, weight, bias)
        lead = tuple(input.shape[:-1])
        return owned(linear(input.reshape(-1, input.shape[-1]), weight, bias).reshape(
            lead + (weight.shape[0],)))
    out = matmul(input, weight.t() if weight.ndim == 2 else weight)
    out = out if bias is None else out + bias
    if x.ndim == 1 and w.ndim == 2:   # torch's nodes: a (1, in) row through Addmm / Mm
        wt = ("TBackward0", (weight,))
        if bias is None:
            return relabel(out, "SqueezeBackward4", (
                ("MmBackward0", (("UnsqueezeBackward0", (input,)), wt)),))
        return relabel(out, "ViewBackward0", (
            ("AddmmBackward0", (bias, ("ViewBackward0", (input,)), wt)),))
    return out


@register
class Int8WeightLinear(Op):
    """y = (x @ W^T) * scales + b for x (..., in) float, W (out, in) int8, scales (out,), b
    (out,) or None: the GEMM of weight-only int8 quantization (cadenza.models.quant). W is
    widened to x's dtype inside the call and the scales multiply the output in place, so a
    layer costs one dispatch (a composite of cast, linear, mul and add costs four: at decode
    sizes that overhead outweighs the GEMM)."""
    name, kind = "int8_linear", "library"

    # a weight of more than BLOCK elements is widened BLOCK elements (2 MB of float32) at a
    # time, each block's GEMM writing its columns of the output: the float copy then stays
    # in cache instead of streaming through memory (a (50257, 768) head at batch 1: 3x faster
    # than widening it whole, as fast as the float32 GEMM; equal at (2304, 768))
    BLOCK = 1 << 19

    @staticmethod
    def forward(xp, x, w, s, b=None):
        x2 = x.reshape(-1, x.shape[-1])                                  # (N, in)
        n_out, n_in = w.shape
        if w.size <= Int8WeightLinear.BLOCK:
            out = xp.matmul(x2, w.astype(x.dtype).T)                      # (N, out)
        else:
            out = xp.empty((x2.shape[0], n_out), dtype=x.dtype)
            rows = max(1, Int8WeightLinear.BLOCK // n_in)
            for i in range(0, n_out, rows):
                xp.matmul(x2, w[i:i + rows].astype(x.dtype).T, out=out[:, i:i + rows])
        out *= s
        if b is not None:
            out += b
        return out.reshape(x.shape[:-1] + (w.shape[0],))

    # dx = (g * s) W; ds = sum g * (x W^T); db = sum g (the engine sums over leading dims);
    # W is int8 and never has a gradient
    @staticmethod
    def backward(c, g):
        x, w, s, b = c.saved
        wf = w.to(g.dtype)
        gx = apply(Matmul, g * s.to(g.dtype), wf) if c.next[0] is not None else None
        gs = g * apply(Matmul, x, wf.mT) if c.next[2] is not None else None
        gb = g if b is not None and c.next[3] is not None else None
        return gx, None, gs, gb

    @staticmethod
    def onnx(ctx, node, out):
        """Cast(W) -> Transpose -> MatMul -> Mul(scales) [-> Add(bias)]."""
        x, w, s = node.inputs[:3]
        b = node.inputs[3] if len(node.inputs) > 3 else None
        wf = ctx.node("Cast", [ctx.name(w)], to=ctx.helper.np_dtype_to_tensor_dtype(
            node.out.dtype))
        mm = ctx.node("MatMul", [ctx.name(x), ctx.node("Transpose", [wf], perm=[1, 0])])
        if b is None or not hasattr(b, "shape"):
            ctx.node("Mul", [mm, ctx.name(s)], out)
        else:
            ctx.node("Add", [ctx.node("Mul", [mm, ctx.name(s)]), ctx.name(b)], out)


def _check_int8_linear(op, x, w, s, b=None):
    if not (isinstance(x, Tensor) and isinstance(w, Tensor) and isinstance(s, Tensor)
            and (b is None or isinstance(b, Tensor))):
        bad = next(a for a in (x, w, s, b) if a is not None and not isinstance(a, Tensor))
        raise TypeError(f"{op}: expected Tensor arguments, got {type(bad).__name__}")
    if w._data.dtype != np.int8 or w.ndim != 2:
        raise DTypeError(f"{op}: expected a 2-d int8 weight, got {fmt_shape(w.shape)} "
                         f"{w.dtype.name}")
    if x.ndim < 1 or x.shape[-1] != w.shape[1]:
        raise ShapeError(f"{op}: expected input (..., {w.shape[1]}) for weight "
                         f"{fmt_shape(w.shape)}, got {fmt_shape(x.shape)}")
    n = w.shape[0]
    for what, t in (("scales", s), ("bias", b)):
        if t is not None and tuple(t.shape) != (n,):
            raise ShapeError(f"{op}: expected {what} of shape ({n},), got {fmt_shape(t.shape)}")


def int8_linear(input, weight, scales, bias=None):
    """``input @ weight.T * scales + bias``: weight (out, in) int8 with per-output-channel float
    ``scales`` (out,), input (..., in) of a float dtype (the output's dtype); the GEMM of
    weight-only int8 quantization (``cadenza.models.quant.Int8Linear``). Differentiable in
    input, scales and bias."""
    _check_int8_linear("int8_linear", input, weight, scales, bias)
    if input._data.dtype.kind != "f":
        raise DTypeError(f"int8_linear: expected a floating-point input, got "
                         f"{input.dtype.name}")
    return apply(Int8WeightLinear, input, weight, scales, bias)


def _weight_int8pack_mm(A, B, scales):
    """torch._weight_int8pack_mm (private in torch, so not in ``__all__`` nor at Cadenza's top
    level; the op table checks it against torch): A (M, K) float32/float16/bfloat16 @ B (N, K)
    int8 transposed, times scales (N,) of A's dtype -> (M, N): PyTorch's weight-only int8 GEMM
    (what torchao's int8 weight-only Linear calls)."""
    _check_int8_linear("_weight_int8pack_mm", A, B, scales)
    if A.ndim != 2:
        raise ShapeError(f"_weight_int8pack_mm: expected A to be a 2-d tensor, got "
                         f"{fmt_shape(A.shape)}")
    if A.dtype.name not in ("float32", "float16", "bfloat16") or scales.dtype != A.dtype:
        raise DTypeError(f"_weight_int8pack_mm: expected A float32, float16 or bfloat16 and "
                         f"scales of A's dtype, got A {A.dtype.name}, scales "
                         f"{scales.dtype.name}")
    return apply(Int8WeightLinear, A, B, scales)


def matmul(input, other):
    """Matrix product with NumPy/PyTorch broadcasting rules (1-d operands are vectors)."""
    if not isinstance(input, Tensor) or not isinstance(other, Tensor):
        bad = other if isinstance(input, Tensor) else input
        raise TypeError(f"matmul(): argument 'other' must be Tensor, not {type(bad).__name__}")
    if input._sparse_layout or other._sparse_layout:  # a sparse operand: its class computes it
        return input.__matmul__(other) if input._sparse_layout else other.__rmatmul__(input)
    if input._data.dtype != other._data.dtype and _state.autocast is None:  # (autocast casts)
        raise DTypeError(f"matmul: expected both operands to have the same dtype, got "
                         f"{input.dtype.name} and {other.dtype.name}")
    if input._data.ndim == 0 or other._data.ndim == 0:
        _check_matmul("matmul", input, other)
    if input._data.dtype == np.bool_ and input._data.size and other._data.size:
        raise NotImplementedError("matmul: \"addmm_impl_cpu_\" not implemented for 'Bool' "
                                  "(torch has no bool matrix product; cast the operands)")
    out = apply(Matmul, input, other)
    if out.grad_fn is not None:
        relabel(out, _matmul_node_name(input._data.ndim, other._data.ndim))
    return out


def _matmul_node_name(nd1, nd2):
    """torch's name for the node of matmul on operands of these dims (the last op of its
    decomposition into mm, mv, dot or bmm and reshapes)."""
    if nd1 <= 2 and nd2 <= 2:
        return {(2, 2): "MmBackward0", (2, 1): "MvBackward0", (1, 1): "DotBackward0",
                (1, 2): "SqueezeBackward4"}[nd1, nd2]
    return "CloneBackward0" if nd1 == 2 else "UnsafeViewBackward0"


def mm(input, mat2):
    if input.ndim != 2 or mat2.ndim != 2:
        raise ShapeError(f"mm: expected 2-d tensors, got {fmt_shape(input.shape)} and "
                         f"{fmt_shape(mat2.shape)}")
    return matmul(input, mat2)


def bmm(input, mat2):
    if input.ndim != 3 or mat2.ndim != 3:
        raise ShapeError(f"bmm: expected 3-d tensors, got {fmt_shape(input.shape)} and "
                         f"{fmt_shape(mat2.shape)}")
    if input.shape[0] != mat2.shape[0]:
        raise ShapeError(f"bmm: expected equal batch sizes, got {fmt_shape(input.shape)} and "
                         f"{fmt_shape(mat2.shape)}")
    return relabel(matmul(input, mat2), "BmmBackward0")


def mv(input, vec):
    return matmul(input, vec)


def dot(input, tensor):
    if input.ndim != 1 or tensor.ndim != 1:
        raise RuntimeError(f"1D tensors expected, but got {input.ndim}D and {tensor.ndim}D "
                           "tensors")
    return matmul(input, tensor)


def vdot(input, other):
    """conj(input) . other (the conjugate of the first vector, for complex tensors)."""
    return dot(input.conj(), other)


def inner(input, other):
    """Sum over the last dims: ``out[i..., j...] = sum_k input[i..., k] * other[j..., k]``
    (a scalar operand multiplies)."""
    if input.ndim == 0 or other.ndim == 0:
        return input * other
    if input.shape[-1] != other.shape[-1]:
        raise RuntimeError(f"inner() the last dimension must match on both input tensors but "
                           f"got shapes {list(input.shape)} and {list(other.shape)}")
    if input.ndim == 1 and other.ndim == 1:
        return matmul(input, other)
    return tensordot(input, other, dims=([input.ndim - 1], [other.ndim - 1]))


def outer(input, vec2):
    return input.reshape(-1, 1) * vec2.reshape(1, -1)


ger = outer


def _scaled(input, out, beta, alpha, blas=False):
    """beta * input + alpha * out for the ``add*`` products, with input expanding to out's
    shape (as PyTorch, input never grows the result). As PyTorch: input is ignored when
    beta == 0 and (``blas``: addmm, addmv, addbmm) the product when alpha == 0, so NaN or inf
    in them does not propagate."""
    if blas and alpha == 0:
        out = (out * 0).nan_to_num(0.0, 0.0, 0.0)  # zeros, still on the graph
    elif alpha != 1:
        out = out * alpha
    if beta == 0:
        input.expand(tuple(out.shape))  # the same refusal of a shape that does not fit
        return out
    input = input.expand(tuple(out.shape))
    return out + (input if beta == 1 else input * beta)


def addmm(input, mat1, mat2, *, beta=1, alpha=1):
    return relabel(_scaled(input, mm(mat1, mat2), beta, alpha, blas=True), "AddmmBackward0",
                   (input, mat1, mat2))


def baddbmm(input, batch1, batch2, *, beta=1, alpha=1):
    return relabel(_scaled(input, bmm(batch1, batch2), beta, alpha), "BaddbmmBackward0",
                   (input, batch1, batch2))


def addmv(input, mat, vec, *, beta=1, alpha=1):
    if mat.ndim != 2 or vec.ndim != 1:
        raise RuntimeError(f"addmv: expected a 2-D matrix and a 1-D vector, got "
                           f"{mat.ndim}-D and {vec.ndim}-D")
    return _scaled(input, matmul(mat, vec), beta, alpha, blas=True)


# ----------------------------------------------------------------------------- einsum
def _parse_einsum(equation, shapes):
    """Expand '...' into explicit letters; return (input subscripts, output subscripts)."""
    eq = equation.replace(" ", "")
    if "->" in eq:
        lhs, rhs = eq.split("->")
    else:
        lhs, rhs = eq, None
    ins = lhs.split(",")
    if len(ins) != len(shapes):
        raise RuntimeError("einsum(): more operands were provided than specified in the "
                           "equation" if len(shapes) > len(ins) else
                           "einsum(): fewer operands were provided than specified in the "
                           "equation")
    used = set(c for c in eq if c.isalpha())
    spare = [c for c in string.ascii_letters if c not in used]
    ell_nd = 0
    for s, shp in zip(ins, shapes):
        if "..." in s:
            ell_nd = max(ell_nd, len(shp) - (len(s) - 3))
    ell = "".join(spare[:ell_nd])
    out_ins = []
    for s, shp in zip(ins, shapes):
        if "..." in s:
            k = len(shp) - (len(s) - 3)
            s = s.replace("...", ell[ell_nd - k:] if k else "")
        if len(s) != len(shp):
            raise ShapeError(f"einsum(): the number of subscripts in the equation ({len(s)}) "
                             f"does not match the number of dimensions ({len(shp)}) for "
                             f"operand {len(out_ins)}")
        out_ins.append(s)
    if rhs is None:
        counts = {}
        for s in out_ins:
            for ch in s:
                counts[ch] = counts.get(ch, 0) + 1
        rhs = ell + "".join(sorted(c for c, n in counts.items() if n == 1 and c not in ell))
    else:
        rhs = rhs.replace("...", ell)
    return out_ins, rhs


# torch.backends.opt_einsum's switches (cadenza/backends/_flags.py sets them): with three or
# more operands einsum contracts them pairwise in the order NumPy's path optimiser picks
# (einsum_path: "greedy", or "optimal", exhaustive, which "auto" takes up to 4 operands), or
# pairwise left to right when disabled (torch's order without opt_einsum); the result is the
# same sum either way, up to rounding
EINSUM_PATH = {"enabled": True, "strategy": "auto"}


def einsum_path(n_operands: int):
    """``optimize=`` for NumPy's einsum of ``n_operands`` under the opt_einsum switches."""
    if n_operands <= 2:
        return False
    if not EINSUM_PATH["enabled"]:   # left to right, each result joined with the next operand
        return ["einsum_path", (0, 1)] + [(0, k) for k in range(n_operands - 2, 0, -1)]
    strategy = EINSUM_PATH["strategy"]
    if strategy == "auto":
        return "optimal" if n_operands <= 4 else "greedy"
    return strategy


@register
class Einsum(Op):
    name, kind, onnx = "einsum", "library", None

    @staticmethod
    def forward(xp, *arrs, ins=(), out=""):
        # NumPy's kernels factor a stride-0 (expanded) operand out of the sum (a * sum(b)):
        # other rounding, and inf * (b + d) where torch's inf * b + inf * d is NaN
        arrs = tuple(np.ascontiguousarray(a) if isinstance(a, np.ndarray) and any(
            st == 0 and n > 1 for st, n in zip(a.strides, a.shape)) else a for a in arrs)
        return xp.einsum(",".join(ins) + "->" + out, *arrs, optimize=einsum_path(len(arrs)))

    # d/dX_i of sum(G * einsum(X...)) = einsum(G, X_j (j != i)) onto X_i's subscripts; letters of
    # X_i that appear nowhere else were summed away, so the gradient is broadcast along them.
    @staticmethod
    def backward(c, g):
        ins, out = c.attrs["ins"], c.attrs["out"]
        ops = c.saved
        grads = []
        for i, s in enumerate(ins):
            if c.next[i] is None:
                grads.append(None)
                continue
            shape = c.shape(i)
            # a repeated subscript ('ii', 'iij') reads a diagonal: the gradient of that
            # diagonal (subscripts ``u``, each letter once) is put back on it below
            u = "".join(dict.fromkeys(s))
            size = {ch: shape[s.index(ch)] for ch in u}
            others = [ins[j] for j in range(len(ins)) if j != i]
            avail = set(out) | set("".join(others))
            kept = "".join(ch for ch in u if ch in avail)
            args = [g] + [ops[j] for j in range(len(ins)) if j != i]
            gi = apply(Einsum, *args, ins=(out, *others), out=kept)
            ksz = tuple(size[ch] for ch in kept)
            if tuple(gi.shape) != ksz:  # a size-1 letter broadcast against the others' size
                dims = tuple(k for k, n in enumerate(ksz) if n == 1 and gi.shape[k] != 1)
                gi = (gi.sum(dims, keepdim=True) if dims else gi).expand(ksz)
            if kept != u:
                gi = gi.reshape(tuple(size[ch] if ch in avail else 1 for ch in u))
                gi = gi.expand(tuple(size[ch] for ch in u))
            if u != s:
                gi = _einsum_diag_embed(gi, u, s, size, set("".join(ins) + out))
            grads.append(gi)
        return tuple(grads)


def _einsum_diag_embed(gi, u, s, size, used):
    """``gi`` (subscripts ``u``, distinct) placed on the diagonal of a tensor with subscripts
    ``s`` (``u`` with repeats): each repeat of a letter gets a fresh letter tied to the first by
    an identity matrix, ``einsum('ij,iI->iIj', gi, eye)`` for 'iij'."""
    spare = [ch for ch in string.ascii_letters if ch not in used]
    subs, deltas, seen = [], [], set()
    for ch in s:
        if ch in seen:
            fresh = spare.pop()
            subs.append(fresh)
            deltas.append(ch + fresh)
        else:
            seen.add(ch)
            subs.append(ch)
    xp = xp_of(gi._data)
    eyes = [_make(xp.eye(size[d[0]], dtype=gi._data.dtype)) for d in deltas]
    return apply(Einsum, gi, *eyes, ins=(u, *deltas), out="".join(subs))


def einsum(equation, *operands):
    """Einstein summation, e.g. ``einsum('bij,bjk->bik', a, b)``; also the sublist form
    ``einsum(a, [0, 1], b, [1, 2], [0, 2])``."""
    if isinstance(equation, Tensor):      # sublist form: operand, subscripts, ..., [output]
        args = (equation,) + operands
        pairs = args[:len(args) - len(args) % 2]
        operands = pairs[0::2]
        equation = ",".join(_sublist(sl) for sl in pairs[1::2])
        if len(args) % 2:
            equation += "->" + _sublist(args[-1])
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    ins, out = _parse_einsum(equation, [t.shape for t in operands])
    operands = _sum_first_promotion(operands, ins, out)
    dts = {t._data.dtype for t in operands}
    if len(dts) > 1:
        rt = result_type(*operands)
        operands = tuple(t.to(rt) for t in operands)
    return apply(Einsum, *operands, ins=tuple(ins), out=out)


def _sum_first_promotion(operands, ins, out):
    """torch sums a letter that one operand alone holds (and the output lacks) out of that
    operand first, with ``sum``: an integer or bool operand becomes int64 there."""
    counts = {}
    for sub in ins:
        for ch in set(sub):
            counts[ch] = counts.get(ch, 0) + 1
    res = []
    for t, sub in zip(operands, ins):
        summed = any(counts[ch] == 1 and ch not in out for ch in set(sub)) or \
            len(set(sub)) < len(sub) and any(ch not in out for ch in sub)
        if summed and t._data.dtype.kind in "iub" and t.dtype is not _dt.int64:
            t = t.to(_dt.int64)
        res.append(t)
    return tuple(res)


def _sublist(sl) -> str:
    """einsum's sublist subscripts (ints in [0, 52), Ellipsis) as equation letters."""
    if not isinstance(sl, (list, tuple)):
        raise TypeError(f"einsum(): expected a list of subscripts, got {type(sl).__name__}")
    out = []
    for v in sl:
        if v is Ellipsis:
            out.append("...")
        elif isinstance(v, int) and 0 <= v < 52:
            out.append(string.ascii_letters[v])
        else:
            raise ValueError(f"einsum(): subscript in subscript list is not within the valid "
                             f"range [0, 52), got {v}")
    return "".join(out)


def tensordot(a, b, dims=2):
    if isinstance(dims, int):
        da = list(range(a.ndim - dims, a.ndim))
        db = list(range(dims))
    else:
        da, db = [list(d) if not isinstance(d, int) else [d] for d in dims]
    letters = iter(string.ascii_lowercase)
    sa = [next(letters) for _ in range(a.ndim)]
    sb = [next(letters) for _ in range(b.ndim)]
    for i, j in zip(da, db):
        sb[j] = sa[i]
    out = [ch for k, ch in enumerate(sa) if k not in da] + \
          [ch for k, ch in enumerate(sb) if k not in db]
    return einsum(f"{''.join(sa)},{''.join(sb)}->{''.join(out)}", a, b)


# ----------------------------------------------------------------------------- Tensor methods
class LinalgMethods:
    """cadenza.Tensor's methods for this module's functions (``x.f(...)`` is ``f(x, ...)``,
    in-place ``x.f_(...)`` commits it into x); ``cadenza/_tensor.py`` composes them."""
    __slots__ = ()

    matmul = matmul
    mm = mm
    bmm = bmm
    mv = mv
    dot = dot
    inner = inner
    outer = ger = outer
    addmm = addmm
    baddbmm = baddbmm
