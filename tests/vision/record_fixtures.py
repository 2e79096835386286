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
    out = _run_cases(tv, torch, _cases.cases())
    # conversions
    ims = _cases.inputs()
    out["to_tensor/rgb"] = F.to_tensor(Image.fromarray(ims["rgb"])).numpy()
    out["to_tensor/gray"] = F.to_tensor(Image.fromarray(ims["gray"])).numpy()
    out["pil_to_tensor/rgb"] = F.pil_to_tensor(Image.fromarray(ims["rgb"])).numpy()
    t = torch.from_numpy(ims["rgb"].transpose(2, 0, 1).astype(np.float32) / 255)
    out["to_pil_image/float"] = np.asarray(F.to_pil_image(t * 0.999))
    out["normalize"] = F.normalize(t, [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]).numpy()
    np.savez_compressed(os.path.join(FIXTURES, "transforms.npz"), **out)


def _run_cases(tv, torch, cases):
    """torchvision's output of each (name, kind, function, args, kwargs) case."""
    from PIL import Image
    import _cases
    F = tv.transforms.functional
    out = {}
    for name, kind, fn, args, kw in cases:
        img = _cases.make_input(kind, Image, torch.from_numpy)
        res = getattr(F, fn)(img, *args, **_cases.resolve_kwargs(kw, F.InterpolationMode))
        out[name] = _cases.as_array(res)
    return out


def record_augment(tv, torch):
    """torchvision's outputs of the augmentation functions (_cases.AUGMENT)."""
    import _cases
    np.savez_compressed(os.path.join(FIXTURES, "augment.npz"),
                        **_run_cases(tv, torch, _cases.augment_cases()))


def record_draw(tv, torch):
    """draw_bounding_boxes / draw_segmentation_masks outputs (_cases.draw_cases())."""
    import _cases
    out = {}
    for name, fn, kw in _cases.draw_cases():
        img, arg = _cases.draw_inputs(torch.from_numpy, fn)
        out[name] = getattr(tv.utils, fn)(img, arg, **kw).numpy()
    np.savez_compressed(os.path.join(FIXTURES, "draw.npz"), **out)


def record_boxes(tv, torch):
    """torchvision.ops box functions and losses: values and gradients (_cases.BOX_CASES)."""
    import _cases
    out = {}
    for name, fn, keys, kw in _cases.BOX_CASES:
        val, grads = _cases.run_box_case(tv.ops, torch, fn, keys, kw)
        out[name] = val
        for i, g in enumerate(grads):
            out[f"{name}/grad{i}"] = g
    np.savez_compressed(os.path.join(FIXTURES, "boxes.npz"), **out)


def _logits(torch, model, x, dropout_classes):
    """Fill the model with the seeded weights; its eval output and its train-mode outputs
    (dropout-like modules off)."""
    import _model_weights as mw
    with torch.no_grad():
        mw.fill(model.state_dict(), torch.from_numpy)
    x = torch.from_numpy(x)
    model.eval()
    with torch.no_grad():
        evaluated = model(x).numpy()
    model.train()
    mw.no_dropout(model, dropout_classes)
    return evaluated, [y.detach().numpy() for y in mw.outputs(model(x))]


def _bn_stats(out, name, sd, channels=None):
    """The running statistics of the first and last batch norm (their first ``channels``)."""
    bn = [k for k in sd if k.endswith("running_mean")]
    for k in bn[:1] + bn[-1:]:
        for key in (k, k.replace("running_mean", "running_var")):
            out[f"{name}/after_train/{key}"] = sd[key].numpy()[:channels]


def record_models(tv, torch):
    """Logits of models whose weights both sides generate from one NumPy seed (so only the
    logits are stored): eval and train mode (dropout off), 32x32 inputs; the batch-norm running
    statistics after the train-mode pass; and every model's state-dict keys and shapes."""
    import _model_weights as mw
    out = {}
    for name in mw.MODELS:
        model = getattr(tv.models, name)(num_classes=10)
        out[f"{name}/eval"], train = _logits(torch, model, mw.batch(name), torch.nn.Dropout)
        out[f"{name}/train"] = train[0]
        _bn_stats(out, name, model.state_dict())
    np.savez_compressed(os.path.join(FIXTURES, "models.npz"), **out)
    keys = {}
    for name in mw.KEY_MODELS:
        sd = getattr(tv.models, name)(num_classes=10).state_dict()
        keys[name] = [[k, list(v.shape)] for k, v in sd.items()]
    with open(os.path.join(FIXTURES, "model_keys.json"), "w") as f:
        json.dump(keys, f, separators=(",", ":"))


