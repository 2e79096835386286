"""PyTorch's top-level ATen forms (``torch.conv2d``, ``torch.layer_norm``, ``torch.relu_`` ...),
constants, ``finfo``/``iinfo``, memory formats and process switches, against torch: same
values, same gradients, same errors."""
import math

import numpy as np
import pytest

import cadenza

torch = pytest.importorskip("torch")


def _rand(*shape, seed=0, positive=False):
    a = np.random.default_rng(seed).standard_normal(shape)
    return np.abs(a) + 0.1 if positive else a


def _pair(a, requires_grad=False, dtype="float64"):
    a = np.asarray(a).astype(dtype)
    c = cadenza.tensor(a, requires_grad=requires_grad)
    t = torch.tensor(a, requires_grad=requires_grad)
    return c, t


def _close(c, t, atol=1e-10):
    if isinstance(t, (tuple, list)):
        assert len(c) == len(t)
        for x, y in zip(c, t):
            _close(x, y, atol)
        return
    if isinstance(t, torch.Tensor):
        assert tuple(c.shape) == tuple(t.shape)
        assert str(c.dtype).split(".")[-1] == str(t.dtype).split(".")[-1]
        np.testing.assert_allclose(c.detach().numpy(), t.detach().numpy(), atol=atol, rtol=1e-7)
    else:
        assert c == t


def _idx(*vals):
    return cadenza.tensor(list(vals)), torch.tensor(list(vals))


# name, builder of (args for cadenza, args for torch) from a seed, differentiable arg positions
CASES = {
    "conv1d": lambda: ([_rand(2, 3, 9), _rand(4, 3, 3, seed=1), _rand(4, seed=2)], (1, 1, 1, 1),
                       {}),
    "conv2d": lambda: ([_rand(2, 2, 6, 6), _rand(3, 2, 3, 3, seed=1), None], (2, 1), {}),
    "conv3d": lambda: ([_rand(1, 2, 4, 4, 4), _rand(2, 2, 2, 2, 2, seed=1)], (), {}),
    "conv_transpose1d": lambda: ([_rand(2, 3, 5), _rand(3, 2, 3, seed=1)], (None, 2), {}),
    "conv_transpose2d": lambda: ([_rand(1, 2, 4, 4), _rand(2, 3, 3, 3, seed=1), _rand(3)],
                                 (2, 1, 1), {}),
    "layer_norm": lambda: ([_rand(3, 4, 5), [4, 5], _rand(4, 5, seed=1), _rand(4, 5, seed=2)],
                           (1e-5,), {}),
    "rms_norm": lambda: ([_rand(3, 5), [5], _rand(5, seed=1)], (), {}),
    "group_norm": lambda: ([_rand(2, 4, 3), 2, _rand(4, seed=1), _rand(4, seed=2)], (), {}),
    "max_pool1d": lambda: ([_rand(2, 3, 9), 3], (), {}),
    "max_pool2d": lambda: ([_rand(2, 2, 6, 6), 2], ((),), {}),
    "max_pool2d_stride": lambda: ([_rand(2, 2, 7, 7), 3, 2, 1], (), {}),
    "max_pool3d": lambda: ([_rand(1, 2, 4, 4, 4), 2], (), {}),
    "avg_pool1d": lambda: ([_rand(2, 3, 9), 3], (), {}),
    "adaptive_avg_pool1d": lambda: ([_rand(2, 3, 9), 4], (), {}),
    "constant_pad_nd": lambda: ([_rand(2, 3), [1, 2]], (0.5,), {}),
    "selu": lambda: ([_rand(5)], (), {}),
    "celu": lambda: ([_rand(5)], (0.7,), {}),
    "hardshrink": lambda: ([_rand(7)], (0.3,), {}),
    "threshold": lambda: ([_rand(7)], (0.1, -2.0), {}),
    "prelu": lambda: ([_rand(2, 3, 4), np.array([0.2, 0.1, 0.3])], (), {}),
    "pixel_shuffle": lambda: ([_rand(1, 8, 2, 2)], (2,), {}),
    "pixel_unshuffle": lambda: ([_rand(1, 2, 4, 4)], (2,), {}),
    "channel_shuffle": lambda: ([_rand(1, 6, 2, 2)], (3,), {}),
    "cosine_similarity": lambda: ([_rand(3, 4), _rand(3, 4, seed=1)], (), {}),
    "pairwise_distance": lambda: ([_rand(3, 4), _rand(3, 4, seed=1)], (3.0,), {}),
    "bilinear": lambda: ([_rand(3, 2), _rand(3, 4, seed=1), _rand(5, 2, 4, seed=2)], (), {}),
    "kl_div": lambda: ([_rand(3, 4), _rand(3, 4, seed=1, positive=True)], (), {}),
    "kl_div_sum": lambda: ([_rand(3, 4), _rand(3, 4, seed=1)], (2,), {"log_target": True}),
    "binary_cross_entropy_with_logits": lambda: (
        [_rand(4, 3), np.random.default_rng(3).random((4, 3))], (None, np.array([1., 2., 3.]), 2),
        {}),
    "margin_ranking_loss": lambda: ([_rand(5), _rand(5, seed=1), np.sign(_rand(5, seed=2))],
                                    (0.1, 0), {}),
    "hinge_embedding_loss": lambda: ([_rand(5), np.sign(_rand(5, seed=2))], (), {}),
    "cosine_embedding_loss": lambda: ([_rand(3, 4), _rand(3, 4, seed=1),
                                       np.sign(_rand(3, seed=2))], (0.2,), {}),
    "triplet_margin_loss": lambda: ([_rand(3, 4), _rand(3, 4, seed=1), _rand(3, 4, seed=2)],
                                    (1.0, 2.0, 1e-6, True, 2), {}),
    "poisson_nll_loss": lambda: ([_rand(6), _rand(6, seed=1, positive=True)],
                                 (True, True, 1e-8, 1), {}),
    "clamp_min": lambda: ([_rand(6)], (0.1,), {}),
    "clamp_max": lambda: ([_rand(6)], (0.1,), {}),
    "rsub": lambda: ([_rand(4), _rand(4, seed=1)], (), {"alpha": 2}),
    "adjoint": lambda: ([_rand(3, 2)], (), {}),
    "detach": lambda: ([_rand(3)], (), {}),
}
TORCH_NAME = {"max_pool2d_stride": "max_pool2d", "kl_div_sum": "kl_div"}


