"""MNIST, FashionMNIST, KMNIST, EMNIST, QMNIST from their idx files under ``root/<Class>/raw/``
(gzipped or not), torchvision's layout and checks."""
from __future__ import annotations

import os
import string
import zipfile

import numpy as np

import cadenza as torch
from .._pil import pil as _pil
from .utils import (DatasetFileError, check_integrity, download_or_explain, download_url,
                    read_maybe_gzip, verify_str_arg)
from .vision import VisionDataset

__all__ = ["MNIST", "FashionMNIST", "KMNIST", "EMNIST", "QMNIST", "read_image_file",
           "read_label_file"]

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


def _unpack(path, out):
    """A .gz / .xz file written uncompressed to ``out`` (kept if already there)."""
    if os.path.isfile(out):
        return
    if path.endswith(".xz"):
        import lzma   # reason: stdlib codec only needed for QMNIST's nist files
        with open(path, "rb") as f:
            data = lzma.decompress(f.read())
    else:
        data = read_maybe_gzip(path)
    with open(out + ".part", "wb") as f:
        f.write(data)
    os.replace(out + ".part", out)


class EMNIST(MNIST):
    """``root/EMNIST/raw/emnist-<split>-{train,test}-{images-idx3,labels-idx1}-ubyte[.gz]``;
    split one of byclass, bymerge, balanced, letters, digits, mnist."""

    url = "https://biometrics.nist.gov/cs_links/EMNIST/gzip.zip"
    md5 = "58c8d27c78d21e728a6bc7b3cc06412e"
    splits = ("byclass", "bymerge", "balanced", "letters", "digits", "mnist")
    _merged_classes = {"c", "i", "j", "k", "l", "m", "o", "p", "s", "u", "v", "w", "x", "y", "z"}
    _all_classes = set(string.digits + string.ascii_letters)
    classes_split_dict = {
        "byclass": sorted(_all_classes), "bymerge": sorted(_all_classes - _merged_classes),
        "balanced": sorted(_all_classes - _merged_classes),
        "letters": ["N/A"] + list(string.ascii_lowercase), "digits": list(string.digits),
        "mnist": list(string.digits)}

    def __init__(self, root, split, **kwargs):
        self.split = verify_str_arg(split, "split", self.splits)
        self.classes = self.classes_split_dict[self.split]
        super().__init__(root, **kwargs)

    @property
    def _file_prefix(self):
        return f"emnist-{self.split}-{'train' if self.train else 'test'}"

    @property
    def images_file(self):
        return self._path(f"{self._file_prefix}-images-idx3-ubyte")

    @property
    def labels_file(self):
        return self._path(f"{self._file_prefix}-labels-idx1-ubyte")

    def _expected(self):
        return f"{self._file_prefix}-images-idx3-ubyte, {self._file_prefix}-labels-idx1-ubyte"

    def _check_exists(self):
        return all(check_integrity(f) for f in (self.images_file, self.labels_file))

    def _load_data(self):
        return _checked_pair(self, read_image_file(self.images_file),
                             read_label_file(self.labels_file))

    def download(self):
        """torchvision's archive (gzip.zip) unpacked into raw/ when the files are missing."""
        if self._check_exists():
            return
        os.makedirs(self.raw_folder, exist_ok=True)
        archive = download_or_explain(self, self.url, self.raw_folder, os.path.basename(self.url),
                                      self.md5, self._expected())
        with zipfile.ZipFile(archive) as z:
            for name in z.namelist():
                if name.endswith(".gz"):
                    gz = os.path.join(self.raw_folder, os.path.basename(name))
                    with open(gz, "wb") as f:
                        f.write(z.read(name))
                    _unpack(gz, gz[:-3])


def _checked_pair(ds, data, targets):
    if len(data) != len(targets):
        raise DatasetFileError(f"{ds.raw_folder}: {len(data)} images but {len(targets)} labels")
    return data, targets


class QMNIST(MNIST):
    """``root/QMNIST/raw/qmnist-{train,test}-{images-idx3-ubyte,labels-idx2-int}`` (or
    xnist-* for what="nist"); targets are [N, 8] (class, NIST writer, ...); ``compat``
    returns only the class as an int."""

    subsets = {"train": "train", "test": "test", "test10k": "test", "test50k": "test",
               "nist": "nist"}
    _base = "https://raw.githubusercontent.com/facebookresearch/qmnist/master/"
    resources = {
        "train": [(_base + "qmnist-train-images-idx3-ubyte.gz", "ed72d4157d28c017586c42bc6afe6370"),
                  (_base + "qmnist-train-labels-idx2-int.gz", "0058f8dd561b90ffdd0f734c6a30e5e4")],
        "test": [(_base + "qmnist-test-images-idx3-ubyte.gz", "1394631089c404de565df7b7aeaf9412"),
                 (_base + "qmnist-test-labels-idx2-int.gz", "5b5b05890a5e13444e108efe57b788aa")],
        "nist": [(_base + "xnist-images-idx3-ubyte.xz", "7f124b3b8ab81486c9d8c2749c17f834"),
                 (_base + "xnist-labels-idx2-int.xz", "5ed0e788978e45d4a8bd4b7caec3d79d")]}

    def __init__(self, root, what=None, compat=True, train=True, **kwargs):
        if what is None:
            what = "train" if train else "test"
        self.what = verify_str_arg(what, "what", tuple(self.subsets))
        self.compat = compat
        super().__init__(root, train, **kwargs)

    def _files(self):
        return [os.path.splitext(os.path.basename(url))[0]
                for url, _ in self.resources[self.subsets[self.what]]]

    @property
    def images_file(self):
        return self._path(self._files()[0])

    @property
    def labels_file(self):
        return self._path(self._files()[1])

    def _expected(self):
        return ", ".join(self._files())

    def _check_exists(self):
        return all(check_integrity(f) for f in (self.images_file, self.labels_file))

    def _load_data(self):
        data = read_idx(self.images_file)
        if data.dtype != np.uint8 or data.ndim != 3:
            raise DatasetFileError(f"{self.images_file}: expected 3-d uint8 images, got "
                                   f"{data.ndim}-d {data.dtype}")
        targets = read_idx(self.labels_file)
        if targets.ndim != 2:
            raise DatasetFileError(f"{self.labels_file}: expected 2-d labels, got "
                                   f"{targets.ndim}-d")
        data, targets = _checked_pair(self, data, targets.astype(np.int64))
        if self.what == "test10k":
            data, targets = data[:10000], targets[:10000]
        elif self.what == "test50k":
            data, targets = data[10000:], targets[10000:]
        return torch.from_numpy(data.copy()), torch.from_numpy(targets.copy())

    def download(self):
        if self._check_exists():
            return
        os.makedirs(self.raw_folder, exist_ok=True)
        for url, md5 in self.resources[self.subsets[self.what]]:
            path = download_or_explain(self, url, self.raw_folder, os.path.basename(url), md5,
                                       self._expected())
            _unpack(path, os.path.splitext(path)[0])

    def __getitem__(self, index):
        img, target = self.data[index], self.targets[index]
        img = _pil().Image.fromarray(img.numpy(), mode="L")
        if self.transform is not None:
            img = self.transform(img)
        target = int(target[0]) if self.compat else target
        if self.target_transform is not None:
            target = self.target_transform(target)
        return img, target

    def extra_repr(self):
        return f"Split: {self.what}"
