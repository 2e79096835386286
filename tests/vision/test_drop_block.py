"""torchvision.ops.drop_block2d / drop_block3d / DropBlock2d / DropBlock3d. torchvision is not a
dependency: its figures (mean dropped fraction over 50 draws, reprs, error messages) were taken
from torchvision 0.28 as a black-box oracle and are written here."""
import pytest

import cadenza as torch
import cadenza.nn.functional as F
from cadenza.vision import ops
from cadenza.vision.ops.drop_block import DropBlock2d, DropBlock3d


def test_dropped_fraction_matches_torchvision():
    torch.manual_seed(0)
    f2 = sum((ops.drop_block2d(torch.ones(8, 4, 24, 24), 0.2, 5) == 0).float().mean().item()
             for _ in range(50)) / 50
    f3 = sum((ops.drop_block3d(torch.ones(4, 2, 10, 10, 10), 0.3, 3) == 0).float().mean().item()
             for _ in range(50)) / 50
    assert abs(f2 - 0.1791) < 0.006 and abs(f3 - 0.2516) < 0.006, (f2, f3)


def test_blocks_scale_and_gradient():
    torch.manual_seed(1)
    x = torch.ones(2, 3, 20, 20, requires_grad=True)
    y = ops.drop_block2d(x, 0.15, 5)
    zero = (y == 0).float()
    # the dropped set is a union of whole 5x5 squares: a morphological opening leaves it as is
    eroded = -F.max_pool2d(-zero, 5, stride=1, padding=2)
    assert torch.equal(F.max_pool2d(eroded, 5, stride=1, padding=2), zero)
    kept = (y != 0).sum().item()
    assert 0 < kept < y.numel()
    assert torch.allclose(y[y != 0], torch.full((kept,), y.numel() / (1e-6 + kept)))
    y.sum().backward()
    assert torch.equal(x.grad, y.detach())


def test_identity_cases_errors_and_modules():
    x = torch.ones(2, 2, 5, 5)
    assert ops.drop_block2d(x, 0.0, 3) is x
    assert ops.drop_block2d(x, 0.5, 3, training=False) is x
    assert torch.equal(ops.drop_block2d(x, 1.0, 7), torch.zeros(2, 2, 5, 5))  # block clipped
    with pytest.raises(ValueError, match="input should be 4 dimensional. Got 3 dimensions."):
        ops.drop_block2d(torch.ones(3, 4, 4), 0.1, 3)
    with pytest.raises(ValueError, match="input should be 5 dimensional. Got 4 dimensions."):
        ops.drop_block3d(x, 0.1, 3)
    with pytest.raises(ValueError, match="between 0 and 1, but got 1.5"):
        ops.drop_block2d(x, 1.5, 3)
    with pytest.raises(ValueError, match="block size should be odd. Got 4 which is even."):
        ops.drop_block2d(x, 0.1, 4)
    assert repr(DropBlock2d(0.1, 5)) == "DropBlock2d(p=0.1, block_size=5, inplace=False)"
    assert repr(DropBlock3d(0.2, 3, inplace=True)) == \
        "DropBlock3d(p=0.2, block_size=3, inplace=True)"
    m = ops.DropBlock2d(0.3, 3, inplace=True)
    z = torch.ones(1, 1, 8, 8)
    assert m(z) is z
    m.eval()
    assert torch.equal(m(torch.ones(1, 1, 8, 8)), torch.ones(1, 1, 8, 8))
    assert ops.DropBlock3d(0.3, 3)(torch.ones(1, 1, 4, 4, 4)).shape == (1, 1, 4, 4, 4)