def _convert(args, requires_grad):
    cs, ts = [], []
    for a in args:
        if isinstance(a, np.ndarray):
            c, t = _pair(a, requires_grad)
            cs.append(c)
            ts.append(t)
        else:
            cs.append(a)
            ts.append(a)
    return cs, ts


@pytest.mark.parametrize("case", sorted(CASES))
def test_forward_and_grad_match_torch(case):
    tensors, extra, kwargs = CASES[case]()
    name = TORCH_NAME.get(case, case)
    cs, ts = _convert(tensors, requires_grad=name != "detach")
    ce, te = _convert(extra, requires_grad=False)
    cs, ts = cs + ce, ts + te
    c_out = getattr(cadenza, name)(*cs, **kwargs)
    t_out = getattr(torch, name)(*ts, **kwargs)
    _close(c_out, t_out)
    if name == "detach":
        assert not c_out.requires_grad
        return
    seed = np.random.default_rng(7).standard_normal(tuple(t_out.shape))
    c_out.backward(cadenza.tensor(seed))
    t_out.backward(torch.tensor(seed))
    for c, t in zip(cs, ts):
        if isinstance(t, torch.Tensor) and t.requires_grad:
            _close(c.grad, t.grad)


def test_batch_and_instance_norm_take_aten_argument_order():
    x, w, b = _rand(4, 3, 5), _rand(3, seed=1), _rand(3, seed=2)
    for training in (True, False):
        cx, tx = _pair(x, True)
        cw, tw = _pair(w, True)
        cb, tb = _pair(b, True)
        crm, trm = _pair(np.zeros(3))
        crv, trv = _pair(np.ones(3))
        c = cadenza.batch_norm(cx, cw, cb, crm, crv, training, 0.1, 1e-5, False)
        t = torch.batch_norm(tx, tw, tb, trm, trv, training, 0.1, 1e-5, False)
        _close(c, t)
        _close(crm, trm)
        _close(crv, trv)
        c.sum().backward()
        t.sum().backward()
        _close(cx.grad, tx.grad)
        _close(cw.grad, tw.grad)
    cx, tx = _pair(x)
    _close(cadenza.instance_norm(cx, None, None, None, None, True, 0.1, 1e-5, False),
           torch.instance_norm(tx, None, None, None, None, True, 0.1, 1e-5, False))


