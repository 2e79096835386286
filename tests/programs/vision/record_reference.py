"""Record the outcomes of these programs under real PyTorch + torchvision into reference.json
(run ONCE, by hand; CI runs the programs under cadenza.compat and compares). The OUTCOME line
each program prints is stored; the tolerances in TOLERANCES say how far Cadenza's outcome may
be (different random streams: initial weights, shuffling and augmentation differ).

    pip download --no-deps torchvision==0.28.0 -d /tmp/tvdl
    mkdir -p /tmp/tvpkg && unzip -q -o /tmp/tvdl/torchvision-0.28.0-*.whl -d /tmp/tvpkg
    PYTHONPATH=/tmp/tvpkg python tests/programs/vision/record_reference.py [program ...]

torchvision's C ops do not load with the CPU build of torch: an empty
``torchvision._meta_registrations`` module is installed first (the programs use only its pure
Python parts; detection_finetune runs with record_detection.py's PyTorch nms and roi_align)."""
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
PROGRAMS = ["mnist_mlp", "fashion_cnn", "cifar_resnet", "dcgan", "vae", "super_resolution",
            "resnet_finetune", "detection_finetune", "imagefolder_v2", "fakedata_amp",
            "focal_segmentation"]

# metric -> (absolute tolerance); booleans must be equal
TOLERANCES = {
    "mnist_mlp": {"accuracy": 0.1, "test_loss": 0.3},
    "fashion_cnn": {"accuracy": 0.15, "test_loss": 0.3},
    # 15 SGD steps of a ResNet-18: the outcome swings with the initial weights and batches
    "cifar_resnet": {"accuracy": 0.3, "last_epoch_loss": 1.2},
    "dcgan": {"D_x_last_epoch": 0.25, "D_G_z_last_epoch": 0.25},
    "vae": {"test_loss": 15.0, "train_loss": 15.0},
    "super_resolution": {"psnr_db": 1.5},
    # 50 SGD steps of layer4 + head on random frozen features: swings with the initial weights
    "resnet_finetune": {"best_val_acc": 0.2, "last_val_loss": 0.6},
    # 4 SGD steps of a randomly initialised Faster R-CNN: the losses swing with the weights
    "detection_finetune": {"first_loss": 0.6, "last_loss": 0.6, "mean_best_iou": 0.35},
    # 10 epochs on 180 generated PNGs through ImageFolder + transforms.v2
    "imagefolder_v2": {"accuracy": 0.12, "val_loss": 0.35},
    # 12 OneCycle steps of a ResNet-18 on FakeData noise with CutMix/MixUp: barely moves from
    # chance; the check is that it runs and stays near torch's loss (no NaN, no blow-up)
    "fakedata_amp": {"eval_loss": 0.25, "top5": 0.25},
    # 60 AdamW steps on generated rectangles: the foreground is learned almost exactly
    "focal_segmentation": {"fg_iou": 0.1, "mean_best_box_iou": 0.15},
}

# torchvision's nms / roi_align C ops are replaced by record_detection.py's PyTorch versions
# (detection_finetune needs them)
VISION_TESTS = os.path.join(os.path.dirname(os.path.dirname(HERE)), "vision")
RUNNER = ("import sys, types, runpy; "
          "sys.modules['torchvision._meta_registrations'] = types.ModuleType('stub'); "
          f"sys.path.insert(0, {VISION_TESTS!r}); import record_detection; "
          "tv, _ = record_detection._torchvision(); sys.path.pop(0); "
          "tv.ops.nms = tv.ops.boxes.nms; "
          "sys.argv = [sys.argv[1]]; runpy.run_path(sys.argv[0], run_name='__main__')")


def outcome(stdout):
    lines = [ln for ln in stdout.splitlines() if ln.startswith("OUTCOME ")]
    if not lines:
        raise RuntimeError("no OUTCOME line in:\n" + stdout[-2000:])
    return json.loads(lines[-1][len("OUTCOME "):])


def main(names):
    path = os.path.join(HERE, "reference.json")
    ref = json.load(open(path)) if os.path.exists(path) else {}
    for name in names:
        with tempfile.TemporaryDirectory() as tmp:
            r = subprocess.run([sys.executable, "-c", RUNNER, os.path.join(HERE, name + ".py")],
                               cwd=tmp, capture_output=True, text=True, timeout=1800)
        if r.returncode:
            raise RuntimeError(f"{name} failed under torch:\n{r.stdout}\n{r.stderr}")
        ref[name] = {"outcome": outcome(r.stdout), "tolerance": TOLERANCES[name]}
        print(name, ref[name])
    with open(path, "w") as f:
        json.dump(ref, f, indent=1, sort_keys=True)


if __name__ == "__main__":
    main(sys.argv[1:] or PROGRAMS)
