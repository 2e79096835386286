"""ONNX export vs onnxruntime over every entry of the op table (tests/ops/opinfo.py).

Each sample (float32, else the entry's first dtype) becomes a function of its tensor
arguments, is exported with ``cadenza.onnx.export`` and run by onnxruntime on the same data; the
outputs must equal eager's (shape, dtype, values within float32 rounding).

A sample may fail to export only in the two ways listed here, so that a regression in an
exportable op fails: UNSUPPORTED names, per entry, the primitives without an ONNX lowering
(``UnsupportedOpsError``); DATA_DEPENDENT the entries whose output shape or Python result
depends on the values (``TraceError``, as in compiled mode). Entries that export but give a
wrong or invalid model are strict xfails in EXPORT_BUGS.
"""
import io
import os
import sys
import warnings

import numpy as np
import pytest

import cadenza
from cadenza.errors import TraceError

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
import cadenza.onnx as cox  # noqa: E402  (after the optional dependencies)

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(__file__)), "ops"))
from opinfo import OPS, Maker  # noqa: E402  (the op table lives beside the op tests)
from ops_helpers import convert_sample, flat_outputs  # noqa: E402

# entry -> primitives its samples may report as having no ONNX lowering
_NO_EXPM1 = {"expm1"}
_NO_LOG1P = {"log1p"}
UNSUPPORTED = {
    "expm1": _NO_EXPM1, "log1p": _NO_LOG1P, "trunc": {"trunc"}, "round": {"round"},
    "div": {"trunc"}, "bitwise_not": {"bitwise_not"}, "bitwise_and": {"bitwise_and"},
    "bitwise_or": {"bitwise_or"}, "bitwise_xor": {"bitwise_xor"},
    "remainder": {"remainder"}, "fmod": {"fmod"}, "atan2": {"atan2"},
    "cumsum": {"cumsum"}, "cumprod": {"cumprod"}, "all": {"all"}, "any": {"any"},
    "flip": {"flip"}, "fliplr": {"flip"}, "flipud": {"flip"}, "roll": {"roll"},
    "getitem": {"getitem"},
    "diag": {"index_put"}, "setitem": {"index_put"}, "index_put": {"index_put"},
    "scatter": {"index_put"}, "scatter_add": {"index_put"}, "index_add": {"index_put"},
    "index_copy": {"index_put"}, "index_fill": {"index_put"},
    "einsum": {"einsum"}, "tensordot": {"einsum"}, "inner": {"einsum"},
    "cross_entropy": {"cross_entropy"}, "fold": {"fold"},
    "linear_cross_entropy": {"cross_entropy"},
    "conv_transpose1d": {"fold"}, "conv_transpose2d": {"fold"},
    "adaptive_max_pool1d": {"floor_divide", "remainder"},
    "adaptive_max_pool2d": {"floor_divide", "remainder"},
    "conv_transpose3d": {"fold"},
    "grid_sample": {"fmod"}, "grid_sample:nearest": {"fmod"}, "grid_sample:bicubic": {"fmod"},
    "grid_sample:3d": {"fmod"},
    **{n: {"floor_divide", "remainder"} for n in (
        "max_pool3d", "max_pool3d_with_indices", "adaptive_max_pool3d",
        "adaptive_max_pool3d_with_indices", "adaptive_max_pool1d_with_indices",
        "adaptive_max_pool2d_with_indices")},
    **{n: {"index_put"} for n in ("max_unpool1d", "max_unpool2d", "max_unpool3d")},
    "embedding:grad_rules": {"index_put", "remainder"},
    "elu": _NO_EXPM1, "selu": _NO_EXPM1, "celu": _NO_EXPM1,
    "elu_": _NO_EXPM1, "selu_": _NO_EXPM1, "celu_": _NO_EXPM1,
    "mish": _NO_LOG1P, "softplus": _NO_LOG1P, "logsigmoid": _NO_LOG1P,
    "soft_margin_loss": _NO_LOG1P, "binary_cross_entropy_with_logits": _NO_LOG1P,
    "multilabel_soft_margin_loss": _NO_LOG1P,
}
# --- Tensor methods (issue 10): primitives without an ONNX lowering (series in NumPy, integer
# ops ONNX lacks, index scans) and the composites over them or over index_put/flip/trunc
_IDX_PUT = {"index_put"}
UNSUPPORTED.update({
    "lgamma": {"lgamma"}, "digamma": {"digamma"}, "polygamma": {"polygamma"},
    "mvlgamma": {"lgamma"}, "erfinv": {"erfinv"}, "igamma": {"gammainc"},
    "igammac": {"gammainc"}, "i0": {"i0"}, "signbit": {"signbit"},
    "copysign": {"signbit"}, "frac": {"trunc"}, "gcd": {"gcd"}, "lcm": {"lcm"},
    "nextafter": {"nextafter"}, "bitwise_left_shift": {"bitwise_left_shift"},
    "bitwise_right_shift": {"bitwise_right_shift"}, "cummax": {"cummax_index"},
    "cummin": {"cummin_index"}, "logcumsumexp": {"logcumsumexp"}, "mode": {"mode_index"},
    "histc": {"histc"}, "scatter_reduce": {"scatter_reduce"}, "index_reduce": {"scatter_reduce"},
    "put": _IDX_PUT, "select_scatter": _IDX_PUT, "slice_scatter": _IDX_PUT,
    "diagonal_scatter": _IDX_PUT, "as_strided_scatter": _IDX_PUT, "diag_embed": _IDX_PUT,
    "diagflat": _IDX_PUT, "rot90": {"flip"},
})
# --- end issue 10
# linear algebra (tests/ops/opinfo_linalg.py): the decompositions and solvers have no ONNX op
UNSUPPORTED.update({
    "det": {'linalg_det'},
    "linalg.det": {'linalg_det'},
    "slogdet": {'linalg_slogdet'},
    "linalg.slogdet": {'linalg_slogdet'},
    "logdet": {'linalg_slogdet'},
    "inverse": {'linalg_inv'},
    "linalg.inv": {'linalg_inv'},
    "linalg.inv_ex": {'linalg_inv'},
    "matrix_power": {'linalg_inv'},
    "linalg.matrix_power": {'linalg_inv'},
    "matrix_exp": {'matrix_exp'},
    "linalg.matrix_exp": {'matrix_exp'},
    "linalg.solve": {'linalg_solve'},
    "linalg.solve_ex": {'linalg_solve'},
    "linalg.solve_triangular": {'solve_triangular'},
    "triangular_solve": {'solve_triangular'},
    "linalg.lstsq": {'linalg_svd'},
    "linalg.tensorinv": {'linalg_inv'},
    "linalg.tensorsolve": {'linalg_solve'},
    "cholesky": {'linalg_cholesky'},
    "linalg.cholesky": {'linalg_cholesky'},
    "linalg.cholesky_ex": {'linalg_cholesky'},
    "cholesky_solve": {'linalg_solve'},
    "cholesky_inverse": {'linalg_inv'},
    "qr": {'linalg_qr'},
    "linalg.qr": {'linalg_qr'},
    "geqrf": {"geqrf"},
    "svd": {'linalg_svd'},
    "linalg.svd": {'linalg_svd'},
    "linalg.svdvals": {'linalg_svd'},
    "linalg.eigh": {'linalg_eigh'},
    "linalg.eigvalsh": {'linalg_eigh'},
    "pinverse": {'linalg_svd'},
    "linalg.pinv": {'linalg_svd'},
    "linalg.matrix_rank": {'linalg_svd'},
    "linalg.cond": {'linalg_inv', 'linalg_svd'},
    "linalg.matrix_norm": {'linalg_svd'},
    "linalg.norm": {'linalg_svd'},
})
# special functions (tests/ops/opinfo_linalg.py): no ONNX ops for them
UNSUPPORTED.update({
    "lgamma": {'lgamma'},
    "digamma": {'digamma'},
    "polygamma": {'digamma', 'polygamma'},
    "mvlgamma": {'lgamma'},
    "erfinv": {'erfinv'},
    "i0": {'i0'},
    "special.xlog1py": {'log1p'},
    "special.gammaln": {'lgamma'},
    "special.psi": {'digamma'},
    "special.multigammaln": {'lgamma'},
    "special.i0e": {'i0e'},
    "special.i1": {'i1'},
    "special.i1e": {'i1e'},
    "special.erfcx": {'erfcx'},
    "special.log_ndtr": {'log_ndtr'},
    "special.ndtr": {'log_ndtr'},
    "special.ndtri": {'ndtri'},
    "special.zeta": {'zeta'},
})
UNSUPPORTED.update({f"special.{n}": {"orthogonal_polynomial"} for n in (
    "chebyshev_polynomial_t", "chebyshev_polynomial_u", "chebyshev_polynomial_v",
    "chebyshev_polynomial_w", "shifted_chebyshev_polynomial_t",
    "shifted_chebyshev_polynomial_u", "shifted_chebyshev_polynomial_v",
    "shifted_chebyshev_polynomial_w", "hermite_polynomial_h", "hermite_polynomial_he",
    "laguerre_polynomial_l", "legendre_polynomial_p")})