def test_embedding_weight_first_and_negative_padding_idx_means_none():
    w = _rand(6, 3)
    for pad in (-1, 2):
        cw, tw = _pair(w, True)
        ci, ti = _idx(1, 2, 2, 5)
        c = cadenza.embedding(cw, ci, pad)
        t = torch.embedding(tw, ti, pad)
        _close(c, t)
        c.sum().backward()
        t.sum().backward()
        _close(cw.grad, tw.grad)


def test_pool_variants_that_return_indices():
    cx, tx = _pair(_rand(2, 3, 9))
    c, t = cadenza.adaptive_max_pool1d(cx, 4), torch.adaptive_max_pool1d(tx, 4)
    _close(c[0], t[0])
    assert c[1].tolist() == t[1].tolist()
    c, t = cadenza.max_pool1d_with_indices(cx, 3), torch.max_pool1d_with_indices(tx, 3)
    _close(c[0], t[0])
    assert c[1].tolist() == t[1].tolist()


def test_ctc_loss_reduction_enum():
    rng = np.random.default_rng(0)
    lp = rng.standard_normal((6, 2, 4))
    lp = lp - np.log(np.exp(lp).sum(-1, keepdims=True))
    targets = np.array([[1, 2], [3, 1]])
    for red in (0, 1, 2):
        c = cadenza.ctc_loss(cadenza.tensor(lp), cadenza.tensor(targets), [6, 5], [2, 2], 0, red)
        t = torch.ctc_loss(torch.tensor(lp), torch.tensor(targets), [6, 5], [2, 2], 0, red)
        _close(c, t, atol=1e-8)


def test_losses_default_to_no_reduction_as_torch_bindings_do():
    cx, tx = _pair(_rand(5))
    ct, tt = _pair(np.sign(_rand(5, seed=1)))
    for name in ("hinge_embedding_loss", "kl_div"):
        _close(getattr(cadenza, name)(cx, ct), getattr(torch, name)(tx, tt))
    _close(cadenza.margin_ranking_loss(cx, cx, ct), torch.margin_ranking_loss(tx, tx, tt))


def test_reduction_must_be_the_aten_enum():
    x = cadenza.randn(3)
    with pytest.raises(TypeError, match="reduction"):
        cadenza.kl_div(x, x, 5)
    with pytest.raises(TypeError, match="reduction"):
        cadenza.hinge_embedding_loss(x, x, 1.0, True)


@pytest.mark.parametrize("name", ["relu_", "sigmoid_", "tanh_", "exp_", "sqrt_", "abs_", "neg_",
                                  "floor_", "round_", "zero_", "selu_", "celu_", "rsqrt_",
                                  "log1p_", "erf_", "trunc_", "frac_", "sin_", "cos_",
                                  "reciprocal_", "square_", "sigmoid_", "fix_", "deg2rad_"])
def test_inplace_functions_write_into_input(name):
    a = np.abs(_rand(6)) + 0.5
    c, t = _pair(a)
    c_out = getattr(cadenza, name)(c)
    t_out = getattr(torch, name)(t)
    assert c_out is c
    _close(c, t)
    assert t_out is t


