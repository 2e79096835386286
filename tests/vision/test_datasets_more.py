"""EMNIST, QMNIST, USPS, STL10, CelebA, VOCSegmentation/VOCDetection and OxfordIIITPet read
files the tests write in the official formats (tests/vision/_formats.py). The same files were
read with torchvision 0.28 when these were written: every image, target, length and class list
matched."""
import os
import sys

import numpy as np
import pytest

Image = pytest.importorskip("PIL.Image")

import cadenza as torch  # noqa: E402
from cadenza.vision import datasets, transforms  # noqa: E402
from cadenza.vision.datasets import utils as dutils  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _formats as W  # noqa: E402


def test_emnist(tmp_path):
    written = W.write_emnist(str(tmp_path))
    for train, part in ((True, "train"), (False, "test")):
        ds = datasets.EMNIST(str(tmp_path), split="letters", train=train)
        images, labels = written[part]
        np.testing.assert_array_equal(ds.data.numpy(), images)
        np.testing.assert_array_equal(ds.targets.numpy(), labels)
        img, target = ds[3]
        assert img.mode == "L" and target == int(labels[3])
    assert ds.classes[:3] == ["N/A", "a", "b"] and len(ds.classes) == 27
    assert datasets.EMNIST.classes_split_dict["balanced"][-1] == "t"
    with pytest.raises(ValueError, match="Unknown value 'bogus' for argument split"):
        datasets.EMNIST(str(tmp_path), split="bogus")
    with pytest.raises(RuntimeError, match="emnist-digits-train-images-idx3-ubyte"):
        datasets.EMNIST(str(tmp_path), split="digits")
    with pytest.raises(dutils.DatasetFileError, match="EMNIST: expected emnist-digits"):
        datasets.EMNIST(str(tmp_path), split="digits", download=True)


def test_qmnist(tmp_path):
    written = W.write_qmnist(str(tmp_path))
    ds = datasets.QMNIST(str(tmp_path), train=True)
    images, labels = written["train"]
    np.testing.assert_array_equal(ds.data.numpy(), images)
    assert ds.targets.dtype == torch.int64 and tuple(ds.targets.shape) == (14, 8)
    assert ds[2][1] == int(labels[2, 0])
    full = datasets.QMNIST(str(tmp_path), what="test", compat=False)
    np.testing.assert_array_equal(full[1][1].numpy(), written["test"][1][1])
    assert len(datasets.QMNIST(str(tmp_path), what="test10k")) == 14
    assert len(datasets.QMNIST(str(tmp_path), what="test50k")) == 0
    assert "Split: test" in repr(full)
    with pytest.raises(dutils.DatasetFileError, match="xnist-images-idx3-ubyte"):
        datasets.QMNIST(str(tmp_path), what="nist", download=True)


def test_usps(tmp_path):
    written = W.write_usps(str(tmp_path))
    for train, name in ((True, "usps.bz2"), (False, "usps.t.bz2")):
        ds = datasets.USPS(str(tmp_path), train=train, transform=transforms.PILToTensor())
        images, labels = written[name]
        np.testing.assert_array_equal(ds.data, images)
        assert ds.targets == labels.tolist()
        x, y = ds[4]
        assert tuple(x.shape) == (1, 16, 16) and y == int(labels[4])
        np.testing.assert_array_equal(x.numpy()[0], images[4])
    os.remove(os.path.join(tmp_path, "usps.bz2"))
    with pytest.raises(FileNotFoundError, match="usps.bz2"):
        datasets.USPS(str(tmp_path))
    with pytest.raises(dutils.DatasetFileError, match="USPS: expected usps.bz2"):
        datasets.USPS(str(tmp_path), download=True)
    with open(os.path.join(tmp_path, "usps.bz2"), "wb") as f:
        f.write(b"not bz2")
    with pytest.raises(dutils.DatasetFileError, match="corrupt"):
        datasets.USPS(str(tmp_path))


def _point_stl10_at(monkeypatch, md5):
    monkeypatch.setattr(datasets.STL10, "train_list",
                        [[n, md5[n]] for n, _ in datasets.STL10.train_list])
    monkeypatch.setattr(datasets.STL10, "test_list",
                        [[n, md5[n]] for n, _ in datasets.STL10.test_list])


