"""VisionDataset: the base class of torchvision's datasets."""
from __future__ import annotations

import os

from cadenza.utils.data import Dataset

__all__ = ["VisionDataset", "StandardTransform"]


class StandardTransform:
    def __init__(self, transform=None, target_transform=None):
        self.transform, self.target_transform = transform, target_transform

    def __call__(self, input, target):
        if self.transform is not None:
            input = self.transform(input)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return input, target


class VisionDataset(Dataset):
    _repr_indent = 4

    def __init__(self, root=None, transforms=None, transform=None, target_transform=None):
        self.root = os.path.expanduser(root) if isinstance(root, (str, os.PathLike)) else root
        if isinstance(self.root, os.PathLike):
            self.root = os.fspath(self.root)
        has_transforms = transforms is not None
        has_separate = transform is not None or target_transform is not None
        if has_transforms and has_separate:
            raise ValueError("Only transforms or transform/target_transform can be passed as "
                             "argument")
        self.transform, self.target_transform = transform, target_transform
        self.transforms = (StandardTransform(transform, target_transform)
                           if not has_transforms else transforms)

    def _transform(self, sample, target):
        """(sample, target) through ``transform`` and ``target_transform`` (read at each call,
        so a program may set them after construction)."""
        if self.transform is not None:
            sample = self.transform(sample)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return sample, target

    def __getitem__(self, index):
        raise NotImplementedError(f"{type(self).__name__} does not implement __getitem__")

    def __len__(self):
        raise NotImplementedError(f"{type(self).__name__} does not implement __len__")

    def extra_repr(self) -> str:
        return ""

    def __repr__(self):
        lines = [f"Number of datapoints: {self.__len__()}"]
        if self.root is not None:
            lines.append(f"Root location: {self.root}")
        lines += self.extra_repr().splitlines()
        if self.transform is not None:
            lines.append(f"Transform: {self.transform!r}".replace("\n", "\n" + " " * 4))
        if self.target_transform is not None:
            lines.append(f"Target transform: {self.target_transform!r}")
        body = "\n".join(" " * self._repr_indent + line for line in lines)
        return f"Dataset {type(self).__name__}\n{body}"