UNSUPPORTED.update({f"special.{n}": {"bessel"} for n in (
    "bessel_j0", "bessel_j1", "bessel_y0", "bessel_y1", "modified_bessel_k0",
    "modified_bessel_k1", "scaled_modified_bessel_k0", "scaled_modified_bessel_k1", "airy_ai")})
UNSUPPORTED.update({"special.modified_bessel_i0": {"i0"}, "special.modified_bessel_i1": {"i1"},
                    "special.gammainc": {"gammainc"}, "special.gammaincc": {"gammainc"}})
UNSUPPORTED.update({"cumulative_trapezoid": {"cumsum"}, "rot90": {"flip"},
                    "linalg.lu": {"linalg_lu"}, "linalg.lu:P": {"linalg_lu"},
                    "linalg.lu_factor": {"linalg_lu"}, "linalg.lu_factor_ex": {"linalg_lu"},
                    "lu": {"linalg_lu"}})
# sparse COO (tests/ops/opinfo_linalg.py): the sparse product has no ONNX op
UNSUPPORTED.update({
    "sparse.mm": {"sparse_mm"}, "spmm:top": {"sparse_mm"},
    "sparse.mm:dense_sparse": {"flip", "sparse_mm"}, "sparse_coo_tensor:top": {"index_put"},
    "sparse.sum": {"flip", "index_put", "sparse_mm"},
    "sparse_csr_tensor:top": {"sparse_mm"},
    "sparse_csc_tensor:top": {"sparse_mm", "index_put"},
    "sparse_compressed_tensor:top": {"sparse_mm"}})
