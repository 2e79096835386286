"""Datasets of images with annotation files, read from torchvision's folder layouts: CelebA
(``root/celeba/``: img_align_celeba/ and the attribute/identity/bbox/landmark/partition text
files), Pascal VOC segmentation and detection (``root/VOCdevkit/VOC<year>/``: JPEGImages,
SegmentationClass PNGs, Annotations XML parsed with the standard library, ImageSets splits) and
Oxford-IIIT Pet (``root/oxford-iiit-pet/``: images/, annotations/{trainval,test}.txt, trimaps)."""
from __future__ import annotations

import collections
import csv
import os
import xml.etree.ElementTree as ET

import cadenza as torch
from .._pil import pil as _pil
from .utils import (DatasetFileError, check_integrity, download_or_explain, extract_archive,
                    verify_str_arg)
from .vision import VisionDataset

__all__ = ["CelebA", "VOCSegmentation", "VOCDetection", "OxfordIIITPet"]

CSV = collections.namedtuple("CSV", ["header", "index", "data"])


def _open_rgb(path):
    return _pil().Image.open(path).convert("RGB")


class CelebA(VisionDataset):
    """Targets by ``target_type``: "attr" (40 binary attributes), "identity", "bbox",
    "landmarks" (or a list of them: a tuple target)."""

    base_folder = "celeba"
    file_list = [
        ("0B7EVK8r0v71pZjFTYXZWM3FlRnM", "00d2c5bc6d35e252742224ab0c1e8fcb",
         "img_align_celeba.zip"),
        ("0B7EVK8r0v71pblRyaVFSWGxPY0U", "75e246fa4810816ffd6ee81facbd244c",
         "list_attr_celeba.txt"),
        ("1_ee_0u7vcNLOfNLegJRHmolfH5ICW-XS", "32bd1bd63d3c78cd57e08160ec5ed1e2",
         "identity_CelebA.txt"),
        ("0B7EVK8r0v71pbThiMVRxWXZ4dU0", "00566efa6fedff7a56946cd1c10f1c16",
         "list_bbox_celeba.txt"),
        ("0B7EVK8r0v71pd0FJY3Blby1HUTQ", "cc24ecafdb5b50baae59b03474781f8c",
         "list_landmarks_align_celeba.txt"),
        ("0B7EVK8r0v71pY0NSMzRuSXJEVkk", "d32c9cbf5e040fd4025c592c306e6668",
         "list_eval_partition.txt")]

    def __init__(self, root, split="train", target_type="attr", transform=None,
                 target_transform=None, download=False):
        super().__init__(root, transform=transform, target_transform=target_transform)
        self.split = split
        self.target_type = list(target_type) if isinstance(target_type, list) else [target_type]
        if not self.target_type and self.target_transform is not None:
            raise RuntimeError("target_transform is specified but target_type is empty")
        if download:
            self.download()
        if not self._check_integrity():
            raise RuntimeError("Dataset not found or corrupted. You can use download=True to "
                               "download it")
        split_ = {"train": 0, "valid": 1, "test": 2, "all": None}[verify_str_arg(
            split.lower() if isinstance(split, str) else split, "split",
            ("train", "valid", "test", "all"))]
        splits = self._load_csv("list_eval_partition.txt")
        identity = self._load_csv("identity_CelebA.txt")
        bbox = self._load_csv("list_bbox_celeba.txt", header=1)
        landmarks = self._load_csv("list_landmarks_align_celeba.txt", header=1)
        attr = self._load_csv("list_attr_celeba.txt", header=1)
        if split_ is None:
            rows = list(range(len(splits.index)))
        else:
            rows = [i for i, v in enumerate(splits.data[:, 0].tolist()) if v == split_]
        self.filename = [splits.index[i] for i in rows]
        idx = torch.tensor(rows, dtype=torch.int64)
        self.identity = identity.data[idx]
        self.bbox = bbox.data[idx]
        self.landmarks_align = landmarks.data[idx]
        self.attr = torch.div(attr.data[idx] + 1, 2, rounding_mode="floor")
        self.attr_names = attr.header

    def _load_csv(self, filename, header=None):
        path = os.path.join(self.root, self.base_folder, filename)
        with open(path) as f:
            data = list(csv.reader(f, delimiter=" ", skipinitialspace=True))
        headers = []
        if header is not None:
            headers, data = data[header], data[header + 1:]
        try:
            values = [[int(v) for v in row[1:]] for row in data]
            width = {len(v) for v in values}
            if len(width) > 1:
                raise ValueError(f"rows of {sorted(width)} values")
        except ValueError as e:
            raise DatasetFileError(f"{path} is corrupt: expected rows of a file name and "
                                   f"integers ({e})") from None
        return CSV(headers, [row[0] for row in data], torch.tensor(values, dtype=torch.int64))

    def _check_integrity(self):
        for _, md5, filename in self.file_list:
            path = os.path.join(self.root, self.base_folder, filename)
            if os.path.splitext(filename)[1] not in (".zip", ".7z") and \
                    not check_integrity(path, md5):
                return False
        return os.path.isdir(os.path.join(self.root, self.base_folder, "img_align_celeba"))

    def download(self):
        """CelebA's files live on Google Drive, which needs an interactive confirmation: when
        they are missing, the error names them and where they go."""
        if self._check_integrity():
            return
        folder = os.path.join(self.root, self.base_folder)
        missing = [name for _, md5, name in self.file_list
                   if not check_integrity(os.path.join(folder, name), md5)]
        raise DatasetFileError(f"CelebA: {', '.join(missing)} missing or corrupt in {folder} "
                               f"(and img_align_celeba/ unpacked there); download them from "
                               f"https://mmlab.ie.cuhk.edu.hk/projects/CelebA.html")

    def __getitem__(self, index):
        X = _pil().Image.open(os.path.join(self.root, self.base_folder, "img_align_celeba",
                                           self.filename[index]))
        target = []
        for t in self.target_type:
            if t == "attr":
                target.append(self.attr[index, :])
            elif t == "identity":
                target.append(self.identity[index, 0])
            elif t == "bbox":
                target.append(self.bbox[index, :])
            elif t == "landmarks":
                target.append(self.landmarks_align[index, :])
            else:
                raise ValueError(f'Target type "{t}" is not recognized.')
        if self.transform is not None:
            X = self.transform(X)
        if target:
            target = tuple(target) if len(target) > 1 else target[0]
            if self.target_transform is not None:
                target = self.target_transform(target)
        else:
            target = None
        return X, target

    def __len__(self):
        return len(self.attr)

    def extra_repr(self):
        return f"Target type: {self.target_type}\nSplit: {self.split}"


