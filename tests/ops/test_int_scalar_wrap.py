"""A Python int beyond an integer tensor's dtype wraps around as torch converts it (NumPy 2
raised OverflowError): arithmetic, comparisons, floor division and clamp, against torch."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")
import cadenza  # noqa: E402

CASES = [
    ("uint8", lambda x: x + (-1)), ("uint8", lambda x: x * -3), ("uint8", lambda x: x - 300),
    ("uint8", lambda x: x // -3), ("uint8", lambda x: x == -1), ("uint8", lambda x: x > -1),
    ("uint8", lambda x: x < 300), ("uint8", lambda x: x.clamp(min=-5)),
    ("uint8", lambda x: x / -3), ("int8", lambda x: x + 200), ("int8", lambda x: x % -3),
    ("uint8", lambda x: x.div(-3, rounding_mode="floor")), ("int16", lambda x: x * 70000),
]


@pytest.mark.parametrize("dtype,fn", CASES)
def test_out_of_range_int_scalar_matches_torch(dtype, fn):
    data = np.array([255, 6, 0] if dtype == "uint8" else [5, -7, 0], dtype=dtype)
    want = fn(torch.tensor(data))
    got = fn(cadenza.tensor(data))
    assert str(got.dtype).split(".")[-1] == str(want.dtype).split(".")[-1]
    np.testing.assert_array_equal(got.numpy(), want.numpy())
