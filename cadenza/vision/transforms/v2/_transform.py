"""The v2 Transform base class (torchvision's protocol: check_inputs, make_params, transform,
the pure-tensor rule) and the random-apply base."""
from __future__ import annotations

import enum

import cadenza as torch
from cadenza import nn
from cadenza.func import _flatten, _unflatten  # the one tree walk (tuples, lists, dicts)
from ..._pil import is_pil_image
from ... import tv_tensors


def _is_pure_tensor(x):
    return isinstance(x, torch.Tensor) and not isinstance(x, tv_tensors.TVTensor)


def _check_type(obj, types_or_checks):
    return any(isinstance(obj, t) if isinstance(t, type) else t(obj) for t in types_or_checks)


def _is_image_like(x):
    return is_pil_image(x) or isinstance(x, (torch.Tensor, tv_tensors.Image, tv_tensors.Video)) \
        and not isinstance(x, (tv_tensors.BoundingBoxes, tv_tensors.Mask))


class Transform(nn.Module):
    """Base class of the v2 transforms: ``make_params(flat_inputs)`` draws the random
    parameters once per call, ``transform(inpt, params)`` is applied to each leaf of a type in
    ``_transformed_types`` (the others pass through)."""

    _transformed_types = (torch.Tensor, is_pil_image)

    def check_inputs(self, flat_inputs):
        pass

    def make_params(self, flat_inputs):
        return dict()

    def _call_kernel(self, functional, inpt, *args, **kwargs):
        return functional(inpt, *args, **kwargs)

    def transform(self, inpt, params):
        raise NotImplementedError

    def forward(self, *inputs):
        flat_inputs, spec = _flatten(inputs if len(inputs) > 1 else inputs[0])
        self.check_inputs(flat_inputs)
        return _unflatten(self._transform_all(flat_inputs), spec)

    def _transform_all(self, flat_inputs):
        needs = self._needs_transform_list(flat_inputs)
        params = self.make_params([x for x, n in zip(flat_inputs, needs) if n])
        return [self.transform(x, params) if n else x for x, n in zip(flat_inputs, needs)]

    def _needs_transform_list(self, flat_inputs):
        transform_pure_tensor = not any(
            isinstance(x, (tv_tensors.Image, tv_tensors.Video)) or is_pil_image(x)
            for x in flat_inputs)
        needs = []
        for x in flat_inputs:
            need = _check_type(x, self._transformed_types)
            if need and _is_pure_tensor(x):
                need, transform_pure_tensor = transform_pure_tensor, False
            needs.append(need)
        return needs

    def extra_repr(self):
        return ", ".join(f"{k}={v}" for k, v in self.__dict__.items()
                         if not k.startswith("_") and k != "training"
                         and isinstance(v, (bool, int, float, str, tuple, list, enum.Enum)))


class _RandomApplyTransform(Transform):
    """A transform applied with probability ``p`` (the draw comes first, as torchvision's)."""

    def __init__(self, p=0.5):
        if not 0.0 <= p <= 1.0:
            raise ValueError("`p` should be a floating point value in the interval [0.0, 1.0].")
        super().__init__()
        self.p = p

    def forward(self, *inputs):
        inputs = inputs if len(inputs) > 1 else inputs[0]
        flat_inputs, spec = _flatten(inputs)
        self.check_inputs(flat_inputs)
        if float(torch.rand(1).item()) >= self.p:
            return inputs
        return _unflatten(self._transform_all(flat_inputs), spec)


