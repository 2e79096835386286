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


def md5_of(path):
    with open(path, "rb") as f:
        return hashlib.md5(f.read()).hexdigest()


def write_emnist(root, split="letters", n=12, seed=0, compress=True):
    rs = np.random.RandomState(seed)
    raw = os.path.join(root, "EMNIST", "raw")
    os.makedirs(raw, exist_ok=True)
    out = {}
    for part in ("train", "test"):
        images = rs.randint(0, 256, (n, 28, 28)).astype(np.uint8)
        labels = rs.randint(1, 27, n).astype(np.uint8)
        write_idx(os.path.join(raw, f"emnist-{split}-{part}-images-idx3-ubyte"), images)
        write_idx(os.path.join(raw, f"emnist-{split}-{part}-labels-idx1-ubyte"), labels,
                  compress=compress and part == "test")
        out[part] = (images, labels)
    return out


def write_qmnist(root, n=14, seed=0):
    """qmnist-{train,test} images (uint8 idx3) and labels (int32 idx2, 8 columns)."""
    rs = np.random.RandomState(seed)
    raw = os.path.join(root, "QMNIST", "raw")
    os.makedirs(raw, exist_ok=True)
    out = {}
    for part in ("train", "test"):
        images = rs.randint(0, 256, (n, 28, 28)).astype(np.uint8)
        labels = rs.randint(0, 10, (n, 8)).astype(np.int32)
        write_idx(os.path.join(raw, f"qmnist-{part}-images-idx3-ubyte"), images)
        write_idx(os.path.join(raw, f"qmnist-{part}-labels-idx2-int"), labels)
        out[part] = (images, labels)
    return out


def write_usps(root, n=9, seed=0):
    """usps.bz2 / usps.t.bz2: libsvm lines 'label 1:v ... 256:v' with v in [-1, 1]."""
    import bz2
    rs = np.random.RandomState(seed)
    os.makedirs(root, exist_ok=True)
    out = {}
    for name in ("usps.bz2", "usps.t.bz2"):
        values = np.round(rs.uniform(-1, 1, (n, 256)), 6).astype(np.float32)
        labels = rs.randint(1, 11, n)
        lines = [f"{lab} " + " ".join(f"{j + 1}:{v:.6f}" for j, v in enumerate(row))
                 for lab, row in zip(labels, values)]
        with bz2.open(os.path.join(root, name), "wb") as f:
            f.write(("\n".join(lines) + "\n").encode())
        out[name] = (((values.reshape(-1, 16, 16) + 1) / 2 * 255).astype(np.uint8), labels - 1)
    return out


def write_stl10(root, n_train=6, n_test=4, n_unlabeled=3, seed=0):
    """stl10_binary/*.bin (column-major 3x96x96 uint8, labels 1..10), class names, folds; the
    md5 of each file (to point STL10 at them)."""
    rs = np.random.RandomState(seed)
    folder = os.path.join(root, "stl10_binary")
    os.makedirs(folder, exist_ok=True)
    out = {}
    for name, n in (("train", n_train), ("test", n_test), ("unlabeled", n_unlabeled)):
        images = rs.randint(0, 256, (n, 3, 96, 96)).astype(np.uint8)   # [N, C, H, W]
        images.transpose(0, 1, 3, 2).tofile(os.path.join(folder, f"{name}_X.bin"))
        if name != "unlabeled":
            labels = rs.randint(1, 11, n).astype(np.uint8)
            labels.tofile(os.path.join(folder, f"{name}_y.bin"))
            out[name] = (images, labels.astype(np.int64) - 1)
        else:
            out[name] = (images, None)
    with open(os.path.join(folder, "class_names.txt"), "w") as f:
        f.write("\n".join(f"class{i}" for i in range(10)) + "\n")
    with open(os.path.join(folder, "fold_indices.txt"), "w") as f:
        f.write("\n".join(" ".join(str(j) for j in range(i % 3, n_train, 2)) for i in range(10)))
    md5 = {n: md5_of(os.path.join(folder, n)) for n in os.listdir(folder) if n.endswith(".bin")}
    return out, md5


def _write_rgb(path, rs, size=(12, 10)):
    from PIL import Image
    a = rs.randint(0, 256, (size[1], size[0], 3)).astype(np.uint8)
    Image.fromarray(a).save(path)
    return a