def test_stl10(tmp_path, monkeypatch):
    written, md5 = W.write_stl10(str(tmp_path))
    with pytest.raises(RuntimeError, match="Dataset not found or corrupted"):
        datasets.STL10(str(tmp_path))          # the official checksums: not these files
    with pytest.raises(dutils.DatasetFileError, match="train_X.bin"):
        datasets.STL10(str(tmp_path), download=True)
    _point_stl10_at(monkeypatch, md5)
    ds = datasets.STL10(str(tmp_path), split="train")
    np.testing.assert_array_equal(ds.data, written["train"][0])
    np.testing.assert_array_equal(ds.labels, written["train"][1])
    img, y = ds[2]
    assert img.size == (96, 96) and y == int(written["train"][1][2])
    np.testing.assert_array_equal(np.asarray(img), written["train"][0][2].transpose(1, 2, 0))
    assert ds.classes[1] == "class1"
    fold = datasets.STL10(str(tmp_path), split="train", folds=1)
    np.testing.assert_array_equal(fold.labels, written["train"][1][[1, 3, 5]])
    both = datasets.STL10(str(tmp_path), split="train+unlabeled")
    assert len(both) == 9 and both.labels[-1] == -1
    un = datasets.STL10(str(tmp_path), split="unlabeled")
    assert un[0][1] == -1 and len(un) == 3
    assert len(datasets.STL10(str(tmp_path), split="test")) == 4
    with pytest.raises(ValueError, match="folds should be in the range"):
        datasets.STL10(str(tmp_path), folds=10)


