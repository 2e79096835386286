"""torch.backends.cuda's scaled-dot-product-attention switches and the deprecated
``sdp_kernel`` context manager, and torch.cuda.is_initialized, as torch reports them on a
machine without CUDA."""
import warnings

import pytest

import cadenza
import cadenza.nn.functional as F

torch = pytest.importorskip("torch")


def _state(lib):
    c = lib.backends.cuda
    return (c.flash_sdp_enabled(), c.mem_efficient_sdp_enabled(), c.math_sdp_enabled(),
            c.cudnn_sdp_enabled())


def test_sdp_switches_and_sdp_kernel_match_torch():
    for lib in (cadenza, torch):
        before = _state(lib)
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            with lib.backends.cuda.sdp_kernel(enable_flash=False, enable_mem_efficient=False):
                inside = _state(lib)
                q = lib.ones(1, 2, 3, 4)
                assert tuple(lib.nn.functional.scaled_dot_product_attention(q, q, q).shape) == \
                    (1, 2, 3, 4)
        assert any(issubclass(x.category, FutureWarning) for x in w)
        lib.backends.cuda.enable_math_sdp(False)
        off = lib.backends.cuda.math_sdp_enabled()
        lib.backends.cuda.enable_math_sdp(True)
        assert _state(lib) == before
        if lib is cadenza:
            mine = (before, inside, off)
        else:
            assert mine == (before, inside, off)
    assert cadenza.cuda.is_initialized() == torch.cuda.is_initialized() is False
    assert F.scaled_dot_product_attention is not None
