"""Pretrained-weight handles (torchvision's ``*_Weights`` enums). Cadenza never unpickles, so
torchvision's ``.pth`` files are not read: a weight file is a safetensors conversion of
torchvision's state dict, looked up next to where torch hub would keep the ``.pth``."""
from __future__ import annotations

import enum
import functools
import os

import cadenza as torch
from ..transforms import _presets
from ._weights_meta import NORMS, WEIGHTS_META

__all__ = ["Weights", "WeightsEnum", "WEIGHTS_DIR", "resolve_weights", "load_pretrained", "build",
           "init_mobile", "overwrite_params"]

# where torch.hub keeps torchvision's checkpoints by default ($TORCH_HOME is not consulted)
WEIGHTS_DIR = os.path.join(os.path.expanduser("~"), ".cache", "torch", "hub", "checkpoints")


class Weights:
    def __init__(self, url, meta=None):
        self.url, self.meta = url, dict(meta or {})

    @property
    def filename(self) -> str:
        """The safetensors file Cadenza looks for: the .pth's name with .safetensors."""
        return os.path.splitext(os.path.basename(self.url))[0] + ".safetensors"


class WeightsEnum(enum.Enum):
    @classmethod
    def verify(cls, obj):
        if obj is None or isinstance(obj, cls):
            return obj
        if isinstance(obj, str):
            name = obj.split(".")[-1]
            if name not in cls.__members__:
                raise ValueError(f"{cls.__name__} has no weights {obj!r}; "
                                 f"choose from {list(cls.__members__)}")
            return cls[name]
        raise TypeError(f"Invalid Weight class provided; expected {cls.__name__} "
                        f"but received {type(obj).__name__}")

    @property
    def url(self):
        return self.value.url

    @property
    def meta(self):
        """The entry's metadata, completed with what torchvision documents for it
        (``num_params`` of the released model, ``min_size``)."""
        meta = self.value.meta
        known = WEIGHTS_META.get(f"{type(self).__name__}.{self.name}")
        if known is not None and not meta.get("_completed"):
            num_params, min_size = known[:2]
            if meta.get("num_params") is None:
                meta["num_params"] = num_params
            meta.setdefault("min_size", min_size)
            meta["_completed"] = True
        return {k: v for k, v in meta.items() if k != "_completed"}

    @property
    def transforms(self):
        """The inference preset as torchvision's ``functools.partial``: call it (optionally
        with ``antialias=``/``interpolation=`` overrides) to get the transform module."""
        known = WEIGHTS_META.get(f"{type(self).__name__}.{self.name}")
        if known is None:
            raise AttributeError(f"{self!r} has no documented inference transforms")
        kind, crop, resize, interpolation, norm = known[2:]
        if kind == "det":
            return functools.partial(_presets.ObjectDetection)
        mode = _presets.InterpolationMode[interpolation]
        mean, std = NORMS[norm]
        if kind == "seg":
            return functools.partial(_presets.SemanticSegmentation, resize_size=resize,
                                     mean=mean, std=std, interpolation=mode)
        return functools.partial(_presets.ImageClassification, crop_size=crop,
                                 resize_size=resize, mean=mean, std=std, interpolation=mode)

    def get_state_dict(self, progress=True, check_hash=False):
        path = os.path.join(WEIGHTS_DIR, self.value.filename)
        if not os.path.isfile(path):
            stem = os.path.splitext(self.value.filename)[0]
            raise RuntimeError(
                f"{type(self).__name__}.{self.name}: no local weight file {path}. Cadenza does "
                f"not download or unpickle torchvision's {os.path.basename(self.url)}; convert "
                f"it once with PyTorch (from safetensors.torch import save_file; save_file("
                f"torchvision.models.get_model_weights(...)...get_state_dict(), '{stem}."
                f"safetensors')) and put the file at {path}, or build the model with "
                f"weights=None and call model.load_state_dict(cadenza.load('{stem}."
                f"safetensors'))")
        return torch.load(path)

    def __repr__(self):
        return f"{type(self).__name__}.{self.name}"


def make_weights(class_name, url, num_params=None, v2=None, extra=None):
    """A ``*_Weights`` enum: IMAGENET1K_V1 at torchvision's ``url`` (None: no V1),
    IMAGENET1K_V2 at ``v2``, and ``extra`` {name: (url, meta)} entries (SWAG's, with their
    ``min_size``). DEFAULT is torchvision's: V2 where there is one, else V1, else the first
    extra entry."""
    meta = {"num_params": num_params, "num_classes": 1000}
    entries = {}
    if url:
        entries["IMAGENET1K_V1"] = Weights(url, meta)
    if v2:
        entries["IMAGENET1K_V2"] = Weights(v2, meta)
    for name, (extra_url, extra_meta) in (extra or {}).items():
        entries[name] = Weights(extra_url, {**meta, **extra_meta})
    default = "IMAGENET1K_V2" if v2 else "IMAGENET1K_V1" if url else next(iter(entries))
    return WeightsEnum(class_name, {**entries, "DEFAULT": entries[default]}, module=__name__)


def resolve_weights(weights_cls, weights, kwargs):
    """torchvision's handling of ``weights=`` (and the old ``pretrained=True``)."""
    if kwargs.pop("pretrained", False):
        if weights is not None:
            raise ValueError("pretrained and weights cannot both be given")
        weights = weights_cls.DEFAULT
    weights = weights_cls.verify(weights)
    if weights is not None and weights.meta["num_classes"] is not None:
        n = kwargs.setdefault("num_classes", 1000)
        if n != 1000:
            raise ValueError(f"The parameter 'num_classes' expected value 1000 but got {n} "
                             "instead (pretrained weights have 1000 classes)")
    return weights


def overwrite_params(kwargs, **fixed):
    """torchvision's _ovewrite_named_param: these kwargs are set by the builder; a different
    value passed by the caller is an error."""
    for name, value in fixed.items():
        if kwargs.setdefault(name, value) != value:
            raise ValueError(f"The parameter '{name}' expected value {value} but got "
                             f"{kwargs[name]} instead.")


def overwrite_value(name, actual, expected):
    """torchvision's _ovewrite_value_param: a parameter the weights fix (None takes their
    value; a different one is an error)."""
    if actual is not None and actual != expected:
        raise ValueError(f"The parameter '{name}' expected value {expected} but got {actual} "
                         f"instead.")
    return expected


def build(weights_cls, weights, kwargs, make, load=None):
    """A builder's common path: resolve ``weights=``, make the model from the remaining
    kwargs, load the weights (``load(model, weights)``, default strict load_state_dict)."""
    weights = resolve_weights(weights_cls, weights, kwargs)
    kwargs.pop("progress", None)
    return (load or load_pretrained)(make(**kwargs), weights)


def init_mobile(model, linear_init):
    """MobileNet-style init: convs kaiming-normal (fan_out), zero biases, norms 1/0, Linear
    weights by ``linear_init(module)`` and zero biases."""
    nn = torch.nn
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Linear):
            linear_init(m)
            nn.init.zeros_(m.bias)


def load_pretrained(model, weights):
    if weights is not None:
        model.load_state_dict(weights.get_state_dict(), strict=True)
    return model
