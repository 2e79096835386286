"""Deterministic weights for the model fixture test: the recording script (torchvision) and the
test (Cadenza) fill the same state-dict keys with the same NumPy draws, so only the logits need
storing. Convolution/linear weights are scaled by 1/sqrt(fan_in) to keep activations O(1)."""
import numpy as np

MODELS = ["resnet18", "mobilenet_v2", "squeezenet1_1"]
# state-dict keys (and shapes) are compared for these too
KEY_MODELS = ["resnet18", "resnet34", "resnet50", "vgg11", "vgg11_bn", "vgg16", "vgg16_bn",
              "mobilenet_v2", "alexnet", "squeezenet1_1"]


def arrays(shapes):
    """{key: array} for an ordered {key: shape}."""
    rs = np.random.RandomState(2024)
    out = {}
    for key, shape in shapes.items():
        shape = tuple(shape)
        leaf = key.rsplit(".", 1)[-1]
        if leaf == "num_batches_tracked":
            out[key] = np.array(0, dtype=np.int64)
        elif leaf == "running_var":
            out[key] = rs.uniform(0.5, 1.5, shape).astype(np.float32)
        elif leaf == "running_mean":
            out[key] = (rs.standard_normal(shape) * 0.1).astype(np.float32)
        elif len(shape) == 1 and leaf == "weight":  # batch-norm scale
            out[key] = rs.uniform(0.5, 1.5, shape).astype(np.float32)
        elif leaf == "bias":
            out[key] = (rs.standard_normal(shape) * 0.05).astype(np.float32)
        else:
            fan_in = int(np.prod(shape[1:]))
            out[key] = (rs.standard_normal(shape) * np.sqrt(2.0 / fan_in)).astype(np.float32)
    return out


def fill(state_dict, to_tensor):
    """Copy the deterministic arrays into a model's state-dict tensors (in place)."""
    vals = arrays({k: tuple(v.shape) for k, v in state_dict.items()})
    for k, v in state_dict.items():
        v.copy_(to_tensor(vals[k]).to(v.dtype).reshape(v.shape))


def batch(name):
    return np.random.RandomState(7).standard_normal((4, 3, 32, 32)).astype(np.float32)


def no_dropout(model, dropout_cls):
    """Train mode with dropout off: batch-norm statistics are compared, not dropout masks."""
    for m in model.modules():
        if isinstance(m, dropout_cls):
            m.p = 0.0


# --- families added later: fixtures/models_more.npz (logits) and fixtures/model_keys_more.json
# (a SHA-256 of each model's [[key, shape], ...] list, as key_digest computes it)

def _convnext_cfg(m):
    cfg = m.convnext.CNBlockConfig
    return {"block_setting": [cfg(16, 32, 1), cfg(32, None, 2)]}


def _efficientnet_v2_cfg(m):
    """Fused and plain MBConv stages, shallow: efficientnet_v2_s's 40 residual blocks with
    these random weights grow activations to 1e5 and amplify float32 rounding chaotically."""
    fused, mb = m.efficientnet.FusedMBConvConfig, m.efficientnet.MBConvConfig
    return {"inverted_residual_setting": [fused(1, 3, 1, 24, 24, 2), fused(4, 3, 2, 24, 48, 2),
                                          mb(4, 3, 2, 48, 64, 2), mb(6, 3, 1, 64, 80, 2)],
            "dropout": 0.2, "last_channel": 128}


def _swin_cfg(window, v2):
    """Two stages on 32x32: 8x8 tokens in shifted windows (a 3x3 window pads to 9x9), then
    4x4."""
    def kwargs(m):
        extra = ({"block": m.swin_transformer.SwinTransformerBlockV2,
                  "downsample_layer": m.swin_transformer.PatchMergingV2} if v2 else {})
        return {"patch_size": [4, 4], "embed_dim": 16, "depths": [2, 2], "num_heads": [2, 4],
                "window_size": [window, window], **extra}
    return kwargs


_VIT_TINY = {"image_size": 32, "patch_size": 8, "num_layers": 2, "num_heads": 2, "hidden_dim": 32,
             "mlp_dim": 64}
