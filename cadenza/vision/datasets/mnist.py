"""MNIST, FashionMNIST, KMNIST from their idx files under ``root/<Class>/raw/`` (gzipped or
not), torchvision's layout and checks."""
from __future__ import annotations

import os

import numpy as np

import cadenza as torch
from .._pil import pil as _pil
from .utils import DatasetFileError, check_integrity, download_url, read_maybe_gzip
from .vision import VisionDataset

__all__ = ["MNIST", "FashionMNIST", "KMNIST", "read_image_file", "read_label_file"]

_IDX_TYPES = {8: np.uint8, 9: np.int8, 11: np.dtype(">i2"), 12: np.dtype(">i4"),
              13: np.dtype(">f4"), 14: np.dtype(">f8")}


def read_idx(path) -> np.ndarray:
    """An idx (SN3 "Pascal Vincent") file as an array; a bad header or a size that does not
    match the header is a DatasetFileError naming the file."""
    data = read_maybe_gzip(path)
    if len(data) < 4 or data[0] != 0 or data[1] != 0:
        raise DatasetFileError(f"{path} is corrupt: not an idx file (bad magic number)")
    ty, nd = data[2], data[3]
    if ty not in _IDX_TYPES or not 1 <= nd <= 3:
        raise DatasetFileError(f"{path} is corrupt: idx type {ty} / {nd} dimensions unknown")
    if len(data) < 4 + 4 * nd:
        raise DatasetFileError(f"{path} is corrupt: truncated header")
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(nd)]
    dtype = np.dtype(_IDX_TYPES[ty])
    expected = int(np.prod(dims)) * dtype.itemsize
    body = data[4 + 4 * nd:]
    if len(body) != expected:
        raise DatasetFileError(f"{path} is corrupt: the header says {dims} values "
                               f"({expected} bytes), the file holds {len(body)} bytes")
    return np.frombuffer(body, dtype=dtype).reshape(dims).astype(dtype.newbyteorder("="))


def read_image_file(path):
    x = read_idx(path)
    if x.dtype != np.uint8 or x.ndim != 3:
        raise DatasetFileError(f"{path}: expected a 3-d uint8 idx image file, got "
                               f"{x.ndim}-d {x.dtype}")
    return torch.from_numpy(x.copy())


def read_label_file(path):
    x = read_idx(path)
    if x.dtype != np.uint8 or x.ndim != 1:
        raise DatasetFileError(f"{path}: expected a 1-d uint8 idx label file, got "
                               f"{x.ndim}-d {x.dtype}")
    return torch.from_numpy(x.astype(np.int64))


