"""make_grid and save_image vs torchvision's recorded outputs (fixtures/utils.npz)."""
import io
import os

import numpy as np
import pytest

import cadenza as torch
from cadenza.vision import utils

REF = np.load(os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "utils.npz"))


def _batch():
    rs = np.random.RandomState(7)
    return torch.from_numpy(rs.rand(5, 3, 6, 7).astype(np.float32))


def test_make_grid_matches_torchvision():
    b = _batch()
    cases = {
        "grid_default": utils.make_grid(b),
        "grid_nrow2_pad1": utils.make_grid(b, nrow=2, padding=1, pad_value=0.5),
        "grid_normalize": utils.make_grid(b * 3 - 1, normalize=True),
        "grid_norm_each_range": utils.make_grid(b * 3 - 1, nrow=3, normalize=True,
                                                value_range=(-1, 1), scale_each=True),
        "grid_single_channel": utils.make_grid(b[:, :1], nrow=4),
    }
    for name, got in cases.items():
        np.testing.assert_allclose(got.numpy(), REF[name], rtol=1e-6, atol=1e-6, err_msg=name)
    assert tuple(utils.make_grid(list(b)).shape) == REF["grid_default"].shape
    assert tuple(utils.make_grid(b[0, 0]).shape) == (3, 6, 7)


def test_make_grid_errors():
    with pytest.raises(TypeError, match="tensor or list of tensors"):
        utils.make_grid(np.zeros((2, 3, 4, 4)))
    with pytest.raises(TypeError, match="value_range"):
        utils.make_grid(_batch(), normalize=True, value_range=[0, 1])


def test_save_image_png(tmp_path):
    Image = pytest.importorskip("PIL.Image")
    path = tmp_path / "grid.png"
    utils.save_image(_batch() * 1.2 - 0.1, str(path), nrow=3)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    np.testing.assert_array_equal(np.asarray(Image.open(path)), REF["save_image_pixels"])
    buf = io.BytesIO()
    utils.save_image(_batch()[0], buf, format="png")
    assert Image.open(io.BytesIO(buf.getvalue())).size == (7, 6)