def record_models_more(tv, torch):
    """The families added later (_model_weights.MORE_MODELS): logits in eval and train mode
    (dropout and stochastic depth off; every output of GoogLeNet's train-mode tuple), batch-norm
    statistics after the train pass, and a digest of each model's state-dict keys and shapes."""
    import _model_weights as mw
    out = {}
    for name in mw.MORE_MODELS:
        model = mw.build(tv.models, name)
        out[f"{name}/eval"], train = _logits(torch, model, mw.more_batch(name),
                                             (torch.nn.Dropout, tv.ops.StochasticDepth))
        for i, y in enumerate(train):
            out[f"{name}/train{i}"] = y
        _bn_stats(out, name, model.state_dict(), channels=32)
    np.savez_compressed(os.path.join(FIXTURES, "models_more.npz"), **out)
    digests = {name: mw.key_digest(mw.build(tv.models, name).state_dict())
               for name in mw.MORE_MODELS}
    for name in mw.MORE_KEY_MODELS + mw.SLOW_KEY_MODELS:
        # regnet's width schedule is computed from real tensors; the rest builds on "meta"
        with torch.device("cpu" if name.startswith("regnet") else "meta"):
            model = tv.models.get_model(name, num_classes=10)
        digests[name] = mw.key_digest(model.state_dict())
    with open(os.path.join(FIXTURES, "model_keys_more.json"), "w") as f:
        json.dump(digests, f, indent=0)


def record_model_weights(tv, torch):
    """Every classification builder's weights enum: its name, DEFAULT and each entry's file."""
    out = {}
    for name in tv.models.list_models(tv.models):
        enum = tv.models.get_model_weights(name)
        files = {k: v.url.rsplit("/", 1)[1] for k, v in enum.__members__.items()
                 if k != "DEFAULT"}
        out[name] = [enum.__name__, enum.DEFAULT.name, files]
    with open(os.path.join(FIXTURES, "model_weights.json"), "w") as f:
        json.dump(out, f, indent=0, sort_keys=True)


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


def record_segmentation(tv, torch):
    """Segmentation models with the seeded weights: "out"/"aux" logits in eval mode and in
    train mode (dropout off), and the state-dict key digests."""
    import _model_weights as mw
    out, digests = {}, {}
    for name in mw.SEGMENTATION:
        model = mw.build_segmentation(tv.models.segmentation, name)
        with torch.no_grad():
            mw.fill(model.state_dict(), torch.from_numpy)
        x = torch.from_numpy(mw.segmentation_batch())
        model.eval()
        with torch.no_grad():
            for k, v in model(x).items():
                out[f"{name}/eval/{k}"] = v.numpy()[..., ::4, ::4]
        model.train()
        mw.no_dropout(model, torch.nn.Dropout)
        for k, v in model(x).items():
            out[f"{name}/train/{k}"] = v.detach().numpy()[..., ::4, ::4]
        digests[name] = mw.key_digest(model.state_dict())
    for name in mw.SEGMENTATION_KEYS:
        with torch.device("meta"):
            digests[name] = mw.key_digest(
                mw.build_segmentation(tv.models.segmentation, name).state_dict())
    np.savez_compressed(os.path.join(FIXTURES, "segmentation.npz"), **out)
    with open(os.path.join(FIXTURES, "segmentation_keys.json"), "w") as f:
        json.dump(digests, f, indent=0)


def record_reprs(tv, torch):
    """The reprs of _v2cases.repr_cases under torchvision (fixtures/v2_reprs.json)."""
    import _v2cases as c
    from torchvision.transforms import v2
    pipeline, each = c.repr_cases(v2, torch)
    with open(os.path.join(FIXTURES, "v2_reprs.json"), "w") as f:
        json.dump({"pipeline": repr(pipeline),
                   "each": [repr(x).replace("torch.", "") for x in each]}, f, indent=0)


def record_v2(tv, torch):
    """transforms.v2 functionals on tv_tensors (boxes of each format and dtype, masks, images),
    and each random v2 transform: the parameters torchvision drew (``make_params``) and its
    ``transform`` of a sample with them (Cadenza replays the same parameters)."""
    import types
    import _v2cases as c
    from torchvision.transforms import v2
    lib = types.SimpleNamespace(tv_tensors=tv.tv_tensors, F=v2.functional, T=v2)
    out = c.run_functionals(lib, torch)
    params = {}
    torch.manual_seed(0)
    for name, make in c.RANDOM:
        t = make(v2)
        smp = c.sample(lib, torch)
        flat, spec = torch.utils._pytree.tree_flatten(smp)
        needs = t._needs_transform_list(flat)
        p = t.make_params([x for x, n in zip(flat, needs) if n])
        params[name] = c.params_to_json(p, torch)
        if name == "ElasticTransform":
            out[f"random/{name}/displacement"] = p["displacement"].numpy()
            params[name] = {}
        for key, x in smp.items():
            if key == "labels":
                continue
            y = t.transform(x, p)
            out[f"random/{name}/{key}"] = y.as_subclass(torch.Tensor).numpy()
            if key == "boxes":
                out[f"random/{name}/boxes/canvas"] = np.array(y.canvas_size)
    res = c.pipeline(v2)(c.sample(lib, torch))
    for key, y in res.items():
        out[f"pipeline/{key}"] = y.as_subclass(torch.Tensor).numpy()
    out["pipeline/boxes/canvas"] = np.array(res["boxes"].canvas_size)
    np.savez_compressed(os.path.join(FIXTURES, "v2.npz"), **out)
    with open(os.path.join(FIXTURES, "v2_params.json"), "w") as f:
        json.dump(params, f, indent=0)


if __name__ == "__main__":
    tv = _torchvision()
    import torch
    os.makedirs(FIXTURES, exist_ok=True)
    what = sys.argv[1:] or ["transforms", "models", "utils"]
    for w in what:
        globals()[f"record_{w}"](tv, torch)
        print("recorded", w)
