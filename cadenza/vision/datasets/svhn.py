"""SVHN (``root/{train,test,extra}_32x32.mat``) and Flowers102 (``root/flowers-102/``: jpg/,
imagelabels.mat, setid.mat), read with the MAT-file reader in ``_matfile`` (no SciPy needed),
torchvision's checks (md5 of the .mat files)."""
from __future__ import annotations

import os

import numpy as np

from .._pil import pil as _pil
from ._matfile import loadmat
from .folder import default_loader
from .utils import (DatasetFileError, check_integrity, download_or_explain, extract_archive,
                    verify_str_arg)
from .vision import VisionDataset

__all__ = ["SVHN", "Flowers102"]


class SVHN(VisionDataset):
    """32x32 house-number digits; label 10 (the digit 0) is read as 0, as torchvision does."""

    split_list = {
        "train": ["http://ufldl.stanford.edu/housenumbers/train_32x32.mat", "train_32x32.mat",
                  "e26dedcc434d2e4c54c9b2d4a06d8373"],
        "test": ["http://ufldl.stanford.edu/housenumbers/test_32x32.mat", "test_32x32.mat",
                 "eb5a983be6a315427106f1b164d9cef3"],
        "extra": ["http://ufldl.stanford.edu/housenumbers/extra_32x32.mat", "extra_32x32.mat",
                  "a93ce644f1a588dc4d68dda5feec44a7"]}

    def __init__(self, root, split="train", transform=None, target_transform=None,
                 download=False):
        super().__init__(root, transform=transform, target_transform=target_transform)
        self.split = verify_str_arg(split, "split", tuple(self.split_list))
        self.url, self.filename, self.file_md5 = self.split_list[split]
        if download:
            self.download()
        if not self._check_integrity():
            raise RuntimeError("Dataset not found or corrupted. You can use download=True to "
                               "download it")
        path = os.path.join(self.root, self.filename)
        mat = loadmat(path)
        if "X" not in mat or "y" not in mat or mat["X"].ndim != 4:
            raise DatasetFileError(f"{path}: expected variables X (32x32x3xN) and y (Nx1)")
        self.labels = mat["y"].astype(np.int64).squeeze()
        np.place(self.labels, self.labels == 10, 0)
        self.data = np.transpose(mat["X"], (3, 2, 0, 1))

    def __getitem__(self, index):
        img = _pil().Image.fromarray(np.transpose(self.data[index], (1, 2, 0)))
        return self._transform(img, int(self.labels[index]))

    def __len__(self):
        return len(self.data)

    def _check_integrity(self):
        return check_integrity(os.path.join(self.root, self.filename), self.file_md5)

    def download(self):
        if self._check_integrity():
            return
        download_or_explain(self, self.url, self.root, self.filename, self.file_md5,
                            self.filename)

    def extra_repr(self):
        return f"Split: {self.split}"


