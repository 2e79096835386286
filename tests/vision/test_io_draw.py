"""cadenza.vision.io (PNG/JPEG through Pillow) and utils.draw_bounding_boxes /
draw_segmentation_masks vs torchvision's recorded outputs (fixtures/draw.npz)."""
import os
import sys

import numpy as np
import pytest

import cadenza as torch
from cadenza.vision import io, utils

pytest.importorskip("PIL.Image")
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import _cases  # noqa: E402

REF = np.load(os.path.join(HERE, "fixtures", "draw.npz"))


@pytest.mark.parametrize("name,fn,kw", _cases.draw_cases())
def test_drawing_matches_torchvision(name, fn, kw):
    img, arg = _cases.draw_inputs(torch.from_numpy, fn)
    out = getattr(utils, fn)(img, arg, **kw)
    assert out.dtype is torch.uint8
    np.testing.assert_array_equal(out.numpy(), REF[name])


def test_drawing_errors():
    img = torch.zeros(3, 10, 10, dtype=torch.uint8)
    with pytest.raises(ValueError, match="uint8"):
        utils.draw_bounding_boxes(img.float(), torch.tensor([[0.0, 0, 1, 1]]))
    with pytest.raises(ValueError, match="xmin"):
        utils.draw_bounding_boxes(img, torch.tensor([[5.0, 0, 1, 1]]))
    with pytest.raises(ValueError, match="labels"):
        utils.draw_bounding_boxes(img, torch.tensor([[0.0, 0, 1, 1]]), labels=["a", "b"])
    with pytest.raises(ValueError, match="bool"):
        utils.draw_segmentation_masks(img, torch.ones(10, 10))
    gray = utils.draw_bounding_boxes(torch.zeros(1, 10, 10, dtype=torch.uint8),
                                     torch.tensor([[1.0, 1, 8, 8]]), colors="white")
    assert tuple(gray.shape) == (1, 10, 10) and int(gray.max()) > 0


def test_png_round_trip_and_modes(tmp_path):
    rs = np.random.RandomState(0)
    for c in (1, 3, 4):
        img = torch.from_numpy(rs.randint(0, 256, (c, 9, 13)).astype(np.uint8))
        path = str(tmp_path / f"im{c}.png")
        io.write_png(img, path, compression_level=9)
        back = io.read_image(path)
        np.testing.assert_array_equal(back.numpy(), img.numpy())
        data = io.read_file(path)
        assert data.dtype is torch.uint8 and data.dim() == 1
        np.testing.assert_array_equal(io.decode_image(data).numpy(), img.numpy())
    rgb = io.read_image(str(tmp_path / "im4.png"), io.ImageReadMode.RGB)
    assert tuple(rgb.shape) == (3, 9, 13)
    g = io.read_image(str(tmp_path / "im3.png"), mode=io.ImageReadMode.GRAY)
    assert tuple(g.shape) == (1, 9, 13)
    enc = io.encode_png(torch.from_numpy(rs.randint(0, 256, (3, 4, 4)).astype(np.uint8)))
    assert bytes(enc.numpy()[:8].tobytes()) == b"\x89PNG\r\n\x1a\n"


def test_jpeg_round_trip(tmp_path):
    y, x = np.mgrid[0:32, 0:32]
    img = torch.from_numpy(np.stack([x * 8, y * 8, (x + y) * 4]).astype(np.uint8))
    path = str(tmp_path / "a.jpg")
    io.write_jpeg(img, path, quality=95)
    back = io.decode_jpeg(io.read_file(path))
    assert back.dtype is torch.uint8 and tuple(back.shape) == (3, 32, 32)
    assert np.abs(back.numpy().astype(int) - img.numpy()).mean() < 3
    with pytest.raises(ValueError, match="quality"):
        io.encode_jpeg(img, quality=0)
    with pytest.raises(ValueError, match="alpha"):
        io.encode_jpeg(torch.zeros(4, 3, 3, dtype=torch.uint8))
    with pytest.raises(ValueError, match="1-d uint8"):
        io.decode_image(torch.zeros(3, 3))