# entries with samples whose output shape (or Python result) depends on the values, or that
# compiled mode does not capture: export traces as compile does and raises TraceError
DATA_DEPENDENT = {"allclose", "equal", "repeat_interleave", "getitem", "masked_select",
                  "masked_scatter", "nonzero", "argwhere", "one_hot", "bincount", "unique",
                  "max_pool1d", "max_pool2d:indices", "max_pool2d:ties", "sparse.coalesce",
                  "to_sparse", "lu_unpack", "lu_solve", "linalg.lu_solve",
                  "sparse.softmax", "sparse.log_softmax", "ctc_loss",
                  "fractional_max_pool2d", "fractional_max_pool3d",
                  "fractional_max_pool2d_with_indices", "fractional_max_pool3d_with_indices",
                  "max_pool1d_with_indices", "max_pool2d_with_indices", "embedding_bag:offsets",
                  # issue 10
                  "frexp", "histogram", "unique_consecutive", "nonzero_static"}
# entry -> the bug (a model onnx or onnxruntime rejects, or a wrong result)
_IDENTITY = "a graph whose output is its input exports with no output (onnxruntime rejects it)"
_LOGICAL = "logical ops on float inputs export And/Or/Xor/Not without a cast to bool"
EXPORT_BUGS = {
    "logical_not": _LOGICAL, "logical_and": _LOGICAL, "logical_or": _LOGICAL,
    "logical_xor": _LOGICAL,
    "to_dtype": _IDENTITY, "squeeze": _IDENTITY, "t": _IDENTITY, "expand": _IDENTITY,
    "contiguous": _IDENTITY, "atleast_1d": _IDENTITY, "atleast_2d": _IDENTITY,
    "atleast_3d": _IDENTITY,
    "dropout:eval": _IDENTITY, "dropout1d:eval": _IDENTITY, "dropout2d:eval": _IDENTITY,
    "dropout3d:eval": _IDENTITY, "alpha_dropout:eval": _IDENTITY,
    "feature_alpha_dropout:eval": _IDENTITY, "matrix_power:01": _IDENTITY,
    "broadcast_shapes": _IDENTITY,
    "reshape": "reshape of a zero-size tensor: onnx shape inference rejects the Identity",
    "take": "take(x (3, 4), index (2, 2)): GatherElements of the flat input with a 2-d index "
            "(ranks differ)",
    "cross_entropy:more": "weighted (N, C, H, W) input with label_smoothing: GatherElements "
                          "ranks differ",
    "equal": "a Python bool result exports as a graph with no output instead of an error",
    "positive": _IDENTITY,  # (issue 10)
    "max_pool2d:indices": "max_pool2d(2, 2, padding=1, ceil_mode=True) on 7x6: ONNX MaxPool "
                          "keeps the last window that starts in the padding (5 rows, eager 4)",
}