DATASET_YEAR_DICT = {
    "2012": ("https://thor.robots.ox.ac.uk/pascal/VOC/voc2012/VOCtrainval_11-May-2012.tar",
             "VOCtrainval_11-May-2012.tar", "6cd6e144f989b92b3379bac3b3de84fd",
             os.path.join("VOCdevkit", "VOC2012")),
    "2011": ("https://thor.robots.ox.ac.uk/pascal/VOC/voc2011/VOCtrainval_25-May-2011.tar",
             "VOCtrainval_25-May-2011.tar", "6c3384ef61512963050cb5d687e5bf1e",
             os.path.join("TrainVal", "VOCdevkit", "VOC2011")),
    "2010": ("https://thor.robots.ox.ac.uk/pascal/VOC/voc2010/VOCtrainval_03-May-2010.tar",
             "VOCtrainval_03-May-2010.tar", "da459979d0c395079b5c75ee67908abb",
             os.path.join("VOCdevkit", "VOC2010")),
    "2009": ("https://thor.robots.ox.ac.uk/pascal/VOC/voc2009/VOCtrainval_11-May-2009.tar",
             "VOCtrainval_11-May-2009.tar", "a3e00b113cfcfebf17e343f59da3caa1",
             os.path.join("VOCdevkit", "VOC2009")),
    "2008": ("https://thor.robots.ox.ac.uk/pascal/VOC/voc2008/VOCtrainval_14-Jul-2008.tar",
             "VOCtrainval_11-May-2012.tar", "2629fa636546599198acfcfbfcf1904a",
             os.path.join("VOCdevkit", "VOC2008")),
    "2007": ("https://thor.robots.ox.ac.uk/pascal/VOC/voc2007/VOCtrainval_06-Nov-2007.tar",
             "VOCtrainval_06-Nov-2007.tar", "c52e279531787c972589f7e41ab4ae64",
             os.path.join("VOCdevkit", "VOC2007")),
    "2007-test": ("https://thor.robots.ox.ac.uk/pascal/VOC/voc2007/VOCtest_06-Nov-2007.tar",
                  "VOCtest_06-Nov-2007.tar", "b6e924de25625d8de591ea690078ad9f",
                  os.path.join("VOCdevkit", "VOC2007"))}


