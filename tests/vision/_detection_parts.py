"""The detection building blocks run alone, on edge cases (a batch of two image sizes, an image
without ground truth, a 9-pixel image whose resize factor sits on a float32 rounding edge,
empty box lists, IoU ties). Every case takes the library (torch or cadenza) and its
``models.detection`` package and returns {name: NumPy array}, so record_detection_parts.py
(torchvision) and test_detection_parts.py (Cadenza) run the same code."""
import numpy as np


def _np(t):
    return t.detach().numpy()


def rpn(lib, det):
    """RegionProposalNetwork on two images of different sizes in one padded batch, eval and
    train (the second image has no ground-truth box; every anchor is sampled, so the losses do
    not depend on the sampler's permutations), and the gradient of the losses."""
    rs = np.random.RandomState(21)
    feats = {"0": rs.standard_normal((2, 4, 8, 10)), "p": rs.standard_normal((2, 4, 4, 5))}
    images = det.image_list.ImageList(lib.zeros(2, 3, 64, 80), [(64, 80), (50, 61)])
    generator = det.anchor_utils.AnchorGenerator(((16,), (48,)), ((0.5, 1.0), (1.0, 2.0)))
    head = det.rpn.RPNHead(4, 2)
    shapes = {k: tuple(v.shape) for k, v in head.state_dict().items()}
    head.load_state_dict({k: lib.from_numpy((rs.standard_normal(s) * 0.3).astype(np.float32))
                          for k, s in shapes.items()})
    model = det.rpn.RegionProposalNetwork(
        generator, head, 0.6, 0.3, 100000, 0.5, dict(training=20, testing=15),
        dict(training=12, testing=9), 0.6, score_thresh=0.3)
    features = {k: lib.from_numpy(v.astype(np.float32)) for k, v in feats.items()}
    targets = [{"boxes": lib.tensor([[5.0, 6, 30, 40], [40, 10, 70, 60]])},
               {"boxes": lib.zeros(0, 4)}]
    out = {}
    model.eval()
    boxes, _ = model(images, features)
    out.update({f"eval/{i}": _np(b) for i, b in enumerate(boxes)})
    model.train()
    boxes, losses = model(images, features, targets)
    out.update({f"train/{i}": _np(b) for i, b in enumerate(boxes)})
    out.update({f"loss/{k}": _np(v) for k, v in losses.items()})
    sum(losses.values()).backward()
    out.update({f"grad/{k}": _np(p.grad) for k, p in head.named_parameters()})
    return out


def transform(lib, det):
    """GeneralizedRCNNTransform on three image sizes (one 9x9: 9 * 30 / 9 must give 30 rows),
    with masks, keypoints and an empty target, in eval and train mode; then postprocess."""
    rs = np.random.RandomState(22)
    images = [rs.uniform(0, 1, (3, h, w)).astype(np.float32) for h, w in
              ((50, 70), (21, 17), (9, 9))]
    targets = [
        {"boxes": np.array([[1.0, 2, 30, 40], [0, 0, 5, 5]], np.float32),
         "masks": (rs.uniform(size=(2, 50, 70)) > 0.5).astype(np.uint8),
         "keypoints": rs.uniform(0, 9, (2, 3, 3)).astype(np.float32)},
        {"boxes": np.zeros((0, 4), np.float32), "masks": np.zeros((0, 21, 17), np.uint8),
         "keypoints": np.zeros((0, 3, 3), np.float32)},
        {"boxes": np.array([[1.0, 2, 3, 4]], np.float64), "masks": np.ones((1, 9, 9), np.uint8),
         "keypoints": np.ones((1, 3, 3), np.float32)}]
    out = {}
    for mode, kw in (("eval", dict(min_size=30, max_size=45, size_divisible=8)),
                     ("train", dict(min_size=(30,), max_size=45)),
                     ("fixed", dict(min_size=30, max_size=45, fixed_size=(40, 30)))):
        t = det.transform.GeneralizedRCNNTransform(
            image_mean=[0.4, 0.5, 0.6], image_std=[0.2, 0.3, 0.25], **kw)
        t.train(mode == "train")
        batch, resized = t([lib.from_numpy(im) for im in images],
                           [{k: lib.from_numpy(v) for k, v in d.items()} for d in targets])
        # every 3rd pixel (fixture size) and the shape and sum of the whole batch
        out[f"{mode}/batch"] = _np(batch.tensors)[..., ::3, ::3]
        out[f"{mode}/batch_sum"] = np.array(list(batch.tensors.shape) +
                                            [float(batch.tensors.sum())])
        out[f"{mode}/sizes"] = np.array([[int(s) for s in size] for size in batch.image_sizes])
        out.update({f"{mode}/{i}/{k}": _np(v) for i, d in enumerate(resized)
                    for k, v in d.items()})
    t.eval()
    detections = [{"boxes": lib.tensor([[1.0, 2, 20, 25], [3, 3, 4, 4]]),
                   "masks": lib.from_numpy(rs.uniform(size=(2, 1, 28, 28)).astype(np.float32)),
                   "keypoints": lib.tensor([[[3.0, 4, 1]], [[5.0, 6, 0]]])},
                  {"boxes": lib.zeros(0, 4), "masks": lib.zeros(0, 1, 28, 28)}]
    done = t.postprocess(detections, [(30, 42), (37, 30)], [(50, 70), (21, 17)])
    out.update({f"post/{i}/{k}": _np(v)[..., ::3, ::3] if k == "masks" else _np(v)
                for i, d in enumerate(done) for k, v in d.items()})
    return out