def write_celeba(root, n=6, seed=0):
    """img_align_celeba/*.png (PNG so pixels survive) and the five text files in the official
    layouts (header lines, space-aligned columns); returns the md5 of each text file."""
    rs = np.random.RandomState(seed)
    folder = os.path.join(root, "celeba")
    os.makedirs(os.path.join(folder, "img_align_celeba"), exist_ok=True)
    names = [f"{i + 1:06d}.png" for i in range(n)]
    for name in names:
        _write_rgb(os.path.join(folder, "img_align_celeba", name), rs)
    attr_names = ["5_o_Clock_Shadow", "Arched_Eyebrows", "Attractive"]
    attr = rs.choice([-1, 1], (n, 3))
    ident = rs.randint(1, 100, n)
    bbox = rs.randint(0, 50, (n, 4))
    land = rs.randint(0, 50, (n, 10))
    part = np.array([0, 0, 1, 2, 0, 2][:n])

    def table(fname, header, rows, count=True):
        lines = ([str(n)] if count else []) + ([header] if header is not None else [])
        lines += [f"{name} " + " ".join(f"{v:>2d}" for v in row) for name, row in
                  zip(names, rows)]
        with open(os.path.join(folder, fname), "w") as f:
            f.write("\n".join(lines) + "\n")
    table("list_attr_celeba.txt", " ".join(attr_names), attr)
    table("identity_CelebA.txt", None, ident[:, None], count=False)
    table("list_bbox_celeba.txt", "image_id x_1 y_1 width height", bbox)
    table("list_landmarks_align_celeba.txt", "lefteye_x lefteye_y righteye_x righteye_y nose_x "
          "nose_y leftmouth_x leftmouth_y rightmouth_x rightmouth_y", land)
    table("list_eval_partition.txt", None, part[:, None], count=False)
    md5 = {f: md5_of(os.path.join(folder, f)) for f in os.listdir(folder) if f.endswith(".txt")}
    return dict(names=names, attr=attr, attr_names=attr_names, identity=ident, bbox=bbox,
                landmarks=land, partition=part), md5


VOC_XML = """<annotation>
  <folder>VOC2012</folder>
  <filename>{name}.jpg</filename>
  <size><width>12</width><height>10</height><depth>3</depth></size>
  <segmented>0</segmented>
  {objects}
</annotation>
"""
VOC_OBJECT = """<object><name>{cls}</name><pose>Left</pose><truncated>0</truncated>
  <difficult>0</difficult><bndbox><xmin>{b[0]}</xmin><ymin>{b[1]}</ymin><xmax>{b[2]}</xmax>
  <ymax>{b[3]}</ymax></bndbox></object>"""


def write_voc(root, year="2012", seed=0):
    """VOCdevkit/VOC<year>: JPEGImages, SegmentationClass (palette PNG), Annotations (XML),
    ImageSets/{Segmentation,Main}/{train,val}.txt."""
    from PIL import Image
    rs = np.random.RandomState(seed)
    base = os.path.join(root, "VOCdevkit", f"VOC{year}")
    for d in ("JPEGImages", "SegmentationClass", "Annotations", "ImageSets/Segmentation",
              "ImageSets/Main"):
        os.makedirs(os.path.join(base, d), exist_ok=True)
    ids = {"train": ["2008_000001", "2008_000002", "2008_000003"], "val": ["2008_000004"]}
    masks, objects = {}, {}
    for split, names in ids.items():
        for sub in ("Segmentation", "Main"):
            with open(os.path.join(base, "ImageSets", sub, f"{split}.txt"), "w") as f:
                f.write("\n".join(names) + "\n")
        for k, name in enumerate(names):
            _write_rgb(os.path.join(base, "JPEGImages", name + ".jpg"), rs)
            m = rs.randint(0, 4, (10, 12)).astype(np.uint8)
            m[0, 0] = 255
            p = Image.fromarray(m, mode="P")
            p.putpalette([0, 0, 0, 128, 0, 0, 0, 128, 0, 128, 128, 0] + [224, 224, 192] * 252)
            p.save(os.path.join(base, "SegmentationClass", name + ".png"))
            masks[name] = m
            objs = [("dog", [1, 2, 8, 9])] + ([("person", [0, 0, 5, 4])] if k % 2 else [])
            objects[name] = objs
            with open(os.path.join(base, "Annotations", name + ".xml"), "w") as f:
                f.write(VOC_XML.format(name=name, objects="\n".join(
                    VOC_OBJECT.format(cls=c, b=b) for c, b in objs)))
    return ids, masks, objects