class _VOCBase(VisionDataset):
    _SPLITS_DIR = _TARGET_DIR = _TARGET_FILE_EXT = ""

    def __init__(self, root, year="2012", image_set="train", download=False, transform=None,
                 target_transform=None, transforms=None):
        super().__init__(root, transforms, transform, target_transform)
        self.year = verify_str_arg(year, "year", [str(y) for y in range(2007, 2013)])
        valid = ["train", "trainval", "val"] + (["test"] if year == "2007" else [])
        self.image_set = verify_str_arg(image_set, "image_set", valid)
        key = "2007-test" if year == "2007" and image_set == "test" else year
        self.url, self.filename, self.md5, base_dir = DATASET_YEAR_DICT[key]
        voc_root = os.path.join(self.root, base_dir)
        if download and not os.path.isdir(voc_root):
            archive = download_or_explain(self, self.url, self.root, self.filename, self.md5,
                                          base_dir)
            extract_archive(archive, self.root)
        if not os.path.isdir(voc_root):
            raise RuntimeError("Dataset not found or corrupted. You can use download=True to "
                               "download it")
        split_f = os.path.join(voc_root, "ImageSets", self._SPLITS_DIR, image_set + ".txt")
        with open(split_f) as f:
            file_names = [x.strip() for x in f.readlines()]
        self.images = [os.path.join(voc_root, "JPEGImages", x + ".jpg") for x in file_names]
        self.targets = [os.path.join(voc_root, self._TARGET_DIR, x + self._TARGET_FILE_EXT)
                        for x in file_names]

    def __len__(self):
        return len(self.images)


class VOCSegmentation(_VOCBase):
    """(RGB image, palette PNG class mask)."""
    _SPLITS_DIR, _TARGET_DIR, _TARGET_FILE_EXT = "Segmentation", "SegmentationClass", ".png"

    @property
    def masks(self):
        return self.targets

    def __getitem__(self, index):
        img = _open_rgb(self.images[index])
        target = _pil().Image.open(self.masks[index])
        if self.transforms is not None:
            img, target = self.transforms(img, target)
        return img, target


class VOCDetection(_VOCBase):
    """(RGB image, the annotation XML as nested dicts: {"annotation": {..., "object": [...]}})."""
    _SPLITS_DIR, _TARGET_DIR, _TARGET_FILE_EXT = "Main", "Annotations", ".xml"

    @property
    def annotations(self):
        return self.targets

    def __getitem__(self, index):
        img = _open_rgb(self.images[index])
        try:
            root = ET.parse(self.annotations[index]).getroot()
        except ET.ParseError as e:
            raise DatasetFileError(f"{self.annotations[index]} is corrupt: {e}") from None
        target = self.parse_voc_xml(root)
        if self.transforms is not None:
            img, target = self.transforms(img, target)
        return img, target

    @staticmethod
    def parse_voc_xml(node):
        voc_dict = {}
        children = list(node)
        if children:
            def_dic = collections.defaultdict(list)
            for dc in map(VOCDetection.parse_voc_xml, children):
                for ind, v in dc.items():
                    def_dic[ind].append(v)
            if node.tag == "annotation":
                def_dic["object"] = [def_dic["object"]]
            voc_dict = {node.tag: {ind: v[0] if len(v) == 1 else v
                                   for ind, v in def_dic.items()}}
        if node.text:
            text = node.text.strip()
            if not children:
                voc_dict[node.tag] = text
        return voc_dict