def anchors(lib, det):
    """Multi-level anchors (float32 and float64 feature maps) and SSD default boxes."""
    au, il = det.anchor_utils, det.image_list
    out = {}
    images = il.ImageList(lib.zeros(2, 3, 37, 50), [(37, 50), (30, 41)])
    for dtype in ("float32", "float64"):
        maps = [lib.zeros(2, 4, 5, 7, dtype=getattr(lib, dtype)),
                lib.zeros(2, 4, 3, 4, dtype=getattr(lib, dtype))]
        gen = au.AnchorGenerator(((16,), (32, 64)), ((0.5, 1.0), (1.3, 2.0, 0.7)))
        out[f"anchor/{dtype}"] = _np(gen(images, maps)[1])
        ssd = au.DefaultBoxGenerator([[2], [2, 3]], steps=[8, 16], clip=False)
        out[f"ssd/{dtype}"] = _np(ssd(images, maps)[0])
    return out


def coders(lib, det):
    """Box coders (with clipped log sizes), matchers on IoU ties, the box losses."""
    u = det._utils
    rs = np.random.RandomState(23)
    xy = rs.uniform(0, 50, (6, 2))
    refs = np.concatenate([xy, xy + rs.uniform(1, 30, (6, 2))], 1).astype(np.float32)
    xy = rs.uniform(0, 50, (6, 2))
    gts = np.concatenate([xy, xy + rs.uniform(1, 30, (6, 2))], 1).astype(np.float32)
    codes = rs.standard_normal((6, 8)).astype(np.float32)
    codes[0, 2] = 9.0  # past bbox_xform_clip: the width saturates
    coder = u.BoxCoder((10.0, 10.0, 5.0, 5.0))
    out = {"encode": _np(lib.cat(coder.encode([lib.from_numpy(gts[:4]), lib.from_numpy(gts[4:])],
                                              [lib.from_numpy(refs[:4]),
                                               lib.from_numpy(refs[4:])]))),
           "decode": _np(coder.decode(lib.from_numpy(codes), [lib.from_numpy(refs[:2]),
                                                               lib.from_numpy(refs[2:])])),
           "linear/encode": _np(u.BoxLinearCoder().encode(lib.from_numpy(refs),
                                                          lib.from_numpy(gts))),
           "linear/decode": _np(u.BoxLinearCoder(False).decode(lib.from_numpy(codes[:, :4]),
                                                               lib.from_numpy(refs)))}
    quality = np.round(rs.uniform(0, 1, (4, 9)), 1).astype(np.float32)  # many ties
    q = lib.from_numpy(quality)
    out["match/low_quality"] = _np(u.Matcher(0.7, 0.3, True)(q))
    out["match/plain"] = _np(u.Matcher(0.7, 0.3)(q))
    out["match/ssd"] = _np(u.SSDMatcher(0.5)(q))
    pred = lib.from_numpy(codes[:, :4] * 0.1)
    for kind in ("l1", "smooth_l1", "giou", "diou", "ciou"):
        out[f"loss/{kind}"] = _np(u._box_loss(kind, u.BoxCoder((1.0, 1.0, 1.0, 1.0)),
                                              lib.from_numpy(refs), lib.from_numpy(gts), pred))
    return out


CASES = {"rpn": rpn, "transform": transform, "anchors": anchors, "coders": coders}
