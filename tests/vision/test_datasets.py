"""cadenza.vision.datasets read files the tests write in the official formats."""
import os
import pickle
import sys

import numpy as np
import pytest

Image = pytest.importorskip("PIL.Image")

import cadenza as torch  # noqa: E402
from cadenza.utils.data import DataLoader  # noqa: E402
from cadenza.vision import datasets, transforms  # noqa: E402
from cadenza.vision.datasets import utils as dutils  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _formats  # noqa: E402


@pytest.mark.parametrize("cls", [datasets.MNIST, datasets.FashionMNIST, datasets.KMNIST])
@pytest.mark.parametrize("compress", [False, True])
def test_mnist_family_reads_idx_files(tmp_path, cls, compress):
    written = _formats.write_mnist(str(tmp_path), cls.__name__, compress=compress)
    for train, split in ((True, "train"), (False, "t10k")):
        ds = cls(str(tmp_path), train=train, download=not compress)
        images, labels = written[split]
        assert len(ds) == len(labels)
        np.testing.assert_array_equal(ds.data.numpy(), images)
        np.testing.assert_array_equal(ds.targets.numpy(), labels.astype(np.int64))
        assert ds.targets.dtype == torch.int64 and ds.data.dtype == torch.uint8
        img, target = ds[5]
        assert img.mode == "L" and img.size == (28, 28) and target == int(labels[5])
        np.testing.assert_array_equal(np.asarray(img), images[5])
    assert ds.class_to_idx[ds.classes[3]] == 3
    assert "Split: Test" in repr(ds)


def test_mnist_with_transforms_and_dataloader(tmp_path):
    written = _formats.write_mnist(str(tmp_path))
    tf = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.1307,), (0.3081,))])
    ds = datasets.MNIST(str(tmp_path), train=True, transform=tf,
                        target_transform=lambda y: y + 100)
    x, y = next(iter(DataLoader(ds, batch_size=8, shuffle=False)))
    assert tuple(x.shape) == (8, 1, 28, 28) and x.dtype == torch.float32
    np.testing.assert_array_equal(y.numpy(), written["train"][1][:8].astype(np.int64) + 100)
    expect = (written["train"][0][:8].astype(np.float32) / np.float32(255) - np.float32(0.1307)) \
        / np.float32(0.3081)
    np.testing.assert_allclose(x.numpy()[:, 0], expect, rtol=1e-5, atol=1e-5)


def test_mnist_missing_files_name_them(tmp_path):
    with pytest.raises(RuntimeError) as e:
        datasets.MNIST(str(tmp_path))
    msg = str(e.value)
    assert "train-images-idx3-ubyte" in msg and os.path.join("MNIST", "raw") in msg
    with pytest.raises(RuntimeError) as e:
        datasets.MNIST(str(tmp_path), download=True)
    msg = str(e.value)
    assert "\n" not in msg and "network" in msg and os.path.join("MNIST", "raw") in msg
    for name in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
                 "t10k-labels-idx1-ubyte"):
        assert name in msg


def test_mnist_corrupt_files_raise(tmp_path):
    _formats.write_mnist(str(tmp_path))
    raw = tmp_path / "MNIST" / "raw"
    path = raw / "train-images-idx3-ubyte"
    good = path.read_bytes()
    path.write_bytes(good[:-100])
    with pytest.raises(datasets.DatasetFileError, match="corrupt.*header says"):
        datasets.MNIST(str(tmp_path))
    path.write_bytes(b"\x08\x03" + good[2:])
    with pytest.raises(datasets.DatasetFileError, match="bad magic"):
        datasets.MNIST(str(tmp_path))
    path.write_bytes(good)
    _formats.write_idx(str(raw / "train-labels-idx1-ubyte"), np.zeros(7, np.uint8))
    with pytest.raises(datasets.DatasetFileError, match="60 images but 7 labels"):
        datasets.MNIST(str(tmp_path))
    (raw / "t10k-images-idx3-ubyte").unlink()
    _formats.write_idx(str(raw / "t10k-images-idx3-ubyte"), np.zeros((20, 28, 28), np.uint8),
                       compress=True)
    gz = raw / "t10k-images-idx3-ubyte.gz"
    gz.write_bytes(gz.read_bytes()[:30])
    with pytest.raises(datasets.DatasetFileError, match="gzip"):
        datasets.MNIST(str(tmp_path), train=False)


def test_mnist_gz_download_checks_md5(tmp_path):
    """download=True fetches the .gz files and checks torchvision's md5: a present .gz with
    another checksum is reported corrupt (and nothing is half-built)."""
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    (raw / "train-images-idx3-ubyte.gz").write_bytes(b"not the official file")
    ds = datasets.MNIST.__new__(datasets.MNIST)
    ds.root = str(tmp_path)
    with pytest.raises(datasets.DatasetFileError, match="md5"):
        ds.download()


def _cifar_cls(base, md5):
    cls = type(f"My{base.__name__}", (base,), {})
    _formats.point_cifar_at(cls, md5)
    return cls