class MNIST(VisionDataset):
    """``root/MNIST/raw/{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]``."""

    mirrors = ["https://ossci-datasets.s3.amazonaws.com/mnist/",
               "http://yann.lecun.com/exdb/mnist/"]
    resources = [
        ("train-images-idx3-ubyte.gz", "f68b3c2dcbeaaa9fbdd348bbdeb94873"),
        ("train-labels-idx1-ubyte.gz", "d53e105ee54ea40749a09fcbcd1e9432"),
        ("t10k-images-idx3-ubyte.gz", "9fb629c4189551a2d022fa330f9573f3"),
        ("t10k-labels-idx1-ubyte.gz", "ec29112dd5afa0611ce80d1b7f02629c"),
    ]
    classes = ["0 - zero", "1 - one", "2 - two", "3 - three", "4 - four", "5 - five",
               "6 - six", "7 - seven", "8 - eight", "9 - nine"]

    def __init__(self, root, train=True, transform=None, target_transform=None, download=False):
        super().__init__(root, transform=transform, target_transform=target_transform)
        self.train = train
        if download:
            self.download()
        if not self._check_exists():
            raise RuntimeError(f"Dataset not found: expected {self._expected()} in "
                               f"{self.raw_folder}. You can use download=True to download it")
        self.data, self.targets = self._load_data()

    @property
    def raw_folder(self) -> str:
        return os.path.join(self.root, type(self).__name__, "raw")

    @property
    def processed_folder(self) -> str:
        return os.path.join(self.root, type(self).__name__, "processed")

    @property
    def class_to_idx(self):
        return {c: i for i, c in enumerate(self.classes)}

    def _expected(self) -> str:
        return ", ".join(name[:-3] for name, _ in self.resources)

    def _path(self, name):
        """The raw file, uncompressed (torchvision's) or gzipped (read in memory)."""
        plain = os.path.join(self.raw_folder, name)
        return plain if os.path.isfile(plain) else plain + ".gz"

    def _check_exists(self) -> bool:
        return all(check_integrity(self._path(os.path.splitext(name)[0]))
                   for name, _ in self.resources)

    def download(self) -> None:
        """As torchvision: nothing to do when the files are there; else fetch each .gz
        (checked against torchvision's md5) and unpack it next to it."""
        if self._check_exists():
            return
        os.makedirs(self.raw_folder, exist_ok=True)
        for filename, md5 in self.resources:
            try:
                gz = download_url([m + filename for m in self.mirrors], self.raw_folder,
                                  filename, md5)
            except DatasetFileError as e:
                if os.path.isfile(os.path.join(self.raw_folder, filename)):
                    raise  # present but corrupt: the error says so
                raise DatasetFileError(
                    f"{type(self).__name__}: expected {self._expected()} (or the .gz files) in "
                    f"{self.raw_folder}; they are not there and downloading failed ({e})") from None
            out = os.path.splitext(gz)[0]
            if not os.path.isfile(out):
                data = read_maybe_gzip(gz)
                with open(out + ".part", "wb") as f:
                    f.write(data)
                os.replace(out + ".part", out)

    def _load_data(self):
        split = "train" if self.train else "t10k"
        data = read_image_file(self._path(f"{split}-images-idx3-ubyte"))
        targets = read_label_file(self._path(f"{split}-labels-idx1-ubyte"))
        if len(data) != len(targets):
            raise DatasetFileError(f"{self.raw_folder}: {len(data)} images but {len(targets)} "
                                   f"labels for the {split} split")
        if len(targets) and int(targets.max()) >= len(self.classes):
            raise DatasetFileError(f"{self.raw_folder}: label {int(targets.max())} out of range "
                                   f"for {len(self.classes)} classes")
        return data, targets

    def __getitem__(self, index):
        img, target = self.data[index], int(self.targets[index])
        img = _pil().Image.fromarray(img.numpy(), mode="L")
        return self._transform(img, target)

    def __len__(self):
        return len(self.data)

    def extra_repr(self) -> str:
        return f"Split: {'Train' if self.train is True else 'Test'}"


class FashionMNIST(MNIST):
    mirrors = ["http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"]
    resources = [
        ("train-images-idx3-ubyte.gz", "8d4fb7e6c68d591d4c3dfef9ec88bf0d"),
        ("train-labels-idx1-ubyte.gz", "25c81989df183df01b3e8a0aad5dffbe"),
        ("t10k-images-idx3-ubyte.gz", "bef4ecab320f06d8554ea6380940ec79"),
        ("t10k-labels-idx1-ubyte.gz", "bb300cfdad3c16e7a12a480ee83cd310"),
    ]
    classes = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
               "Sneaker", "Bag", "Ankle boot"]


class KMNIST(MNIST):
    mirrors = ["http://codh.rois.ac.jp/kmnist/dataset/kmnist/"]
    resources = [
        ("train-images-idx3-ubyte.gz", "bdb82020997e1d708af4cf47b453dcf7"),
        ("train-labels-idx1-ubyte.gz", "e144d726b3acfaa3e44228e80efcd344"),
        ("t10k-images-idx3-ubyte.gz", "5c965bf0a639b31b8f53240b1b52f4d7"),
        ("t10k-labels-idx1-ubyte.gz", "7320c461ea6c1c855c0b718fb2a4b134"),
    ]
    classes = ["o", "ki", "su", "tsu", "na", "ha", "ma", "ya", "re", "wo"]
