"""The detection building blocks (anchors, box coders, matchers, RPN, transform) on edge cases,
against torchvision (fixtures/detection_parts.npz, recorded by record_detection_parts.py with
the cases of _detection_parts.py), plus their errors and legacy-checkpoint loading."""
import os
import sys

import numpy as np
import pytest

import cadenza as torch
from cadenza.vision.models import detection
from cadenza.vision.models.detection import _utils, anchor_utils, image_list, rpn, transform

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import _detection_parts as parts  # noqa: E402

REF = np.load(os.path.join(HERE, "fixtures", "detection_parts.npz"))
TOL = {"rpn": 2e-5, "transform": 5e-5, "anchors": 0, "coders": 1e-5}


@pytest.mark.parametrize("name", sorted(parts.CASES))
def test_part_matches_torchvision(name):
    torch.manual_seed(0)
    got = parts.CASES[name](torch, detection)
    assert sorted(got) == sorted(k.split("/", 1)[1] for k in REF.files
                                 if k.startswith(name + "/"))
    for key, value in got.items():
        want = REF[f"{name}/{key}"]
        assert value.shape == want.shape and value.dtype == want.dtype, key
        np.testing.assert_allclose(value, want, rtol=TOL[name], atol=TOL[name], err_msg=key)


def test_rpn_head_loads_single_conv_checkpoints():
    """torchvision's version-1 RPNHead keys (conv.weight) load into conv.0.0.weight."""
    head = rpn.RPNHead(3, 2)
    new = {k: v + 1 for k, v in head.state_dict().items()}
    old = dict(new)
    old["conv.weight"], old["conv.bias"] = old.pop("conv.0.0.weight"), old.pop("conv.0.0.bias")
    wrapped = torch.nn.Sequential(rpn.RPNHead(3, 2))
    wrapped.load_state_dict({"0." + k: v for k, v in old.items()})
    for key, value in wrapped[0].state_dict().items():
        np.testing.assert_array_equal(value.numpy(), new[key].numpy())


def test_detection_parts_reject_bad_input():
    with pytest.raises(ValueError, match="No ground-truth boxes"):
        _utils.Matcher(0.7, 0.3)(torch.zeros(0, 5))
    with pytest.raises(ValueError, match="No proposal boxes"):
        _utils.Matcher(0.7, 0.3)(torch.zeros(2, 0))
    with pytest.raises(AssertionError, match="low_threshold"):
        _utils.Matcher(0.3, 0.7)
    with pytest.raises(ValueError, match="decode_single"):
        _utils.BoxCoder((1.0, 1.0, 1.0, 1.0)).decode_single(torch.zeros(3, 6), torch.zeros(3, 4))
    coder = _utils.BoxCoder((1.0, 1.0, 1.0, 1.0))
    assert coder.decode(torch.zeros(0, 8), [torch.zeros(0, 4)]).shape == (0, 8)
    assert coder.encode([torch.zeros(0, 4)], [torch.zeros(0, 4)])[0].shape == (0, 4)
    gen = anchor_utils.AnchorGenerator(((16,), (32,)), ((1.0,), (1.0,)))
    batch = image_list.ImageList(torch.zeros(1, 3, 8, 8), [(8, 8)])
    with pytest.raises(AssertionError, match="2 levels but 1 feature maps"):
        gen(batch, [torch.zeros(1, 1, 2, 2)])
    t = transform.GeneralizedRCNNTransform(8, 12, [0.5] * 3, [0.2] * 3)
    with pytest.raises(ValueError, match=r"3d tensors of shape \[C, H, W\]"):
        t([torch.zeros(5, 7)])
    with pytest.raises(TypeError, match="floating type"):
        t([torch.zeros(3, 5, 7, dtype=torch.uint8)])
    with pytest.raises(AssertionError, match=r"positive height and width.*\[2.0, 1.0, 2.0, 5.0\]"):
        _utils._prepare(t, [torch.zeros(3, 8, 8)],
                        [{"boxes": torch.tensor([[0.0, 0, 1, 1], [2.0, 1, 2, 5]])}], True)
    assert repr(t) == ("GeneralizedRCNNTransform(\n    Normalize(mean=[0.5, 0.5, 0.5], std=[0.2, "
                       "0.2, 0.2])\n    Resize(min_size=(8,), max_size=12, mode='bilinear')\n)")