@pytest.mark.parametrize("base", [datasets.CIFAR10, datasets.CIFAR100])
def test_cifar_reads_python_batches(tmp_path, base):
    written, md5 = _formats.write_cifar(str(tmp_path), cifar100=base is datasets.CIFAR100)
    with pytest.raises(RuntimeError, match="not found or corrupted"):
        base(str(tmp_path))  # the generated files do not have the official checksums
    cls = _cifar_cls(base, md5)
    for train in (True, False):
        ds = cls(str(tmp_path), train=train, download=True)
        names = [n for n, _ in (cls.train_list if train else cls.test_list)]
        data = np.vstack([written[n][0] for n in names]).reshape(-1, 3, 32, 32)
        np.testing.assert_array_equal(ds.data, data.transpose(0, 2, 3, 1))
        assert ds.targets == sum((written[n][1] for n in names), [])
        img, target = ds[4]
        assert img.mode == "RGB" and img.size == (32, 32) and target == ds.targets[4]
    assert ds.classes[2] == "class2" and ds.class_to_idx["class2"] == 2


def test_cifar_unpickler_executes_nothing(tmp_path):
    written, md5 = _formats.write_cifar(str(tmp_path))
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    path = tmp_path / "cifar-10-batches-py" / "data_batch_1"
    path.write_bytes(pickle.dumps({"data": Evil(), "labels": []}, protocol=2))
    md5["data_batch_1"] = dutils.calculate_md5(str(path))
    with pytest.raises(datasets.DatasetFileError, match="refusing to load global"):
        _cifar_cls(datasets.CIFAR10, md5)(str(tmp_path))
    assert not marker.exists()


def test_cifar_corrupt_batch(tmp_path):
    written, md5 = _formats.write_cifar(str(tmp_path))
    path = tmp_path / "cifar-10-batches-py" / "test_batch"
    path.write_bytes(path.read_bytes()[:500])
    md5["test_batch"] = dutils.calculate_md5(str(path))
    with pytest.raises(datasets.DatasetFileError, match="test_batch is corrupt"):
        _cifar_cls(datasets.CIFAR10, md5)(str(tmp_path), train=False)
    path.write_bytes(pickle.dumps({"data": np.zeros((3, 100), np.uint8), "labels": [0, 1, 2]},
                                  protocol=2))
    md5["test_batch"] = dutils.calculate_md5(str(path))
    with pytest.raises(datasets.DatasetFileError, match=r"\(N, 3072\)"):
        _cifar_cls(datasets.CIFAR10, md5)(str(tmp_path), train=False)


def test_cifar_missing_download_is_one_line(tmp_path):
    with pytest.raises(RuntimeError) as e:
        datasets.CIFAR10(str(tmp_path), download=True)
    msg = str(e.value)
    assert "\n" not in msg and "cifar-10-python.tar.gz" in msg and "data_batch_5" in msg
    assert "batches.meta" in msg and "cifar-10-batches-py" in msg


def _write_folder(root, spec):
    rs = np.random.RandomState(0)
    arrays = {}
    for cls, names in spec.items():
        os.makedirs(os.path.join(root, cls), exist_ok=True)
        for n in names:
            a = rs.randint(0, 256, (6, 5, 3)).astype(np.uint8)
            path = os.path.join(root, cls, n)
            if n.endswith((".png", ".bmp")):
                Image.fromarray(a).save(path)
            else:
                open(path, "w").write("not an image")
            arrays[path] = a
    return arrays


def test_image_folder(tmp_path):
    arrays = _write_folder(str(tmp_path), {"dog": ["b.png", "a.png", "notes.txt"],
                                           "cat": ["z.bmp"], "ant": ["x.png"]})
    ds = datasets.ImageFolder(str(tmp_path), transform=transforms.ToTensor())
    assert ds.classes == ["ant", "cat", "dog"] and ds.class_to_idx == {"ant": 0, "cat": 1, "dog": 2}
    assert [os.path.basename(p) for p, _ in ds.samples] == ["x.png", "z.bmp", "a.png", "b.png"]
    assert ds.targets == [0, 1, 2, 2] and ds.imgs == ds.samples
    x, y = ds[3]
    assert y == 2
    np.testing.assert_allclose(x.numpy(), arrays[ds.samples[3][0]].transpose(2, 0, 1) / 255,
                               atol=1e-6)
    loaders = datasets.DatasetFolder(str(tmp_path), loader=lambda p: open(p).read(),
                                     extensions=".txt", allow_empty=True)
    assert len(loaders) == 1 and loaders[0] == ("not an image", 2)


def test_image_folder_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="Couldn't find any class folder"):
        datasets.ImageFolder(str(tmp_path))
    _write_folder(str(tmp_path), {"a": ["x.png"], "b": ["y.txt"]})
    with pytest.raises(FileNotFoundError, match="no valid file for the classes b"):
        datasets.ImageFolder(str(tmp_path))
    assert len(datasets.ImageFolder(str(tmp_path), allow_empty=True)) == 1


def test_fake_data_is_deterministic_and_keeps_the_rng():
    ds = datasets.FakeData(size=4, image_size=(3, 8, 9), num_classes=5,
                           transform=transforms.ToTensor())
    torch.manual_seed(0)
    before = torch.rand(3)
    torch.manual_seed(0)
    a, ya = ds[2]
    after = torch.rand(3)
    np.testing.assert_array_equal(before.numpy(), after.numpy())
    b, yb = ds[2]
    assert tuple(a.shape) == (3, 8, 9) and ya == yb and 0 <= ya < 5
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert not np.array_equal(ds[1][0].numpy(), a.numpy())
    with pytest.raises(IndexError):
        ds[4]
