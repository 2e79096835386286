"""Record torchvision's SSD / SSDlite / Keypoint R-CNN outputs into
tests/vision/fixtures/detection_more.npz (run ONCE, by hand; CI has no torchvision). Set
torchvision up as record_fixtures.py says, then:

    PYTHONPATH=/tmp/tvpkg python tests/vision/record_detection_more.py

NMS is torchvision's compiled kernel: this script loads _C.so the way record_vision_ops.py
does. Weights are _model_weights.fill's deterministic draws (then _detection_more.damp);
inputs and settings come from _detection_more.py, shared with test_detection_more.py."""
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import _model_weights as mw  # noqa: E402
import _detection_more as cases  # noqa: E402
from record_vision_ops import _ensure_loadable  # noqa: E402


def _run(torch, model, images, targets, prefix, out):
    model.eval()
    with torch.no_grad():
        dets = model([torch.from_numpy(im) for im in images])
    for i, d in enumerate(dets):
        for k, v in d.items():
            out[f"{prefix}/eval/{i}/{k}"] = v.numpy()
    model.train()
    losses = model([torch.from_numpy(im) for im in images],
                   [{k: torch.from_numpy(v) for k, v in t.items()} for t in targets])
    for k, v in losses.items():
        out[f"{prefix}/train/{k}"] = v.detach().numpy()


def main():
    import torch
    from torchvision import ops
    from torchvision.models import detection as det
    out = {}
    for name in cases.KEY_BUILDERS:
        with torch.device("meta"):
            model = getattr(det, name)(weights=None, weights_backbone=None)
        out[f"{name}/keys"] = np.array(cases.keys(model))
    from torchvision import models
    from torchvision.models import _api
    with torch.device("meta"):
        cases.fake_backbone_weights(_api, models)
        for name, counts in cases.FREEZING.items():
            for count in counts:
                model = getattr(det, name)(num_classes=3, trainable_backbone_layers=count)
                out[f"{name}/frozen/{count}"] = np.array(cases.frozen(model))
    images, targets = cases.model_inputs()
    for name, kw in cases.RUN.items():
        model = getattr(det, name)(**kw)
        mw.fill(model.state_dict(), torch.from_numpy)
        cases.damp(model.state_dict())
        _run(torch, model, images, targets, name, out)
    images, targets = cases.tiny_inputs()
    for tag, kw in cases.TINY.items():
        model = cases.tiny_ssd(det, torch.nn, **kw)
        mw.fill(model.state_dict(), torch.from_numpy)
        _run(torch, model, images, targets, f"tiny/{tag}", out)
    images, targets = cases.keypoint_inputs()
    model = cases.tiny_keypoint_rcnn(det, torch.nn, ops)
    mw.fill(model.state_dict(), torch.from_numpy)
    _run(torch, model, images, targets, "keypoint", out)
    path = os.path.join(HERE, "fixtures", "detection_more.npz")
    np.savez_compressed(path, **out)
    print(path, os.path.getsize(path), "bytes", len(out), "arrays")


if __name__ == "__main__":
    _ensure_loadable()
    main()