def test_inplace_functions_with_arguments():
    c, t = _pair(_rand(6))
    cadenza.clamp_(c, -0.2, 0.3), torch.clamp_(t, -0.2, 0.3)
    _close(c, t)
    cadenza.threshold_(c, 0.0, 9.0), torch.threshold_(t, 0.0, 9.0)
    _close(c, t)
    cadenza.fill_(c, 2.5), torch.fill_(t, 2.5)
    _close(c, t)
    c, t = _pair(np.array([1.0, math.nan, math.inf]))
    cadenza.nan_to_num_(c, 0.0, 5.0), torch.nan_to_num_(t, 0.0, 5.0)
    _close(c, t)
    c, t = _pair(_rand(6))
    cadenza.manual_seed(0)
    out = cadenza.dropout_(c, 0.5, True)
    assert out is c and ((c == 0) | (c != 0)).all()
    cadenza.dropout_(c, 0.5, False)


def test_feature_dropout_zeroes_whole_channels():
    cadenza.manual_seed(0)
    x = cadenza.ones(8, 16, 3, 3)
    y = cadenza.feature_dropout(x, 0.5, True)
    per_channel = y.reshape(8, 16, 9)
    assert ((per_channel == 0).all(-1) | (per_channel == 2.0).all(-1)).all()
    assert 0.2 < float((per_channel[..., 0] == 0).float().mean()) < 0.8
    assert cadenza.feature_dropout(x, 0.5, False) is x
    assert float(cadenza.feature_alpha_dropout(x, 0.5, False).sum()) == float(x.sum())


def test_finfo_matches_torch():
    for name in ("float32", "float64", "float16", "bfloat16", "complex64", "complex128"):
        c, t = cadenza.finfo(getattr(cadenza, name)), torch.finfo(getattr(torch, name))
        for attr in ("bits", "eps", "max", "min", "tiny", "smallest_normal", "resolution",
                     "dtype"):
            assert getattr(c, attr) == getattr(t, attr), (name, attr)
        assert repr(c) == repr(t)
    assert cadenza.finfo().eps == torch.finfo().eps
    with pytest.raises(TypeError, match="floating point"):
        cadenza.finfo(cadenza.int32)
    # the usual attention-mask idiom
    assert cadenza.finfo(cadenza.float32).min == torch.finfo(torch.float32).min


def test_iinfo_matches_torch():
    for name in ("int8", "uint8", "int16", "int32", "int64"):
        c, t = cadenza.iinfo(getattr(cadenza, name)), torch.iinfo(getattr(torch, name))
        assert (c.bits, c.max, c.min, c.dtype) == (t.bits, t.max, t.min, t.dtype)
        assert repr(c) == repr(t)
    with pytest.raises(TypeError):
        cadenza.iinfo(cadenza.bool)
    with pytest.raises(TypeError, match="integer"):
        cadenza.iinfo(cadenza.float32)


def test_constants_and_memory_formats():
    assert (cadenza.pi, cadenza.e, cadenza.inf) == (torch.pi, torch.e, torch.inf)
    assert math.isnan(cadenza.nan)
    x = cadenza.ones(2, 3, 4, 5)
    assert x.is_contiguous() and x.is_contiguous(memory_format=cadenza.contiguous_format)
    assert not x.is_contiguous(memory_format=cadenza.channels_last)
    nhwc = cadenza.from_numpy(np.ones((2, 4, 5, 3)).transpose(0, 3, 1, 2))
    assert nhwc.is_contiguous(memory_format=cadenza.channels_last)
    assert not cadenza.ones(3).is_contiguous(memory_format=cadenza.channels_last)
    y = x.to(memory_format=cadenza.channels_last)     # accepted; values unchanged
    assert y.shape == x.shape and bool((y == x).all())
    assert isinstance(cadenza.channels_last, cadenza.memory_format)


