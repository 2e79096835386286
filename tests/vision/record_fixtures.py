"""Record torchvision's outputs into tests/vision/fixtures/ (run ONCE, by hand; CI has no
torchvision and compares Cadenza against these files).

How to run (torchvision 0.28.0 is the oracle, never a dependency):

    pip download --no-deps torchvision==0.28.0 -d /tmp/tvdl
    mkdir -p /tmp/tvpkg && unzip -q -o /tmp/tvdl/torchvision-0.28.0-*.whl -d /tmp/tvpkg
    PYTHONPATH=/tmp/tvpkg python tests/vision/record_fixtures.py

torchvision's wheel is linked against the CUDA build of torch; with the CPU build its C ops fail
to register, so this script puts an empty ``torchvision._meta_registrations`` module in
sys.modules first (transforms, models, datasets and utils are pure Python and work)."""
import json
import os
import sys
import types

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "fixtures")
sys.path.insert(0, HERE)


def _torchvision():
    sys.modules.setdefault("torchvision._meta_registrations", types.ModuleType("stub"))
    import torchvision
    return torchvision


def record_transforms(tv, torch):
    from PIL import Image
    import _cases
    F = tv.transforms.functional
    out = {}
    for name, kind, fn, args, kw in _cases.cases():
        img = _cases.make_input(kind, Image, torch.from_numpy)
        res = getattr(F, fn)(img, *args, **_cases.resolve_kwargs(kw, F.InterpolationMode))
        out[name] = _cases.as_array(res)
    # conversions
    ims = _cases.inputs()
    out["to_tensor/rgb"] = F.to_tensor(Image.fromarray(ims["rgb"])).numpy()
    out["to_tensor/gray"] = F.to_tensor(Image.fromarray(ims["gray"])).numpy()
    out["pil_to_tensor/rgb"] = F.pil_to_tensor(Image.fromarray(ims["rgb"])).numpy()
    t = torch.from_numpy(ims["rgb"].transpose(2, 0, 1).astype(np.float32) / 255)
    out["to_pil_image/float"] = np.asarray(F.to_pil_image(t * 0.999))
    out["normalize"] = F.normalize(t, [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]).numpy()
    np.savez_compressed(os.path.join(FIXTURES, "transforms.npz"), **out)


def record_models(tv, torch):
    """Logits of models whose weights both sides generate from one NumPy seed (so only the
    logits are stored): eval and train mode, 32x32 inputs."""
    import _model_weights
    out = {}
    for name in _model_weights.MODELS:
        model = getattr(tv.models, name)(num_classes=10)
        _model_weights.fill(model.state_dict(), lambda a: torch.from_numpy(a))
        x = torch.from_numpy(_model_weights.batch(name))
        model.eval()
        with torch.no_grad():
            out[f"{name}/eval"] = model(x).numpy()
        model.train()
        torch.manual_seed(0)
        with torch.no_grad():
            y = model(x)
            out[f"{name}/train"] = y.numpy()
        out[f"{name}/keys"] = np.array(json.dumps(list(model.state_dict().keys())))
    np.savez_compressed(os.path.join(FIXTURES, "models.npz"), **out)


def record_utils(tv, torch):
    rs = np.random.RandomState(7)
    batch = torch.from_numpy(rs.rand(5, 3, 6, 7).astype(np.float32))
    out = {
        "grid_default": tv.utils.make_grid(batch).numpy(),
        "grid_nrow2_pad1": tv.utils.make_grid(batch, nrow=2, padding=1, pad_value=0.5).numpy(),
        "grid_normalize": tv.utils.make_grid(batch * 3 - 1, normalize=True).numpy(),
        "grid_norm_each_range": tv.utils.make_grid(batch * 3 - 1, nrow=3, normalize=True,
                                                   value_range=(-1, 1),
                                                   scale_each=True).numpy(),
        "grid_single_channel": tv.utils.make_grid(batch[:, :1], nrow=4).numpy(),
    }
    import io
    from PIL import Image
    buf = io.BytesIO()
    tv.utils.save_image(batch * 1.2 - 0.1, buf, format="png", nrow=3)
    out["save_image_pixels"] = np.asarray(Image.open(io.BytesIO(buf.getvalue())))
    np.savez_compressed(os.path.join(FIXTURES, "utils.npz"), **out)


if __name__ == "__main__":
    tv = _torchvision()
    import torch
    os.makedirs(FIXTURES, exist_ok=True)
    what = sys.argv[1:] or ["transforms", "models", "utils"]
    for w in what:
        globals()[f"record_{w}"](tv, torch)
        print("recorded", w)
