"""Record what torchvision's detection builders and backbone helpers make into
tests/vision/fixtures/detection_builders.npz (run ONCE, by hand; CI has no torchvision): the
names of the parameters each ``trainable_layers`` setting freezes, and the state-dict keys
(with shapes) of builders test_detection.py does not cover. Set torchvision up as
record_fixtures.py says, then:

    PYTHONPATH=/tmp/tvpkg python tests/vision/record_detection_builders.py

The settings come from _detection_builders.py, shared with test_detection_builders.py."""
import os
import sys
import types
import warnings

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import _detection_builders as cases  # noqa: E402


def main():
    sys.modules.setdefault("torchvision._meta_registrations", types.ModuleType("stub"))
    import torch
    import torchvision.models.detection as det
    from torchvision.models import mobilenetv2, mobilenetv3, resnet
    from torchvision.models.detection import backbone_utils as bu
    from torchvision.ops import FrozenBatchNorm2d
    families = {"resnet": resnet, "mobilenet_v2": mobilenetv2, "mobilenet_v3": mobilenetv3}
    out = {}
    norms = {"BatchNorm2d": torch.nn.BatchNorm2d, "FrozenBatchNorm2d": FrozenBatchNorm2d}
    for tag, (family, name, norm, extract) in cases.FREEZING.items():
        net = getattr(families[family], name)(weights=None, norm_layer=norms[norm])
        for k in cases.layer_counts(tag):
            cases.unfreeze(net)
            module = getattr(bu, extract[0])(net, *extract[1:], k)
            out[f"{tag}/{k}/frozen"] = np.array(cases.frozen(module), dtype=str)
            if k == 0:
                out[f"{tag}/keys"] = np.array(cases.keys(module), dtype=str)
    for name, kwargs in cases.BUILDERS.items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # trainable_backbone_layers without weights
            model = getattr(det, name)(**kwargs)
        out[f"{name}/keys"] = np.array(cases.keys(model), dtype=str)
        out[f"{name}/settings"] = np.array(cases.settings(model), dtype=float)
    np.savez_compressed(os.path.join(HERE, "fixtures", "detection_builders.npz"), **out)
    print({k: v.shape for k, v in out.items()})


if __name__ == "__main__":
    main()