# logits are compared for these: name -> (builder or class in models, kwargs or a function of
# the models module giving them, input side)
MORE_MODELS = {
    "efficientnet_b0": ("efficientnet_b0", {}, 32),
    "efficientnet_v2_mini": ("EfficientNet", _efficientnet_v2_cfg, 32),
    "vit_tiny": ("VisionTransformer", _VIT_TINY, 32),
    "vit_tiny_rep": ("VisionTransformer", dict(_VIT_TINY, representation_size=24), 32),
    "densenet121": ("densenet121", {}, 32),
    "mobilenet_v3_small": ("mobilenet_v3_small", {}, 32),
    "mobilenet_v3_large": ("mobilenet_v3_large", {}, 32),
    "shufflenet_v2_x0_5": ("shufflenet_v2_x0_5", {}, 32),
    "googlenet": ("googlenet", {"init_weights": False}, 32),
    "inception_v3_noaux": ("inception_v3", {"aux_logits": False, "init_weights": False}, 75),
    # 64x64: train-mode batch norm over 4 samples at 1x1 is ill-conditioned in float32
    "resnext50_32x4d": ("resnext50_32x4d", {}, 64),
    "regnet_y_400mf": ("regnet_y_400mf", {}, 64),
    "convnext_mini": ("ConvNeXt", _convnext_cfg, 32),
    "mnasnet0_5": ("mnasnet0_5", {}, 32),
    "swin_mini": ("SwinTransformer", _swin_cfg(3, False), 32),
    "swin_v2_mini": ("SwinTransformer", _swin_cfg(4, True), 32),
    "maxvit_mini": ("MaxVit", {"input_size": (32, 32), "stem_channels": 8, "partition_size": 2,
                               "block_channels": [16, 32], "block_layers": [1, 2],
                               "head_dim": 8, "stochastic_depth_prob": 0.2}, 32),
}
# state-dict keys and shapes are compared for these (num_classes=10) ...
MORE_KEY_MODELS = [
    "efficientnet_b0", "efficientnet_b1", "efficientnet_b2", "efficientnet_b3",
    "efficientnet_b4", "efficientnet_b5", "efficientnet_v2_s", "vit_b_16", "vit_b_32",
    "densenet121", "densenet161", "densenet169", "densenet201", "mobilenet_v3_small",
    "mobilenet_v3_large", "shufflenet_v2_x0_5", "shufflenet_v2_x1_0", "shufflenet_v2_x1_5",
    "shufflenet_v2_x2_0", "googlenet", "inception_v3", "resnext50_32x4d", "regnet_y_400mf",
    "regnet_y_800mf", "regnet_y_1_6gf", "regnet_y_3_2gf", "regnet_x_400mf", "regnet_x_800mf",
    "regnet_x_1_6gf", "regnet_x_3_2gf", "regnet_x_8gf", "convnext_tiny", "mnasnet0_5",
    "mnasnet0_75", "mnasnet1_0", "mnasnet1_3", "swin_t", "swin_v2_t", "maxvit_t"]
# ... and, with CADENZA_SLOW_TESTS=1, for these (over ~40M parameters: slow to initialise)
SLOW_KEY_MODELS = [
    "efficientnet_b6", "efficientnet_b7", "efficientnet_v2_m", "efficientnet_v2_l", "vit_l_16",
    "vit_l_32", "resnext101_32x8d", "resnext101_64x4d", "wide_resnet50_2", "wide_resnet101_2",
    "regnet_y_8gf", "regnet_y_16gf", "regnet_y_32gf", "regnet_x_16gf", "regnet_x_32gf",
    "convnext_small", "convnext_base", "convnext_large", "swin_s", "swin_b", "swin_v2_s",
    "swin_v2_b"]


def build(models, name, num_classes=10):
    """The model MORE_MODELS names (torchvision's or Cadenza's ``models`` module)."""
    builder, kwargs, _ = MORE_MODELS[name]
    kwargs = kwargs(models) if callable(kwargs) else kwargs
    return getattr(models, builder)(num_classes=num_classes, **kwargs)


def more_batch(name):
    side = MORE_MODELS[name][2]
    return np.random.RandomState(7).standard_normal((4, 3, side, side)).astype(np.float32)


def key_digest(state_dict):
    import hashlib
    import json
    keys = [[k, list(v.shape)] for k, v in state_dict.items()]
    return hashlib.sha256(json.dumps(keys, separators=(",", ":")).encode()).hexdigest()


def outputs(y):
    """A model's output(s) as a list (GoogLeNet / Inception return named tuples in train)."""
    return [o for o in y] if isinstance(y, tuple) else [y]


# --- segmentation (fixtures/segmentation.npz): builder -> kwargs; eval logits of "out"/"aux"
# on a 2x3x48x40 batch, train-mode logits (dropout off) and every builder's key digest
SEGMENTATION = {
    "fcn_resnet50": {"aux_loss": True},
    "deeplabv3_resnet50": {"aux_loss": True},
    "deeplabv3_mobilenet_v3_large": {"aux_loss": True},
    "lraspp_mobilenet_v3_large": {},
}
SEGMENTATION_KEYS = ["fcn_resnet101", "deeplabv3_resnet101"]


def build_segmentation(segmentation, name):
    kwargs = SEGMENTATION.get(name, {"aux_loss": True})
    return getattr(segmentation, name)(weights=None, weights_backbone=None, num_classes=5,
                                       **kwargs)


def segmentation_batch():
    return np.random.RandomState(9).standard_normal((2, 3, 48, 40)).astype(np.float32)
