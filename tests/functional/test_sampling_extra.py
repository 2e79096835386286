"""Antialiased interpolate, bicubic grid_sample and volumetric grid_sample against torch:
values and float64 gradients on random shapes, scales, padding modes and align_corners
(the op-table entries in tests/ops/opinfo_nn.py add gradcheck and compiled checks)."""
import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import cadenza
import cadenza.nn.functional as F

from functional_helpers import check


def _aa_cases():
    r = np.random.default_rng(0)
    cases = []
    for k in range(90):
        H, W = (int(v) for v in r.integers(1, 10, 2))
        mode = ("bilinear", "bicubic", "lanczos")[k % 3]
        kw = {"mode": mode, "align_corners": bool(k // 3 % 2) and mode != "lanczos",
              "antialias": True}
        if k % 5:
            kw["size"] = tuple(int(v) for v in r.integers(1, 10, 2))
        else:
            kw["scale_factor"] = tuple(float(v) for v in r.uniform(0.3, 2.2, 2))
            if any(int(n * f) < 1 for n, f in zip((H, W), kw["scale_factor"])):
                kw["scale_factor"] = (2.0, 2.0)
            kw["recompute_scale_factor"] = bool(k % 4 == 0)
        cases.append(((2, 2, H, W), kw))
    # torch's forward quirks: an unchanged axis under a scale_factor, output width 1
    cases += [((1, 2, 5, 11), dict(mode="bilinear", scale_factor=(0.83, 1.02), antialias=True)),
              ((1, 1, 8, 9), dict(mode="bicubic", size=(9, 1), antialias=True,
                                  align_corners=True)),
              ((1, 1, 4, 1), dict(mode="bilinear", size=(2, 1), antialias=True)),
              ((1, 1, 6, 7), dict(mode="lanczos", size=(4, 1), antialias=True))]
    return cases


@pytest.mark.parametrize("shape,kw", _aa_cases())
def test_interpolate_antialias(shape, kw):
    x = np.random.default_rng(len(str(kw))).standard_normal(shape)
    check(lambda a: F.interpolate(a, **kw), lambda a: TF.interpolate(a, **kw), x,
          atol=1e-10, rtol=1e-10)
    check(lambda a: F.interpolate(a, **kw), lambda a: TF.interpolate(a, **kw),
          x.astype(np.float32), grad=False, atol=1e-5, rtol=1e-5)


def test_interpolate_antialias_refusals():
    import cadenza
    for args in [((1, 1, 4), dict(size=2, mode="linear")),
                 ((1, 1, 4, 4), dict(size=2, mode="nearest")),
                 ((1, 1, 2, 4, 4), dict(size=2, mode="trilinear"))]:
        with pytest.raises(ValueError, match="Anti-alias option is restricted"):
            F.interpolate(cadenza.ones(*args[0]), antialias=True, **args[1])
        with pytest.raises(ValueError, match="Anti-alias option is restricted"):
            TF.interpolate(torch.ones(*args[0]), antialias=True, **args[1])
    x = cadenza.ones(1, 1, 4, 4)
    with pytest.raises(ValueError, match="Lanczos mode requires antialias=True"):
        F.interpolate(x, size=2, mode="lanczos")
    with pytest.raises(ValueError, match="Lanczos mode does not support align_corners=True"):
        F.interpolate(x, size=2, mode="lanczos", antialias=True, align_corners=True)


def _gs_cases():
    r = np.random.default_rng(1)
    cases = []
    for k in range(72):
        d3 = k % 3 == 0
        mode = ("bilinear", "nearest")[k % 2] if d3 else ("bilinear", "nearest", "bicubic")[k % 3]
        if not d3 and k % 4 == 1:
            mode = "bicubic"
        kw = {"mode": mode, "padding_mode": ("zeros", "border", "reflection")[k // 2 % 3],
              "align_corners": bool(k // 6 % 2)}
        sp = [int(v) for v in r.integers(1, 6, 3 if d3 else 2)]
        osp = [int(v) for v in r.integers(1, 4, 3 if d3 else 2)]
        cases.append(([2, 2] + sp, [2] + osp + [len(sp)], kw))
    return cases


@pytest.mark.parametrize("xshape,gshape,kw", _gs_cases())
def test_grid_sample_bicubic_and_volumetric(xshape, gshape, kw):
    r = np.random.default_rng(len(xshape) * 100 + gshape[1])
    x, g = r.standard_normal(xshape), r.uniform(-2.5, 2.5, gshape)
    check(lambda a, b: F.grid_sample(a, b, **kw), lambda a, b: TF.grid_sample(a, b, **kw),
          x, g, atol=1e-10, rtol=1e-10)
    check(lambda a, b: F.grid_sample(a, b, **kw), lambda a, b: TF.grid_sample(a, b, **kw),
          x.astype(np.float32), g.astype(np.float32), grad=False, atol=1e-5, rtol=1e-5)


def test_grid_sample_errors():
    import cadenza
    for xs, gs, kw, msg in [((1, 1, 2, 2, 2), (1, 1, 1, 1, 3), dict(mode="bicubic"),
                             "bicubic interpolation only supports 4D"),
                            ((1, 1, 2, 2, 2), (1, 1, 1, 2), {}, "same number of dimensions"),
                            ((1, 1, 2, 2, 2), (1, 1, 1, 1, 2), {}, "size 3 in last"),
                            ((1, 1, 2, 2, 2), (2, 1, 1, 1, 3), {}, "same batch size")]:
        with pytest.raises(RuntimeError, match=msg):
            F.grid_sample(cadenza.ones(*xs), cadenza.zeros(*gs), align_corners=False, **kw)
        with pytest.raises(RuntimeError):
            TF.grid_sample(torch.ones(*xs), torch.zeros(*gs), align_corners=False, **kw)


@pytest.mark.parametrize("mode", ["bilinear", "bicubic", "lanczos"])
def test_interpolate_antialias_uint8_bit_exact(mode):
    import cadenza
    r = np.random.default_rng(3)
    for _ in range(20):
        H, W = (int(v) for v in r.integers(1, 30, 2))
        x = r.integers(0, 256, (2, 3, H, W)).astype(np.uint8)
        kw = dict(mode=mode, antialias=True, size=tuple(int(v) for v in r.integers(1, 40, 2)))
        out = F.interpolate(cadenza.tensor(x), **kw)
        assert out.dtype == cadenza.uint8
        np.testing.assert_array_equal(out.numpy(), TF.interpolate(torch.tensor(x), **kw).numpy())


def test_interpolate_bilinear_uint8_bit_exact():
    import cadenza
    r = np.random.default_rng(4)
    for k in range(30):
        H, W = (int(v) for v in r.integers(1, 30, 2))
        x = r.integers(0, 256, (2, 3, H, W)).astype(np.uint8)
        kw = dict(mode="bilinear", align_corners=bool(k % 2))
        if k % 3:
            kw["size"] = tuple(int(v) for v in r.integers(1, 40, 2))
        else:
            kw["scale_factor"] = 1.7
        out = F.interpolate(cadenza.tensor(x), **kw)
        assert out.dtype == cadenza.uint8
        np.testing.assert_array_equal(out.numpy(), TF.interpolate(torch.tensor(x), **kw).numpy())


@pytest.mark.parametrize("align_corners", [False, True])
@pytest.mark.parametrize("shape,size", [((1, 3, 7, 9), (5, 12)), ((2, 1, 16, 16), (9, 31))])
def test_uint8_plain_bicubic_is_torch_integer_kernel(shape, size, align_corners):
    """Plain (not antialiased) bicubic on uint8 runs torch's integer kernel: bit for bit (the
    weights had been cast to uint8 before: values off by up to 255)."""
    a = np.random.default_rng(3).integers(0, 256, size=shape).astype(np.uint8)
    want = torch.nn.functional.interpolate(torch.tensor(a), size=size, mode="bicubic",
                                           align_corners=align_corners).numpy()
    got = cadenza.nn.functional.interpolate(cadenza.tensor(a), size=size, mode="bicubic",
                                            align_corners=align_corners).numpy()
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("mode", ["bilinear", "bicubic"])
def test_other_integer_dtypes_are_refused_as_torch(mode):
    x = np.zeros((1, 1, 4, 4), dtype=np.int32)
    with pytest.raises(NotImplementedError):
        torch.nn.functional.interpolate(torch.tensor(x), size=(3, 3), mode=mode)
    with pytest.raises(NotImplementedError):
        cadenza.nn.functional.interpolate(cadenza.tensor(x), size=(3, 3), mode=mode)
