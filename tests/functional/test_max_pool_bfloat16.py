"""max_pool2d on bfloat16 inputs (a model cast with .to(torch.bfloat16)), padded and not, as
torch computes it (bfloat16 is NumPy kind 'V': padding must still be -inf)."""
import numpy as np
import pytest

import cadenza
import cadenza.nn.functional as F

torch = pytest.importorskip("torch")


@pytest.mark.parametrize("kw", [dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1),
                                dict(kernel_size=3, stride=1, padding=1, ceil_mode=True)])
def test_max_pool2d_bfloat16_matches_torch(kw):
    a = np.random.default_rng(0).standard_normal((2, 3, 7, 6)).astype(np.float32) - 3
    got = F.max_pool2d(cadenza.tensor(a).to(cadenza.bfloat16), **kw)
    want = torch.nn.functional.max_pool2d(torch.tensor(a).to(torch.bfloat16), **kw)
    assert str(got.dtype).endswith("bfloat16")
    np.testing.assert_array_equal(got.float().numpy(), want.float().numpy())