def test_tensor_functions_match_torch():
    ci, ti = _idx(5, 7, 8, -1)
    _close(cadenza.unravel_index(ci, (2, 4)), torch.unravel_index(ti, (2, 4)))
    _close(cadenza.unravel_index(cadenza.tensor(5), (2, 4)),
           torch.unravel_index(torch.tensor(5), (2, 4)))
    with pytest.raises(TypeError, match="integer"):
        cadenza.unravel_index(cadenza.tensor([1.0]), (2,))
    a, b = _idx(1, 2, 3), _idx(2, 5)
    _close(cadenza.isin(a[0], b[0]), torch.isin(a[1], b[1]))
    _close(cadenza.isin(a[0], b[0], invert=True), torch.isin(a[1], b[1], invert=True))
    _close(cadenza.isin(2, a[0]), torch.isin(2, a[1]))
    _close(cadenza.isin(a[0], 2), torch.isin(a[1], 2))
    _close(cadenza.scalar_tensor(3), torch.scalar_tensor(3))
    _close(cadenza.scalar_tensor(True), torch.scalar_tensor(True))
    _close(cadenza.scalar_tensor(2, dtype=cadenza.int64), torch.scalar_tensor(2, dtype=torch.int64))
    parts_c = [cadenza.tensor([1, 2]), cadenza.tensor([[3], [4]])]
    parts_t = [torch.tensor([1, 2]), torch.tensor([[3], [4]])]
    _close(cadenza.column_stack(parts_c), torch.column_stack(parts_t))
    pc, pt = [cadenza.tensor([1, 2]), cadenza.tensor([3, 4])], [torch.tensor([1, 2]),
                                                                  torch.tensor([3, 4])]
    _close(cadenza.dstack(pc), torch.dstack(pt))
    _close(cadenza.row_stack(pc), torch.row_stack(pt))
    _close(cadenza.rsub(cadenza.tensor([1, 2]), 2.5), torch.rsub(torch.tensor([1, 2]), 2.5))
    _close(cadenza.fill(cadenza.tensor([1, 2]), 2.7), torch.fill(torch.tensor([1, 2]), 2.7))
    cx, tx = _pair(_rand(3), True)
    cv, tv = _pair(np.array(1.5), True)
    c, t = cadenza.fill(cx, cv), torch.fill(tx, tv)
    _close(c, t)
    (c * cadenza.tensor([1.0, 2.0, 3.0], dtype=cadenza.float64)).sum().backward()
    (t * torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64)).sum().backward()
    _close(cv.grad, tv.grad)
    assert cx.grad is None or not bool(cx.grad.any())
    cz, tz = cadenza.tensor([1 + 0j, 2 + 1j]), torch.tensor([1 + 0j, 2 + 1j])
    _close(cadenza.isreal(cz), torch.isreal(tz))
    _close(cadenza.isreal(cadenza.ones(2)), torch.isreal(torch.ones(2)))
    assert cadenza.is_same_size(cadenza.ones(2), cadenza.zeros(2))
    assert not cadenza.is_same_size(cadenza.ones(2), cadenza.zeros(3))
    assert cadenza.is_signed(cadenza.ones(2)) and not cadenza.is_signed(cadenza.ones(2).byte())
    assert cadenza.get_device(cadenza.ones(2)) == torch.get_device(torch.ones(2))
    assert cadenza.is_inference(cadenza.ones(2)) is False


def test_typename_names_torch_types():
    assert cadenza.typename(cadenza.ones(2)) == torch.typename(torch.ones(2))
    assert cadenza.typename(cadenza.ones(2).long()) == torch.typename(torch.ones(2).long())
    assert cadenza.typename(cadenza.nn.Linear(1, 1)) == torch.typename(torch.nn.Linear(1, 1))
    assert cadenza.typename(3) == torch.typename(3)
    assert cadenza.typename(np.ones(2)) == torch.typename(np.ones(2))


def test_cond_runs_the_chosen_branch():
    x = cadenza.tensor([1.0, 2.0])
    assert cadenza.cond(x.sum() > 0, lambda v: v * 2, lambda v: v - 1, (x,)).tolist() == [2, 4]
    assert cadenza.cond(False, lambda v: v * 2, lambda v: v - 1, [x]).tolist() == [0, 1]
    with pytest.raises(RuntimeError, match="single"):
        cadenza.cond(x > 0, lambda v: v, lambda v: v, (x,))


