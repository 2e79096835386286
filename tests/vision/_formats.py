"""Writers for the official on-disk formats (used by the dataset tests and the programs)."""
import gzip
import hashlib
import os
import pickle

import numpy as np


def write_idx(path, array, compress=False):
    array = np.asarray(array)
    code = {np.dtype(np.uint8): 8, np.dtype(np.int8): 9, np.dtype(np.int16): 11,
            np.dtype(np.int32): 12, np.dtype(np.float32): 13, np.dtype(np.float64): 14}[array.dtype]
    header = bytes([0, 0, code, array.ndim]) + b"".join(
        int(d).to_bytes(4, "big") for d in array.shape)
    body = array.astype(array.dtype.newbyteorder(">")).tobytes()
    data = header + body
    if compress:
        data = gzip.compress(data)
        path += ".gz"
    with open(path, "wb") as f:
        f.write(data)
    return path


def write_mnist(root, name="MNIST", n_train=60, n_test=20, compress=False, seed=0):
    rs = np.random.RandomState(seed)
    raw = os.path.join(root, name, "raw")
    os.makedirs(raw, exist_ok=True)
    out = {}
    for split, n in (("train", n_train), ("t10k", n_test)):
        images = rs.randint(0, 256, (n, 28, 28)).astype(np.uint8)
        labels = rs.randint(0, 10, n).astype(np.uint8)
        write_idx(os.path.join(raw, f"{split}-images-idx3-ubyte"), images, compress)
        write_idx(os.path.join(raw, f"{split}-labels-idx1-ubyte"), labels, compress)
        out[split] = (images, labels)
    return out


def write_cifar(root, cifar100=False, n_per_batch=10, seed=0):
    """The python batches (protocol 2, as the official files) and the checksums of what was
    written (the generated files are not torchvision's, so their md5 differs)."""
    rs = np.random.RandomState(seed)
    folder = os.path.join(root, "cifar-100-python" if cifar100 else "cifar-10-batches-py")
    os.makedirs(folder, exist_ok=True)
    names = (["train", "test"] if cifar100 else
             [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"])
    written = {}
    for name in names:
        data = rs.randint(0, 256, (n_per_batch, 3072)).astype(np.uint8)
        labels = rs.randint(0, 100 if cifar100 else 10, n_per_batch).tolist()
        entry = {"batch_label": f"batch {name}", "data": data,
                 ("fine_labels" if cifar100 else "labels"): labels,
                 "filenames": [f"img_{i}.png" for i in range(n_per_batch)]}
        if cifar100:
            entry["coarse_labels"] = [x // 5 for x in labels]
        with open(os.path.join(folder, name), "wb") as f:
            pickle.dump(entry, f, protocol=2)
        written[name] = (data, labels)
    meta_name = "meta" if cifar100 else "batches.meta"
    key = "fine_label_names" if cifar100 else "label_names"
    with open(os.path.join(folder, meta_name), "wb") as f:
        pickle.dump({key: [f"class{i}" for i in range(100 if cifar100 else 10)],
                     "num_cases_per_batch": n_per_batch}, f, protocol=2)
    md5 = {n: hashlib.md5(open(os.path.join(folder, n), "rb").read()).hexdigest()
           for n in names + [meta_name]}
    return written, md5


def point_cifar_at(cls, md5):
    """Make a CIFAR class accept the generated files (the official checksums differ)."""
    cls.train_list = [[n, md5[n]] for n, _ in cls.train_list]
    cls.test_list = [[n, md5[n]] for n, _ in cls.test_list]
    cls.meta = dict(cls.meta, md5=md5[cls.meta["filename"]])
