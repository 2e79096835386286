"""CIFAR10 / CIFAR100 from the python batches under ``root/cifar-10-batches-py`` (or
``root/cifar-100-python``), read with a restricted unpickler; torchvision's md5 checks."""
from __future__ import annotations

import os
import tarfile

import numpy as np

from .._pil import pil as _pil
from .utils import DatasetFileError, check_integrity, download_url, safe_unpickle
from .mnist import MNIST
from .vision import VisionDataset

__all__ = ["CIFAR10", "CIFAR100"]


class CIFAR10(VisionDataset):
    base_folder = "cifar-10-batches-py"
    url = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
    filename = "cifar-10-python.tar.gz"
    tgz_md5 = "c58f30108f718f92721af3b95e74349a"
    train_list = [
        ["data_batch_1", "c99cafc152244af753f735de768cd75f"],
        ["data_batch_2", "d4bba439e000b95fd0a9bffe97cbabec"],
        ["data_batch_3", "54ebc095f3ab1f0389bbae665268c751"],
        ["data_batch_4", "634d18415352ddfa80567beed471001a"],
        ["data_batch_5", "482c414d41f54cd18b22e5b47cb7c3cb"],
    ]
    test_list = [["test_batch", "40351d587109b95175f43aff81a1287e"]]
    meta = {"filename": "batches.meta", "key": "label_names",
            "md5": "5ff9c542aee3614f3951f8cda6e48888"}

    def __init__(self, root, train=True, transform=None, target_transform=None, download=False):
        super().__init__(root, transform=transform, target_transform=target_transform)
        self.train = train
        if download:
            self.download()
        bad = self._failed_files()
        if bad:
            raise RuntimeError(f"Dataset not found or corrupted: {', '.join(bad)} in "
                               f"{os.path.join(self.root, self.base_folder)} missing or not "
                               f"matching torchvision's md5. You can use download=True to "
                               f"download it")
        data, targets = [], []
        for name, _ in (self.train_list if train else self.test_list):
            path = os.path.join(self.root, self.base_folder, name)
            entry = safe_unpickle(path)
            if not isinstance(entry, dict) or "data" not in entry:
                raise DatasetFileError(f"{path} is corrupt: expected a dict with 'data'")
            labels = entry.get("labels", entry.get("fine_labels"))
            arr = entry["data"]
            if (not isinstance(arr, np.ndarray) or arr.dtype != np.uint8 or arr.ndim != 2
                    or arr.shape[1] != 3 * 32 * 32 or labels is None
                    or len(labels) != arr.shape[0]):
                raise DatasetFileError(
                    f"{path} is corrupt: expected uint8 data of shape (N, 3072) and N labels, got "
                    f"{getattr(arr, 'dtype', type(arr).__name__)} "
                    f"{getattr(arr, 'shape', '')} and {None if labels is None else len(labels)}")
            data.append(arr)
            targets.extend(int(t) for t in labels)
        self.data = np.vstack(data).reshape(-1, 3, 32, 32).transpose((0, 2, 3, 1))
        self.targets = targets
        self._load_meta()

    def _failed_files(self):
        return [name for name, md5 in self.train_list + self.test_list
                if not check_integrity(os.path.join(self.root, self.base_folder, name), md5)]

    def _check_integrity(self) -> bool:
        return not self._failed_files()

    def _load_meta(self):
        path = os.path.join(self.root, self.base_folder, self.meta["filename"])
        if not check_integrity(path, self.meta["md5"]):
            raise RuntimeError(f"Dataset metadata file {path} not found or corrupted. You can use "
                               "download=True to download it")
        meta = safe_unpickle(path)
        if not isinstance(meta, dict) or self.meta["key"] not in meta:
            raise DatasetFileError(f"{path} is corrupt: no '{self.meta['key']}'")
        self.classes = list(meta[self.meta["key"]])
        self.class_to_idx = {c: i for i, c in enumerate(self.classes)}

    def download(self) -> None:
        if self._check_integrity():
            return
        try:
            archive = download_url([self.url], self.root, self.filename, self.tgz_md5)
        except DatasetFileError as e:
            if os.path.isfile(os.path.join(self.root, self.filename)):
                raise
            files = ", ".join(n for n, _ in self.train_list + self.test_list)
            raise DatasetFileError(
                f"{type(self).__name__}: expected {files} and {self.meta['filename']} in "
                f"{os.path.join(self.root, self.base_folder)} (or {self.filename} in "
                f"{self.root}); they are not there and downloading failed ({e})") from None
        with tarfile.open(archive, "r:gz") as tar:
            tar.extractall(self.root, filter="data")

    def __getitem__(self, index):
        img, target = _pil().Image.fromarray(self.data[index]), self.targets[index]
        return self._transform(img, target)

    __len__ = MNIST.__len__
    extra_repr = MNIST.extra_repr


class CIFAR100(CIFAR10):
    base_folder = "cifar-100-python"
    url = "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz"
    filename = "cifar-100-python.tar.gz"
    tgz_md5 = "eb9058c3a382ffc7106e4002c42a8d85"
    train_list = [["train", "16019d7e3df5f24257cddd939b257f8d"]]
    test_list = [["test", "f0ef6b0ae62326f3e7ffdfab6717acfc"]]
    meta = {"filename": "meta", "key": "fine_label_names",
            "md5": "7973b15100ade9c7d40fb424638fde48"}