def test_process_switches():
    assert cadenza.get_default_device() == cadenza.device("cpu")
    cadenza.set_default_device("cpu")
    cadenza.set_default_device(None)
    with pytest.raises(RuntimeError, match="default"):
        cadenza.set_default_device("cuda")
    assert cadenza.set_flush_denormal(False) is True
    cadenza.set_warn_always(True)
    assert cadenza.is_warn_always_enabled()
    cadenza.set_warn_always(False)
    assert not cadenza.is_warn_always_enabled()
    old = cadenza.get_default_dtype()
    try:
        cadenza.set_default_tensor_type(cadenza.DoubleTensor)
        assert cadenza.get_default_dtype() is cadenza.float64
        cadenza.set_default_tensor_type("torch.FloatTensor")
        assert cadenza.get_default_dtype() is cadenza.float32
        with pytest.raises(TypeError):
            cadenza.set_default_tensor_type(cadenza.LongTensor)
    finally:
        cadenza.set_default_dtype(old)


def test_anomaly_and_autocast_queries():
    assert cadenza.is_anomaly_enabled() is False
    cadenza.set_anomaly_enabled(True, check_nan=False)
    try:
        assert cadenza.is_anomaly_enabled() and not cadenza.is_anomaly_check_nan_enabled()
    finally:
        cadenza.set_anomaly_enabled(False)
    assert cadenza.is_anomaly_check_nan_enabled()
    assert cadenza.is_autocast_enabled("cpu") is False
    assert cadenza.get_autocast_dtype("cpu") is cadenza.bfloat16
    assert cadenza.get_autocast_dtype("cuda") is cadenza.float16
    with cadenza.autocast("cpu"):
        assert cadenza.is_autocast_enabled("cpu") and cadenza.is_autocast_cpu_enabled()
        assert cadenza.get_autocast_cpu_dtype() is cadenza.bfloat16
    assert cadenza.GradScaler is cadenza.amp.GradScaler
    assert cadenza.OutOfMemoryError is cadenza.cuda.OutOfMemoryError
    assert issubclass(cadenza.OutOfMemoryError, RuntimeError)


def test_norm_except_dim_matches_torch():
    a = _rand(3, 4, 5)
    for dim in (-1, 0, 1, 2):
        for p in (2, 1):
            c, t = _pair(a)
            _close(cadenza.norm_except_dim(c, p, dim), torch.norm_except_dim(t, p, dim))


COPY_CASES = [
    ("alias_copy", ()), ("detach_copy", ()), ("t_copy", ()), ("permute_copy", ((1, 0),)),
    ("transpose_copy", (0, 1)), ("expand_copy", ((2, 3, 4),)), ("diagonal_copy", (1,)),
    ("select_copy", (1, 2)), ("slice_copy", (1, 1, 3)), ("slice_copy", (0, None, None, 2)),
    ("squeeze_copy", ()), ("unsqueeze_copy", (1,)), ("unfold_copy", (1, 2, 1)),
    ("view_copy", ((4, 3),)), ("as_strided_copy", ((2, 2), (1, 4), 1)),
    ("split_copy", (3, 1)), ("split_with_sizes_copy", ([1, 3], 1)), ("unbind_copy", (1,))]


@pytest.mark.parametrize("name,args", COPY_CASES)
def test_copy_forms_of_views(name, args):
    a = _rand(3, 4)
    c, t = _pair(a, requires_grad=True)
    rc, rt = getattr(cadenza, name)(c, *args), getattr(torch, name)(t, *args)
    _close(rc, rt)
    outs = rc if isinstance(rc, tuple) else (rc,)
    for o in outs:
        assert o.is_contiguous() and o.storage_offset() == 0   # fresh memory
    touts = rt if isinstance(rt, tuple) else (rt,)
    if name == "detach_copy":   # (torch's requires grad, with "derivative not implemented")
        assert not outs[0].requires_grad
    else:
        assert [o.requires_grad for o in outs] == [o.requires_grad for o in touts]
    if outs[0].requires_grad:
        w = [_rand(*o.shape, seed=i + 1) for i, o in enumerate(outs)]
        sum((o * cadenza.tensor(x)).sum() for o, x in zip(outs, w)).backward()
        sum((o * torch.tensor(x)).sum() for o, x in zip(touts, w)).backward()
        np.testing.assert_allclose(c.grad.numpy(), t.grad.numpy(), rtol=1e-12)
    with cadenza.no_grad():
        outs[0].reshape(-1)[0] = 100.0
    assert c.detach().numpy()[0, 0] == a[0, 0]   # writing the copy leaves the input alone


