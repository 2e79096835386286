"""Record torchvision's outputs for _detection_parts.py's cases into
tests/vision/fixtures/detection_parts.npz (run ONCE, by hand; CI has no torchvision):

    PYTHONPATH=/tmp/tvpkg python tests/vision/record_detection_parts.py

torchvision is set up as record_detection.py does (its pure-PyTorch NMS stands in for the C
op that does not load on the CPU build of torch)."""
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import _detection_parts as parts  # noqa: E402
import record_detection  # noqa: E402


def main():
    tv, torch = record_detection._torchvision()
    out = {}
    for name, case in parts.CASES.items():
        torch.manual_seed(0)
        out.update({f"{name}/{k}": v for k, v in case(torch, tv.models.detection).items()})
    path = os.path.join(HERE, "fixtures", "detection_parts.npz")
    np.savez_compressed(path, **out)
    print(path, os.path.getsize(path), "bytes")


if __name__ == "__main__":
    main()
