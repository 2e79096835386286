"""torchvision.datasets.wrap_dataset_for_transforms_v2: a dataset whose samples come back as
tv_tensors (VOC detection targets as {"boxes": BoundingBoxes, "labels": tensor}, segmentation
masks as Mask, CelebA boxes as XYXY BoundingBoxes, pet trimaps as Mask), with the dataset's
transforms applied after the wrapping so transforms.v2 sees boxes and masks."""
from __future__ import annotations

import collections.abc
import contextlib
from collections import defaultdict
from copy import copy

import cadenza as torch
from .. import tv_tensors
from ..transforms.v2 import functional as F
from .annotated import CelebA, OxfordIIITPet, VOCDetection, VOCSegmentation
from .cifar import CIFAR10, CIFAR100
from .folder import DatasetFolder, ImageFolder
from .mnist import MNIST, FashionMNIST
from .vision import VisionDataset

__all__ = ["wrap_dataset_for_transforms_v2"]

VOC_DETECTION_CATEGORIES = [
    "__background__", "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat",
    "chair", "cow", "diningtable", "dog", "horse", "motorbike", "person", "pottedplant",
    "sheep", "sofa", "train", "tvmonitor"]
VOC_DETECTION_CATEGORY_TO_IDX = {c: i for i, c in enumerate(VOC_DETECTION_CATEGORIES)}


def wrap_dataset_for_transforms_v2(dataset, target_keys=None):
    """``dataset`` (a VisionDataset) returning tv_tensors; ``target_keys`` ("all" or a set of
    names) selects VOCDetection's target entries (default: boxes and labels)."""
    if not (target_keys is None or target_keys == "all" or (
            isinstance(target_keys, collections.abc.Collection)
            and all(isinstance(k, str) for k in target_keys))):
        raise ValueError(f"`target_keys` can be None, 'all', or a collection of strings denoting "
                         f"the keys to be returned, but got {target_keys}")
    cls = type(f"Wrapped{type(dataset).__name__}",
               (VisionDatasetTVTensorWrapper, type(dataset)), {})
    return cls(dataset, target_keys)


class VisionDatasetTVTensorWrapper:
    def __init__(self, dataset, target_keys):
        dataset_cls = type(dataset)
        if not isinstance(dataset, VisionDataset):
            raise TypeError(f"This wrapper is meant for subclasses of "
                            f"`torchvision.datasets.VisionDataset`, but got a "
                            f"'{dataset_cls.__name__}' instead.")
        for cls in dataset_cls.mro():
            if cls in _FACTORIES:
                factory = _FACTORIES[cls]
                if target_keys is not None and cls is not VOCDetection:
                    raise ValueError(f"`target_keys` is currently only supported for "
                                     f"`CocoDetection`, `VOCDetection`, `Kitti`, and "
                                     f"`WIDERFace`, but got {cls.__name__}.")
                break
            if cls is VisionDataset:
                raise TypeError(f"No wrapper exists for dataset class {dataset_cls.__name__}. "
                                f"Please wrap the output yourself.")
        self._dataset, self._target_keys = dataset, target_keys
        self._wrapper = factory(dataset, target_keys)
        self.transform, dataset.transform = dataset.transform, None
        self.target_transform, dataset.target_transform = dataset.target_transform, None
        self.transforms, dataset.transforms = dataset.transforms, None

    def __getattr__(self, item):
        with contextlib.suppress(AttributeError):
            return object.__getattribute__(self, item)
        return getattr(self._dataset, item)

    def __getitem__(self, idx):
        sample = self._wrapper(idx, self._dataset[idx])
        if self.transforms is not None:
            sample = self.transforms(*sample)
        return sample

    def __len__(self):
        return len(self._dataset)

    def __reduce__(self):
        dataset = copy(self._dataset)
        dataset.transform, dataset.transforms = self.transform, self.transforms
        dataset.target_transform = self.target_transform
        return wrap_dataset_for_transforms_v2, (dataset, self._target_keys)


def _identity(item):
    return item


def _classification(dataset, target_keys):
    return lambda idx, sample: sample


def _segmentation(dataset, target_keys):
    return lambda idx, sample: (sample[0], tv_tensors.Mask(sample[1]))


def _wrap_by_type(target, target_types, wrappers):
    if not isinstance(target, (tuple, list)):
        target = [target]
    out = tuple(wrappers.get(t, _identity)(item) for t, item in zip(target_types, target))
    return out[0] if len(out) == 1 else out


def _voc_detection(dataset, target_keys):
    available = {"annotation", "boxes", "labels"}
    keys = {"boxes", "labels"} if target_keys is None else \
        available if target_keys == "all" else set(target_keys)
    extra = keys - available
    if extra:
        raise ValueError(f"Target keys {sorted(extra)} are not available")

    def wrapper(idx, sample):
        image, target = sample
        objects = defaultdict(list)
        for obj in target["annotation"]["object"]:
            for k, v in obj.items():
                objects[k].append(v)
        if "annotation" not in keys:
            target = {}
        if "boxes" in keys:
            target["boxes"] = tv_tensors.BoundingBoxes(
                [[int(b[p]) for p in ("xmin", "ymin", "xmax", "ymax")]
                 for b in objects["bndbox"]],
                format=tv_tensors.BoundingBoxFormat.XYXY, canvas_size=(image.height, image.width))
        if "labels" in keys:
            target["labels"] = torch.tensor([VOC_DETECTION_CATEGORY_TO_IDX[c]
                                             for c in objects["name"]])
        return image, target
    return wrapper


def _celeba(dataset, target_keys):
    if any(t in dataset.target_type for t in ("attr", "landmarks")):
        raise RuntimeError("`CelebA` dataset with `target_type=['attr', 'landmarks', ...]` is "
                           "currently not supported by this wrapper. If this would be helpful "
                           "for you, please open an issue at "
                           "https://github.com/pytorch/vision/issues.")

    def wrapper(idx, sample):
        image, target = sample
        box = lambda item: F.convert_bounding_box_format(  # noqa: E731
            tv_tensors.BoundingBoxes(item, format=tv_tensors.BoundingBoxFormat.XYWH,
                                     canvas_size=(image.height, image.width)),
            new_format=tv_tensors.BoundingBoxFormat.XYXY)
        return image, _wrap_by_type(target, dataset.target_type, {"bbox": box})
    return wrapper


def _pets(dataset, target_keys):
    def wrapper(idx, sample):
        image, target = sample
        if target is not None:
            target = _wrap_by_type(target, dataset._target_types,
                                   {"segmentation": tv_tensors.Mask})
        return image, target
    return wrapper


_FACTORIES = {**{cls: _classification for cls in (CIFAR10, CIFAR100, MNIST, FashionMNIST,
                                                   DatasetFolder, ImageFolder)},
              VOCSegmentation: _segmentation, VOCDetection: _voc_detection, CelebA: _celeba,
              OxfordIIITPet: _pets}