@pytest.mark.parametrize("name,args", [("eig", ()), ("symeig", ()), ("solve", (None,)),
                                       ("lstsq", (None,)), ("matrix_rank", ())])
def test_removed_functions_raise_torchs_message(name, args):
    c, t = _pair(np.eye(2))
    with pytest.raises(RuntimeError) as et:
        getattr(torch, name)(t, *[t for _ in args])
    with pytest.raises(RuntimeError) as ec:
        getattr(cadenza, name)(c, *[c for _ in args])
    assert str(ec.value) == str(et.value)
    if name != "matrix_rank":   # the Tensor method too
        with pytest.raises(RuntimeError) as et:
            getattr(t, name)(*[t for _ in args])
        with pytest.raises(RuntimeError) as ec:
            getattr(c, name)(*[c for _ in args])
        assert str(ec.value) == str(et.value)


def test_empty_strided_and_deprecated_norms():
    for size, stride in (((2, 3), (1, 2)), ((2, 3), (3, 1)), ((4,), (2,)), ((0, 3), (3, 1))):
        ec, et = cadenza.empty_strided(size, stride), torch.empty_strided(size, stride)
        assert tuple(ec.shape) == tuple(et.shape) and ec.stride() == et.stride()
        assert ec.is_contiguous() == et.is_contiguous()
    c, t = _pair(_rand(3, 4), requires_grad=True)
    for fc, ft in ((lambda x: cadenza.frobenius_norm(x, (0, 1)),
                    lambda x: torch.frobenius_norm(x, (0, 1))),
                   (lambda x: cadenza.frobenius_norm(x, [1], True),
                    lambda x: torch.frobenius_norm(x, [1], True)),
                   (cadenza.nuclear_norm, torch.nuclear_norm),
                   (lambda x: cadenza.nuclear_norm(x, True),
                    lambda x: torch.nuclear_norm(x, True))):
        c.grad = t.grad = None
        with pytest.warns(UserWarning, match="deprecated"):   # (torch warns once a process)
            rc = fc(c)
        rt = ft(t)
        _close(rc, rt)
        rc.sum().backward()
        rt.sum().backward()
        np.testing.assert_allclose(c.grad.numpy(), t.grad.numpy(), rtol=1e-9)


@pytest.mark.parametrize("edge_order", [1, 2])
def test_gradient_with_coordinates(edge_order):
    a = _rand(4, 5)
    xs = [np.array([0.0, 0.5, 2.0, 2.5]), np.array([1.0, 2.0, 4.0, 7.0, 7.5])]
    c, t = _pair(a, requires_grad=True)
    rc = cadenza.gradient(c, spacing=[cadenza.tensor(x) for x in xs], edge_order=edge_order)
    rt = torch.gradient(t, spacing=[torch.tensor(x) for x in xs], edge_order=edge_order)
    _close(rc, rt, atol=1e-12)
    w = _rand(4, 5, seed=3)
    (rc[0] * cadenza.tensor(w) + rc[1]).sum().backward()
    (rt[0] * torch.tensor(w) + rt[1]).sum().backward()
    np.testing.assert_allclose(c.grad.numpy(), t.grad.numpy(), rtol=1e-10, atol=1e-12)
    ci, ti = cadenza.arange(12).reshape(3, 4), torch.arange(12).reshape(3, 4)
    _close(cadenza.gradient(ci, dim=1), torch.gradient(ti, dim=1))   # integers: default float