def _params():
    out = []
    for op in OPS:
        marks = ()
        if op.name in EXPORT_BUGS:
            marks = pytest.mark.xfail(strict=True, reason=EXPORT_BUGS[op.name])
        out.append(pytest.param(op, id=op.name, marks=marks))
    return out


def _as_function(op, s):
    """(function of the sample's tensors, those tensors): other arguments are constants."""
    args, kwargs, _ = convert_sample(s, "cd")
    tensors = [t for t in flat_outputs(list(args) + list(kwargs.values()))
               if isinstance(t, cadenza.Tensor)]
    where = {id(t): i for i, t in enumerate(tensors)}

    def fn(*xs):
        def sub(x):
            if isinstance(x, cadenza.Tensor) and id(x) in where:
                return xs[where[id(x)]]
            if isinstance(x, (list, tuple)):
                return type(x)(sub(v) for v in x)
            return x
        return op.cd(*sub(args), **{k: sub(v) for k, v in kwargs.items()})
    return fn, tensors


def _run_onnx(model_bytes, tensors):
    sess = ort.InferenceSession(model_bytes, providers=["CPUExecutionProvider"])
    names = [i.name for i in sess.get_inputs()]
    return sess.run(None, {n: t.numpy() for n, t in zip(names, tensors)})


@pytest.mark.parametrize("op", _params())
def test_export_matches_eager(op):
    dt = "float32" if "float32" in op.dtypes else op.dtypes[0]
    skipped = set()
    for k, s in enumerate(op.samples(Maker(dt))):
        what = f"{op.name}[{dt}] sample {k}"
        fn, tensors = _as_function(op, s)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                want = flat_outputs(fn(*tensors))
            except Exception:  # noqa: BLE001 - bad-input samples: tests/ops checks the error
                continue
            buf = io.BytesIO()
            try:
                cox.export(fn, tuple(tensors), buf)
            except cox.UnsupportedOpsError as e:
                names = {n for n, _ in e.ops}
                assert names <= UNSUPPORTED.get(op.name, set()), \
                    f"{what}: no ONNX lowering for {sorted(names)}"
                skipped |= names
                continue
            except TraceError as e:
                assert op.name in DATA_DEPENDENT, f"{what}: {e}"
                continue
        got = _run_onnx(buf.getvalue(), tensors)
        assert len(got) == len(want), f"{what}: {len(got)} outputs, eager {len(want)}"
        for i, (g, w) in enumerate(zip(got, want)):
            w = w.numpy() if isinstance(w, cadenza.Tensor) else np.asarray(w)
            assert g.shape == w.shape and g.dtype == w.dtype, \
                f"{what} output {i}: {g.dtype}{g.shape} vs eager {w.dtype}{w.shape}"
            np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-5, equal_nan=True,
                                       err_msg=f"{what} output {i}")
    # the listed primitives still lack a lowering (else the entry leaves UNSUPPORTED)
    stale = UNSUPPORTED.get(op.name, set()) - skipped
    assert not stale, f"{op.name}: {sorted(stale)} export now: remove them from UNSUPPORTED"


def test_lists_name_table_entries():
    names = {o.name for o in OPS}
    unknown = (set(UNSUPPORTED) | DATA_DEPENDENT | set(EXPORT_BUGS)) - names
    assert not unknown, f"not in the op table: {sorted(unknown)}"