class Flowers102(VisionDataset):
    """102 flower categories; images jpg/image_NNNNN.jpg, labels from imagelabels.mat, splits
    from setid.mat (trnid, valid, tstid)."""

    _download_url_prefix = "https://www.robots.ox.ac.uk/~vgg/data/flowers/102/"
    _file_dict = {"image": ("102flowers.tgz", "52808999861908f626f3c1f4e79d11fa"),
                  "label": ("imagelabels.mat", "e0620be6f572b9609742df49c70aed4d"),
                  "setid": ("setid.mat", "a5357ecc9cb78c4bef273ce3793fc85c")}
    _splits_map = {"train": "trnid", "val": "valid", "test": "tstid"}

    def __init__(self, root, split="train", transform=None, target_transform=None,
                 download=False, loader=default_loader):
        super().__init__(root, transform=transform, target_transform=target_transform)
        self._split = verify_str_arg(split, "split", ("train", "val", "test"))
        self._base_folder = os.path.join(self.root, "flowers-102")
        self._images_folder = os.path.join(self._base_folder, "jpg")
        if download:
            self.download()
        if not self._check_integrity():
            raise RuntimeError("Dataset not found or corrupted. You can use download=True to "
                               "download it")
        set_ids = loadmat(os.path.join(self._base_folder, self._file_dict["setid"][0]),
                          squeeze_me=True)
        labels = loadmat(os.path.join(self._base_folder, self._file_dict["label"][0]),
                         squeeze_me=True)
        image_ids = np.atleast_1d(set_ids[self._splits_map[self._split]]).tolist()
        id_to_label = dict(enumerate((np.atleast_1d(labels["labels"]) - 1).tolist(), 1))
        self._labels = [id_to_label[int(i)] for i in image_ids]
        self._image_files = [os.path.join(self._images_folder, f"image_{int(i):05d}.jpg")
                             for i in image_ids]
        self.loader = loader

    def __len__(self):
        return len(self._image_files)

    def __getitem__(self, idx):
        image, label = self.loader(self._image_files[idx]), self._labels[idx]
        if self.transform:
            image = self.transform(image)
        if self.target_transform:
            label = self.target_transform(label)
        return image, label

    def extra_repr(self):
        return f"split={self._split}"

    def _check_integrity(self):
        if not os.path.isdir(self._images_folder):
            return False
        return all(check_integrity(os.path.join(self._base_folder, self._file_dict[k][0]),
                                   self._file_dict[k][1]) for k in ("label", "setid"))

    def download(self):
        if self._check_integrity():
            return
        name, md5 = self._file_dict["image"]
        expected = "jpg/, imagelabels.mat, setid.mat"
        if not os.path.isdir(self._images_folder):
            archive = download_or_explain(self, self._download_url_prefix + name,
                                          self._base_folder, name, md5, expected)
            extract_archive(archive, self._base_folder)
        for key in ("label", "setid"):
            name, md5 = self._file_dict[key]
            download_or_explain(self, self._download_url_prefix + name, self._base_folder,
                                name, md5, expected)

    classes = [
        "pink primrose", "hard-leaved pocket orchid", "canterbury bells", "sweet pea",
        "english marigold", "tiger lily", "moon orchid", "bird of paradise", "monkshood",
        "globe thistle", "snapdragon", "colt's foot", "king protea", "spear thistle",
        "yellow iris", "globe-flower", "purple coneflower", "peruvian lily", "balloon flower",
        "giant white arum lily", "fire lily", "pincushion flower", "fritillary", "red ginger",
        "grape hyacinth", "corn poppy", "prince of wales feathers", "stemless gentian",
        "artichoke", "sweet william", "carnation", "garden phlox", "love in the mist",
        "mexican aster", "alpine sea holly", "ruby-lipped cattleya", "cape flower",
        "great masterwort", "siam tulip", "lenten rose", "barbeton daisy", "daffodil",
        "sword lily", "poinsettia", "bolero deep blue", "wallflower", "marigold", "buttercup",
        "oxeye daisy", "common dandelion", "petunia", "wild pansy", "primula", "sunflower",
        "pelargonium", "bishop of llandaff", "gaura", "geranium", "orange dahlia",
        "pink-yellow dahlia?", "cautleya spicata", "japanese anemone", "black-eyed susan",
        "silverbush", "californian poppy", "osteospermum", "spring crocus", "bearded iris",
        "windflower", "tree poppy", "gazania", "azalea", "water lily", "rose", "thorn apple",
        "morning glory", "passion flower", "lotus", "toad lily", "anthurium", "frangipani",
        "clematis", "hibiscus", "columbine", "desert-rose", "tree mallow", "magnolia",
        "cyclamen", "watercress", "canna lily", "hippeastrum", "bee balm", "ball moss",
        "foxglove", "bougainvillea", "camellia", "mallow", "mexican petunia", "bromelia",
        "blanket flower", "trumpet creeper", "blackberry lily"]
