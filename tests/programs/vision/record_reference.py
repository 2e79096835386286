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
            "focal_segmentation", "mobilenet_steplr", "deeplab_tiny", "roi_fpn_detector",
            "box_regression_v2", "image_registration", "vit_convnext_small",
            "custom_image_dataset", "model_zoo_hub", "efficientnet_ema", "lraspp_segmentation",
            "centernet_ops", "inception_aux", "swin_maxvit_augmix"]

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
    # progvision's programs; tolerances from torch's own spread over SEED=0,1,2
    # 40 Adam steps of a partly frozen MobileNetV3-small: top-1 0.62-0.78 across seeds
    "mobilenet_steplr": {"top1": 0.25, "top3": 0.15, "val_loss": 0.5},
    # 30 SGD steps of a resnet18-trunk DeepLabV3: mean IoU 0.753-0.755 across seeds
    "deeplab_tiny": {"mean_iou": 0.12, "global_acc": 0.04, "val_loss": 0.08,
                     "small_input_acc": 0.06},
    # 60 Adam steps of an FPN + MultiScaleRoIAlign detector: mean best IoU 0.66-0.73
    "roi_fpn_detector": {"mean_best_iou": 0.15, "recall_at_05": 0.25},
    # 32 AdamW steps through a random v2 detection pipeline: test IoU 0.42-0.48; the
    # box/mask agreement depends on the augmentation draws; the checksum is deterministic
    "box_regression_v2": {"test_iou": 0.15, "box_mask_agreement": 0.08,
                          "functional_checksum": 1e-3},
    # deterministic (no RNG): float32 rounding over 120 Adam steps only
    "image_registration": {"final_mse": 2e-4, "theta_err": 1e-3, "loss_level0": 3e-4,
                           "loss_last": 2e-4, "bicubic_reflection_mse": 3e-4,
                           "nearest_zeros_mse": 3e-4, "residual_abs": 1e-3},
    # ViT 0.96 / ConvNeXt 0.46 val acc across seeds; parameter counts are exact
    "vit_convnext_small": {"vit_acc": 0.15, "vit_val_loss": 0.3, "convnext_acc": 0.2,
                           "convnext_val_loss": 0.4, "total_params": 0},
    # 80 Adam steps on 160 PNG/JPEG files read by torchvision.io: accuracy 0.77-0.93, loss
    # 0.37-0.68 across seeds
    "custom_image_dataset": {"accuracy": 0.2, "test_loss": 0.45},
    # vprogs' programs; tolerances from torch's own spread over --seed 0,1,2
    # 10 AdamW steps per architecture: mnasnet's loss 2.3-3.2, the others' within 0.15
    "model_zoo_hub": {"preset_checksum": 2.0, "num_classifiers": 0, "total_small_params": 0,
                      "shufflenet_v2_x0_5_loss": 0.3, "mnasnet0_5_loss": 1.3,
                      "squeezenet1_1_loss": 0.15, "regnet_y_400mf_loss": 0.2,
                      "densenet121_loss": 0.05, "googlenet_loss": 0.35, "mean_acc": 0.12},
    # 24 steps from random weights: the validation accuracy stays at chance; losses
    # 0.95-1.01 (train), 1.10-1.12 (val), 0.96-1.17 (EMA after update_bn)
    "efficientnet_ema": {"last_train_loss": 0.35, "val_loss": 0.15, "ema_val_loss": 0.35,
                         "n_trainable": 0, "n_averaged": 0},
    # 5 epochs: mean IoU 0.296-0.300, pixel accuracy 0.887-0.899 across seeds
    "lraspp_segmentation": {"mean_iou": 0.1, "pixel_acc": 0.05, "val_loss": 0.12,
                            "last_train_loss": 0.1},
    # 80 Adam steps: mean best IoU 0.66-0.73, recall 0.80-1.0 across seeds
    "centernet_ops": {"mean_best_iou": 0.15, "recall_at_05": 0.25, "final_loss": 0.25,
                      "n_frozen": 0},
    # 24 SGD steps of GoogLeNet on 96 images: test loss 1.2-3.0 and accuracy 0.4-0.7 across
    # seeds; three Adam steps of Inception-v3: loss 0.15-0.8
    "inception_aux": {"test_loss": 2.0, "test_acc": 0.45, "last_loss": 0.6,
                      "inception_loss": 0.8},
    # 3 epochs each: barely above chance; parameter counts are exact
    "swin_maxvit_augmix": {"swin_params": 0, "swin_v2_params": 0, "maxvit_params": 0,
                           "swin_test_loss": 0.25, "swin_v2_test_loss": 0.25,
                           "maxvit_test_loss": 0.35, "swin_acc": 0.3, "swin_v2_acc": 0.3,
                           "maxvit_acc": 0.3},
}

# torchvision's nms / roi_align C ops are replaced by record_detection.py's PyTorch versions
# (detection_finetune needs them)
VISION_TESTS = os.path.join(os.path.dirname(os.path.dirname(HERE)), "vision")
RUNNER = ("import sys, types, runpy; "
          "sys.modules['torchvision._meta_registrations'] = types.ModuleType('stub'); "
          f"sys.path.insert(0, {VISION_TESTS!r}); import record_detection; "
          "tv, _ = record_detection._torchvision(); sys.path.pop(0); "
          "tv.ops.nms = tv.ops.boxes.nms; "
          f"sys.path.insert(0, {HERE!r}); import record_reference; sys.path.pop(0); "
          "record_reference.pil_io(tv); "
          "sys.argv = [sys.argv[1]]; runpy.run_path(sys.argv[0], run_name='__main__')")


def pil_io(tv):
    """torchvision.io's image decoders need its C extension: PIL stands in for them (what
    custom_image_dataset reads is PNG, lossless, and JPEGs PIL wrote)."""
    import io
    import numpy as np
    import torch
    from PIL import Image

    def read_file(path):
        with open(path, "rb") as f:
            return torch.frombuffer(bytearray(f.read()), dtype=torch.uint8)

    def decode_image(data, mode=tv.io.ImageReadMode.UNCHANGED, apply_exif_orientation=False):
        if not isinstance(data, torch.Tensor):
            data = read_file(data)
        img = Image.open(io.BytesIO(data.numpy().tobytes()))
        pil_mode = {tv.io.ImageReadMode.GRAY: "L", tv.io.ImageReadMode.RGB: "RGB"}.get(mode)
        img = img.convert(pil_mode) if pil_mode else img
        a = np.asarray(img)
        a = a[:, :, None] if a.ndim == 2 else a
        return torch.from_numpy(a.transpose(2, 0, 1).copy())

    def read_image(path, mode=tv.io.ImageReadMode.UNCHANGED, apply_exif_orientation=False):
        return decode_image(read_file(path), mode)

    tv.io.read_file, tv.io.decode_image, tv.io.read_image = read_file, decode_image, read_image


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
