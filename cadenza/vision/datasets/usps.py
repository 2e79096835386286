"""USPS (the libsvm bz2 files ``root/usps.bz2`` and ``root/usps.t.bz2``) and STL10 (the binary
files under ``root/stl10_binary/``), torchvision's layout and checks."""
from __future__ import annotations

import bz2
import os

import numpy as np

from .._pil import pil as _pil
from .utils import (DatasetFileError, check_integrity, download_or_explain, extract_archive,
                    verify_str_arg)
from .vision import VisionDataset

__all__ = ["USPS", "STL10"]


class USPS(VisionDataset):
    """16x16 grey digits; pixels stored in [-1, 1], read as uint8 0..255."""

    split_list = {
        "train": ["https://www.csie.ntu.edu.tw/~cjlin/libsvmtools/datasets/multiclass/usps.bz2",
                  "usps.bz2", "ec16c51db3855ca6c91edd34d0e9b197"],
        "test": ["https://www.csie.ntu.edu.tw/~cjlin/libsvmtools/datasets/multiclass/usps.t.bz2",
                 "usps.t.bz2", "8ea070ee2aca1ac39742fdd1ef5ed118"]}

    def __init__(self, root, train=True, transform=None, target_transform=None, download=False):
        super().__init__(root, transform=transform, target_transform=target_transform)
        url, filename, checksum = self.split_list["train" if train else "test"]
        full_path = os.path.join(self.root, filename)
        if download and not os.path.exists(full_path):
            download_or_explain(self, url, self.root, filename, checksum, filename)
        if not os.path.isfile(full_path):
            raise FileNotFoundError(f"[Errno 2] No such file or directory: '{full_path}'")
        try:
            with bz2.open(full_path) as fp:
                raw = [line.decode().split() for line in fp.readlines()]
            values = [[x.split(":")[-1] for x in row[1:]] for row in raw]
            imgs = np.asarray(values, dtype=np.float32).reshape((-1, 16, 16))
        except (OSError, EOFError, ValueError, UnicodeDecodeError) as e:
            raise DatasetFileError(f"{full_path} is corrupt: not a bz2 libsvm file of 256 "
                                   f"features per line ({e})") from None
        self.data = ((imgs + 1) / 2 * 255).astype(np.uint8)
        self.targets = [int(row[0]) - 1 for row in raw]

    def __getitem__(self, index):
        img = _pil().Image.fromarray(self.data[index], mode="L")
        return self._transform(img, int(self.targets[index]))

    def __len__(self):
        return len(self.data)


class STL10(VisionDataset):
    """96x96 colour images: train (5000, 10 folds), test (8000), unlabeled (100000)."""

    base_folder = "stl10_binary"
    url = "http://ai.stanford.edu/~acoates/stl10/stl10_binary.tar.gz"
    filename = "stl10_binary.tar.gz"
    tgz_md5 = "91f7769df0f17e558f3565bffb0c7dfb"
    class_names_file = "class_names.txt"
    folds_list_file = "fold_indices.txt"
    train_list = [["train_X.bin", "918c2871b30a85fa023e0c44e0bee87f"],
                  ["train_y.bin", "5a34089d4802c674881badbb80307741"],
                  ["unlabeled_X.bin", "5242ba1fed5e4be9e1e742405eb56ca4"]]
    test_list = [["test_X.bin", "7f263ba9f9e0b06b93213547f721ac82"],
                 ["test_y.bin", "36f9794fa4beb8a2c72628de14fa638e"]]
    splits = ("train", "train+unlabeled", "unlabeled", "test")

    def __init__(self, root, split="train", folds=None, transform=None, target_transform=None,
                 download=False):
        super().__init__(root, transform=transform, target_transform=target_transform)
        self.split = verify_str_arg(split, "split", self.splits)
        self.folds = self._verify_folds(folds)
        if download:
            self.download()
        elif not self._check_integrity():
            raise RuntimeError("Dataset not found or corrupted. You can use download=True to "
                               "download it")
        if self.split in ("train", "train+unlabeled"):
            self.data, self.labels = self._loadfile("train_X.bin", "train_y.bin")
            self._load_folds(folds)
            if self.split == "train+unlabeled":
                unlabeled, _ = self._loadfile("unlabeled_X.bin")
                self.data = np.concatenate((self.data, unlabeled))
                self.labels = np.concatenate((self.labels, np.asarray([-1] * len(unlabeled))))
        elif self.split == "unlabeled":
            self.data, _ = self._loadfile("unlabeled_X.bin")
            self.labels = np.asarray([-1] * self.data.shape[0])
        else:
            self.data, self.labels = self._loadfile("test_X.bin", "test_y.bin")
        class_file = os.path.join(self.root, self.base_folder, self.class_names_file)
        if os.path.isfile(class_file):
            with open(class_file) as f:
                self.classes = f.read().splitlines()

    def _verify_folds(self, folds):
        if folds is None:
            return folds
        if isinstance(folds, int):
            if folds in range(10):
                return folds
            raise ValueError(f"Value for argument folds should be in the range [0, 10), but got "
                             f"{folds}.")
        raise ValueError(f"Expected type None or int for argument folds, but got type "
                         f"{type(folds)}.")

    def _loadfile(self, data_file, labels_file=None):
        labels = None
        folder = os.path.join(self.root, self.base_folder)
        if labels_file:
            labels = np.fromfile(os.path.join(folder, labels_file), dtype=np.uint8) - 1
        everything = np.fromfile(os.path.join(folder, data_file), dtype=np.uint8)
        if everything.size % (3 * 96 * 96):
            raise DatasetFileError(f"{os.path.join(folder, data_file)} is corrupt: "
                                   f"{everything.size} bytes is not a whole number of 3x96x96 "
                                   f"images")
        images = np.transpose(everything.reshape(-1, 3, 96, 96), (0, 1, 3, 2))
        if labels is not None and len(labels) != len(images):
            raise DatasetFileError(f"{folder}: {len(images)} images in {data_file} but "
                                   f"{len(labels)} labels in {labels_file}")
        return images, labels

    def _check_integrity(self):
        return all(check_integrity(os.path.join(self.root, self.base_folder, name), md5)
                   for name, md5 in self.train_list + self.test_list)

    def download(self):
        if self._check_integrity():
            return
        archive = download_or_explain(
            self, self.url, self.root, self.filename, self.tgz_md5,
            ", ".join(n for n, _ in self.train_list + self.test_list) + f" in {self.base_folder}")
        extract_archive(archive, self.root)

    def _load_folds(self, folds):
        if folds is None:
            return
        with open(os.path.join(self.root, self.base_folder, self.folds_list_file)) as f:
            idx = np.array(f.read().splitlines()[folds].split(), dtype=np.int64)
        self.data = self.data[idx]
        if self.labels is not None:
            self.labels = self.labels[idx]

    def __getitem__(self, index):
        target = int(self.labels[index]) if self.labels is not None else None
        img = _pil().Image.fromarray(np.transpose(self.data[index], (1, 2, 0)))
        return self._transform(img, target)

    def __len__(self):
        return self.data.shape[0]

    def extra_repr(self):
        return f"Split: {self.split}"