def write_pets(root, seed=0):
    """oxford-iiit-pet/images/*.jpg, annotations/{trainval,test}.txt, annotations/trimaps."""
    from PIL import Image
    rs = np.random.RandomState(seed)
    base = os.path.join(root, "oxford-iiit-pet")
    for d in ("images", "annotations/trimaps"):
        os.makedirs(os.path.join(base, d), exist_ok=True)
    rows = {"trainval": [("Abyssinian_1", 1, 1, 1), ("american_bulldog_10", 2, 2, 1),
                         ("Abyssinian_2", 1, 1, 1)],
            "test": [("american_pit_bull_terrier_3", 3, 2, 2)]}
    trimaps = {}
    for split, entries in rows.items():
        with open(os.path.join(base, "annotations", f"{split}.txt"), "w") as f:
            f.write("\n".join(" ".join(str(v) for v in e) for e in entries) + "\n")
        for image_id, *_ in entries:
            _write_rgb(os.path.join(base, "images", image_id + ".jpg"), rs)
            t = rs.randint(1, 4, (10, 12)).astype(np.uint8)
            Image.fromarray(t).save(os.path.join(base, "annotations", "trimaps",
                                                 image_id + ".png"))
            trimaps[image_id] = t
    return rows, trimaps


_MAT_CLASS = {np.dtype(np.float64): (6, 9), np.dtype(np.uint8): (9, 2),
              np.dtype(np.int32): (12, 5), np.dtype(np.uint16): (11, 4)}


def _mat_element(mtype, payload):
    pad = -len(payload) % 8
    return np.array([mtype, len(payload)], "<u4").tobytes() + payload + b"\0" * pad


def write_mat(path, arrays, compress=False):
    """A MATLAB 5 MAT-file (little-endian) of numeric arrays, as scipy.io.savemat writes
    them (column-major data, at least 2-d); ``compress`` wraps each variable in
    miCOMPRESSED (zlib), as MATLAB's default -v7 files."""
    import zlib
    header = b"MATLAB 5.0 MAT-file, written by cadenza tests".ljust(116, b" ")
    out = header + b"\0" * 8 + np.array([0x0100], "<u2").tobytes() + b"IM"
    for name, a in arrays.items():
        a = np.asarray(a)
        a = a.reshape(1, -1) if a.ndim < 2 else a
        mclass, mtype = _MAT_CLASS[a.dtype]
        body = (_mat_element(6, np.array([mclass, 0], "<u4").tobytes())
                + _mat_element(5, np.array(a.shape, "<i4").tobytes())
                + _mat_element(1, name.encode())
                + _mat_element(mtype, a.astype(a.dtype.newbyteorder("<")).tobytes(order="F")))
        element = _mat_element(14, body)
        if compress:      # miCOMPRESSED elements carry no padding
            packed = zlib.compress(element)
            element = np.array([15, len(packed)], "<u4").tobytes() + packed
        out += element
    with open(path, "wb") as f:
        f.write(out)
    return md5_of(path)


def write_svhn(root, split="train", n=7, seed=0, compress=False):
    rs = np.random.RandomState(seed)
    os.makedirs(root, exist_ok=True)
    X = rs.randint(0, 256, (32, 32, 3, n)).astype(np.uint8)
    y = rs.randint(1, 11, (n, 1)).astype(np.uint8)
    md5 = write_mat(os.path.join(root, f"{split}_32x32.mat"), {"X": X, "y": y}, compress)
    return X, y, md5


def write_flowers(root, seed=0):
    rs = np.random.RandomState(seed)
    base = os.path.join(root, "flowers-102")
    os.makedirs(os.path.join(base, "jpg"), exist_ok=True)
    n = 8
    for i in range(1, n + 1):
        _write_rgb(os.path.join(base, "jpg", f"image_{i:05d}.jpg"), rs)
    labels = rs.randint(1, 103, n).astype(np.uint8)
    ids = {"trnid": np.array([2, 5, 7], np.uint16), "valid": np.array([1, 8], np.uint16),
           "tstid": np.array([3, 4, 6], np.uint16)}
    md5 = {"imagelabels.mat": write_mat(os.path.join(base, "imagelabels.mat"),
                                        {"labels": labels}, compress=True),
           "setid.mat": write_mat(os.path.join(base, "setid.mat"), ids)}
    return labels, ids, md5