def test_celeba(tmp_path, monkeypatch):
    w, md5 = W.write_celeba(str(tmp_path))
    with pytest.raises(RuntimeError, match="Dataset not found or corrupted"):
        datasets.CelebA(str(tmp_path))
    with pytest.raises(dutils.DatasetFileError, match="list_attr_celeba.txt"):
        datasets.CelebA(str(tmp_path), download=True)
    monkeypatch.setattr(datasets.CelebA, "file_list", [
        (a, md5.get(n, m), n) for a, m, n in datasets.CelebA.file_list])
    ds = datasets.CelebA(str(tmp_path), split="train")
    rows = np.nonzero(w["partition"] == 0)[0]
    assert ds.filename == [w["names"][i] for i in rows] and ds.attr_names == w["attr_names"]
    np.testing.assert_array_equal(ds.attr.numpy(), (w["attr"][rows] + 1) // 2)
    img, target = ds[1]
    assert img.size == (12, 10)
    np.testing.assert_array_equal(target.numpy(), (w["attr"][rows[1]] + 1) // 2)
    multi = datasets.CelebA(str(tmp_path), split="test",
                            target_type=["identity", "bbox", "landmarks"])
    t = np.nonzero(w["partition"] == 2)[0]
    ident, bbox, land = multi[0][1]
    assert int(ident) == w["identity"][t[0]]
    np.testing.assert_array_equal(bbox.numpy(), w["bbox"][t[0]])
    np.testing.assert_array_equal(land.numpy(), w["landmarks"][t[0]])
    assert len(datasets.CelebA(str(tmp_path), split="all")) == 6
    assert datasets.CelebA(str(tmp_path), target_type=[])[0][1] is None
    with pytest.raises(ValueError, match="Unknown value 'x' for argument split"):
        datasets.CelebA(str(tmp_path), split="x")
    with pytest.raises(ValueError, match='Target type "age"'):
        datasets.CelebA(str(tmp_path), target_type="age")[0]


def test_voc(tmp_path):
    ids, masks, objects = W.write_voc(str(tmp_path))
    seg = datasets.VOCSegmentation(str(tmp_path), image_set="train")
    assert len(seg) == 3
    img, mask = seg[1]
    assert img.mode == "RGB" and mask.mode == "P"
    np.testing.assert_array_equal(np.asarray(mask), masks[ids["train"][1]])
    det = datasets.VOCDetection(str(tmp_path), image_set="train",
                                transforms=lambda i, t: (transforms.functional.pil_to_tensor(i),
                                                         t))
    x, target = det[1]
    ann = target["annotation"]
    assert x.dtype == torch.uint8 and ann["filename"] == ids["train"][1] + ".jpg"
    assert [o["name"] for o in ann["object"]] == ["dog", "person"]
    assert ann["object"][0]["bndbox"] == {"xmin": "1", "ymin": "2", "xmax": "8", "ymax": "9"}
    assert ann["size"] == {"width": "12", "height": "10", "depth": "3"}
    one = datasets.VOCDetection(str(tmp_path), image_set="train")[0][1]["annotation"]
    assert isinstance(one["object"], list) and len(one["object"]) == 1
    assert len(datasets.VOCSegmentation(str(tmp_path), image_set="val")) == 1
    with pytest.raises(ValueError, match="Unknown value 'test' for argument image_set"):
        datasets.VOCSegmentation(str(tmp_path), image_set="test")
    with pytest.raises(RuntimeError, match="Dataset not found"):
        datasets.VOCSegmentation(str(tmp_path), year="2011")
    with pytest.raises(dutils.DatasetFileError, match="VOCtrainval_25-May-2011.tar"):
        datasets.VOCDetection(str(tmp_path), year="2011", download=True)
    with open(det.annotations[0], "w") as f:
        f.write("<annotation><object>")
    with pytest.raises(dutils.DatasetFileError, match="corrupt"):
        det[0]


def test_oxford_iiit_pet(tmp_path):
    rows, trimaps = W.write_pets(str(tmp_path))
    ds = datasets.OxfordIIITPet(str(tmp_path), target_types=["category", "binary-category",
                                                              "segmentation"])
    assert len(ds) == 3
    assert ds.classes == ["Abyssinian", "American Bulldog"]
    assert ds.class_to_idx == {"Abyssinian": 0, "American Bulldog": 1}
    img, (cat, binary, seg) = ds[1]
    assert img.mode == "RGB" and (cat, binary) == (1, 1)
    np.testing.assert_array_equal(np.asarray(seg), trimaps["american_bulldog_10"])
    test = datasets.OxfordIIITPet(str(tmp_path), split="test")
    assert test[0][1] == 2 and test.classes == ["American Pit Bull Terrier"]
    assert datasets.OxfordIIITPet(str(tmp_path), target_types=[])[0][1] is None
    with pytest.raises(ValueError, match="Unknown value 'mask' for argument target_types"):
        datasets.OxfordIIITPet(str(tmp_path), target_types="mask")
    with pytest.raises(RuntimeError, match="Dataset not found"):
        datasets.OxfordIIITPet(str(tmp_path / "nowhere"))
    with pytest.raises(dutils.DatasetFileError, match="images.tar.gz"):
        datasets.OxfordIIITPet(str(tmp_path / "nowhere"), download=True)


@pytest.mark.parametrize("compress", [False, True])
def test_svhn(tmp_path, monkeypatch, compress):
    X, y, md5 = W.write_svhn(str(tmp_path), "test", compress=compress)
    with pytest.raises(RuntimeError, match="Dataset not found or corrupted"):
        datasets.SVHN(str(tmp_path), split="test")      # the official checksum
    with pytest.raises(dutils.DatasetFileError, match="SVHN: expected extra_32x32.mat"):
        datasets.SVHN(str(tmp_path), split="extra", download=True)
    split_list = dict(datasets.SVHN.split_list)
    split_list["test"] = split_list["test"][:2] + [md5]
    monkeypatch.setattr(datasets.SVHN, "split_list", split_list)
    ds = datasets.SVHN(str(tmp_path), split="test")
    labels = y[:, 0].astype(np.int64)
    labels[labels == 10] = 0
    np.testing.assert_array_equal(ds.labels, labels)
    np.testing.assert_array_equal(ds.data, X.transpose(3, 2, 0, 1))
    img, target = ds[3]
    assert img.size == (32, 32) and target == labels[3]
    np.testing.assert_array_equal(np.asarray(img), X[..., 3])
    with pytest.raises(ValueError, match="Unknown value 'valid' for argument split"):
        datasets.SVHN(str(tmp_path), split="valid")


def test_flowers102(tmp_path, monkeypatch):
    labels, ids, md5 = W.write_flowers(str(tmp_path))
    with pytest.raises(RuntimeError, match="Dataset not found or corrupted"):
        datasets.Flowers102(str(tmp_path))
    monkeypatch.setattr(datasets.Flowers102, "_file_dict", dict(
        datasets.Flowers102._file_dict, label=("imagelabels.mat", md5["imagelabels.mat"]),
        setid=("setid.mat", md5["setid.mat"])))
    for split, key in (("train", "trnid"), ("val", "valid"), ("test", "tstid")):
        ds = datasets.Flowers102(str(tmp_path), split=split)
        assert ds._labels == [int(labels[i - 1]) - 1 for i in ids[key]]
        img, target = ds[0]
        assert img.mode == "RGB" and target == ds._labels[0]
    assert len(ds.classes) == 102 and ds.classes[0] == "pink primrose"
    with pytest.raises(dutils.DatasetFileError, match="102flowers.tgz"):
        datasets.Flowers102(str(tmp_path / "none"), download=True)


def test_matfile_reader_errors(tmp_path):
    from cadenza.vision.datasets._matfile import loadmat
    path = str(tmp_path / "x.mat")
    W.write_mat(path, {"a": np.arange(6.0).reshape(2, 3), "b": np.arange(4, dtype=np.uint8)})
    out = loadmat(path)
    np.testing.assert_array_equal(out["a"], np.arange(6.0).reshape(2, 3))
    assert out["b"].shape == (1, 4) and out["b"].dtype == np.uint8
    assert loadmat(path, squeeze_me=True)["b"].shape == (4,)
    with open(path, "wb") as f:
        f.write(b"not a mat file" * 20)
    with pytest.raises(dutils.DatasetFileError, match="not a MATLAB 5 MAT-file"):
        loadmat(path)
    W.write_mat(path, {"a": np.arange(3.0)}, compress=True)
    data = bytearray(open(path, "rb").read())
    data[140:150] = b"\0" * 10
    open(path, "wb").write(bytes(data))
    with pytest.raises(dutils.DatasetFileError, match="corrupt"):
        loadmat(path)


def test_wrap_dataset_for_transforms_v2(tmp_path):
    import pickle
    from cadenza.vision import tv_tensors
    from cadenza.vision.transforms import v2
    ids, masks, objects = W.write_voc(str(tmp_path))
    det = datasets.wrap_dataset_for_transforms_v2(datasets.VOCDetection(
        str(tmp_path), image_set="train",
        transforms=v2.Compose([v2.ToImage(), v2.RandomHorizontalFlip(p=1.0)])))
    assert type(det).__name__ == "WrappedVOCDetection" and len(det) == 3
    img, target = det[1]
    assert sorted(target) == ["boxes", "labels"] and type(img) is tv_tensors.Image
    boxes = target["boxes"]
    assert type(boxes) is tv_tensors.BoundingBoxes and boxes.canvas_size == (10, 12)
    # dog [1, 2, 8, 9] and person [0, 0, 5, 4], flipped on a 12-wide canvas
    assert boxes.numpy().tolist() == [[4, 2, 11, 9], [7, 0, 12, 4]]
    assert target["labels"].tolist() == [12, 15]
    assert det.images == det._dataset.images                      # attributes pass through
    full = datasets.wrap_dataset_for_transforms_v2(
        datasets.VOCDetection(str(tmp_path), image_set="train"), target_keys="all")
    assert sorted(full[0][1]) == ["annotation", "boxes", "labels"]
    with pytest.raises(ValueError, match="not available"):
        datasets.wrap_dataset_for_transforms_v2(
            datasets.VOCDetection(str(tmp_path)), target_keys={"masks"})[0]
    again = pickle.loads(pickle.dumps(det))
    assert again[1][1]["boxes"].numpy().tolist() == [[4, 2, 11, 9], [7, 0, 12, 4]]
    seg = datasets.wrap_dataset_for_transforms_v2(datasets.VOCSegmentation(str(tmp_path)))
    mask = seg[0][1]
    assert type(mask) is tv_tensors.Mask and tuple(mask.shape) == (1, 10, 12)
    np.testing.assert_array_equal(mask.numpy()[0], masks[ids["train"][0]])
    with pytest.raises(ValueError, match="target_keys"):
        datasets.wrap_dataset_for_transforms_v2(datasets.VOCSegmentation(str(tmp_path)),
                                                target_keys="all")
    with pytest.raises(TypeError, match="No wrapper exists for dataset class FakeData"):
        datasets.wrap_dataset_for_transforms_v2(datasets.FakeData(size=2))
    with pytest.raises(TypeError, match="VisionDataset"):
        datasets.wrap_dataset_for_transforms_v2([1, 2])


def test_wrap_celeba_and_pets(tmp_path, monkeypatch):
    from cadenza.vision import tv_tensors
    w, md5 = W.write_celeba(str(tmp_path))
    monkeypatch.setattr(datasets.CelebA, "file_list", [
        (a, md5.get(n, m), n) for a, m, n in datasets.CelebA.file_list])
    ds = datasets.wrap_dataset_for_transforms_v2(datasets.CelebA(
        str(tmp_path), split="all", target_type=["bbox", "identity"]))
    box, ident = ds[2][1]
    x, y, bw, bh = w["bbox"][2]
    assert type(box) is tv_tensors.BoundingBoxes and box.format.value == "XYXY"
    assert box.numpy().tolist() == [[x, y, x + bw, y + bh]] and int(ident) == w["identity"][2]
    with pytest.raises(RuntimeError, match="not supported by this wrapper"):
        datasets.wrap_dataset_for_transforms_v2(datasets.CelebA(str(tmp_path)))
    rows, trimaps = W.write_pets(str(tmp_path))
    pets = datasets.wrap_dataset_for_transforms_v2(datasets.OxfordIIITPet(
        str(tmp_path), target_types=["segmentation", "category"]))
    seg, cat = pets[0][1]
    assert type(seg) is tv_tensors.Mask and cat == 0
    np.testing.assert_array_equal(seg.numpy()[0], trimaps["Abyssinian_1"])