class OxfordIIITPet(VisionDataset):
    """Targets by ``target_types``: "category" (37 breeds), "binary-category" (cat/dog),
    "segmentation" (the trimap PNG)."""

    _RESOURCES = (("https://www.robots.ox.ac.uk/~vgg/data/pets/data/images.tar.gz",
                   "5c4f3ee8e5d25df40f4fd59a7f44e54c"),
                  ("https://www.robots.ox.ac.uk/~vgg/data/pets/data/annotations.tar.gz",
                   "95a8c909bbe2e81eed6a22bccdf3f68f"))
    _VALID_TARGET_TYPES = ("category", "binary-category", "segmentation")

    def __init__(self, root, split="trainval", target_types="category", transforms=None,
                 transform=None, target_transform=None, download=False):
        self._split = verify_str_arg(split, "split", ("trainval", "test"))
        if isinstance(target_types, str):
            target_types = [target_types]
        self._target_types = [verify_str_arg(t, "target_types", self._VALID_TARGET_TYPES)
                              for t in target_types]
        super().__init__(root, transforms=transforms, transform=transform,
                         target_transform=target_transform)
        self._base_folder = os.path.join(self.root, "oxford-iiit-pet")
        self._images_folder = os.path.join(self._base_folder, "images")
        self._anns_folder = os.path.join(self._base_folder, "annotations")
        self._segs_folder = os.path.join(self._anns_folder, "trimaps")
        if download and not self._check_exists():
            for url, md5 in self._RESOURCES:
                archive = download_or_explain(self, url, self._base_folder,
                                              os.path.basename(url), md5, "images/, annotations/")
                extract_archive(archive, self._base_folder)
        if not self._check_exists():
            raise RuntimeError("Dataset not found. You can use download=True to download it")
        image_ids, self._labels, self._bin_labels = [], [], []
        path = os.path.join(self._anns_folder, f"{self._split}.txt")
        with open(path) as f:
            for line in f:
                parts = line.strip().split()
                if len(parts) != 4:
                    raise DatasetFileError(f"{path} is corrupt: expected 'id class species "
                                           f"breed' per line, got {line.strip()!r}")
                image_id, label, bin_label, _ = parts
                image_ids.append(image_id)
                self._labels.append(int(label) - 1)
                self._bin_labels.append(int(bin_label) - 1)
        self.bin_classes = ["Cat", "Dog"]
        self.classes = [" ".join(part.title() for part in raw.split("_")) for raw, _ in sorted(
            {(i.rsplit("_", 1)[0], lab) for i, lab in zip(image_ids, self._labels)},
            key=lambda x: x[1])]
        self.bin_class_to_idx = dict(zip(self.bin_classes, range(len(self.bin_classes))))
        self.class_to_idx = dict(zip(self.classes, range(len(self.classes))))
        self._images = [os.path.join(self._images_folder, f"{i}.jpg") for i in image_ids]
        self._segs = [os.path.join(self._segs_folder, f"{i}.png") for i in image_ids]

    def __len__(self):
        return len(self._images)

    def __getitem__(self, idx):
        image = _open_rgb(self._images[idx])
        target = []
        for t in self._target_types:
            if t == "category":
                target.append(self._labels[idx])
            elif t == "binary-category":
                target.append(self._bin_labels[idx])
            else:
                target.append(_pil().Image.open(self._segs[idx]))
        target = None if not target else target[0] if len(target) == 1 else tuple(target)
        if self.transforms:
            image, target = self.transforms(image, target)
        return image, target

    def _check_exists(self):
        return all(os.path.isdir(f) for f in (self._images_folder, self._anns_folder))
