"""Record torchvision's detection outputs into tests/vision/fixtures/detection.npz (run ONCE, by
hand; CI has no torchvision). Set torchvision up as record_fixtures.py says, then:

    PYTHONPATH=/tmp/tvpkg python tests/vision/record_detection.py [edges]

(``edges`` records fixtures/detection_edges.npz for test_detection_heads.py instead.)

torchvision's C ops do not load on the CPU build of torch, so this script swaps in torchvision's
own pure-PyTorch roi_align (ops.roi_align._roi_align, uncompiled; it equals the C kernel for
samples inside the feature map; the samples outside [-1, H] x [-1, W] are zeroed here as the C
kernel does) and a plain greedy NMS.
The inputs, weights and model settings come from _detection_cases.py, shared with the test."""
import os
import sys
import types

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import _detection_cases as cases  # noqa: E402
import _model_weights as mw  # noqa: E402


def _nms(torch):
    def nms(boxes, scores, iou_threshold):
        order = scores.argsort(descending=True)
        boxes = boxes[order]
        area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
        dead = torch.zeros(len(boxes), dtype=torch.bool)
        keep = []
        for i in range(len(boxes)):
            if dead[i]:
                continue
            keep.append(i)
            lt = torch.maximum(boxes[i, :2], boxes[:, :2])
            rb = torch.minimum(boxes[i, 2:], boxes[:, 2:])
            wh = (rb - lt).clamp(min=0)
            inter = wh[:, 0] * wh[:, 1]
            dead |= inter / (area[i] + area - inter) > iou_threshold
        return order[torch.tensor(keep, dtype=torch.int64)]
    return nms


def _torchvision():
    sys.modules.setdefault("torchvision._meta_registrations", types.ModuleType("stub"))
    import torch
    import torchvision
    from torchvision.ops import boxes as box_ops
    ra = sys.modules["torchvision.ops.roi_align"]
    ra._roi_align = ra._roi_align.__wrapped__
    bilinear = ra._bilinear_interpolate

    def bilinear_c(input, roi_batch_ind, y, x, ymask, xmask):
        H, W = input.shape[-2:]
        inside_y = ((y >= -1) & (y <= H))[:, None, :, None, :, None]
        inside_x = ((x >= -1) & (x <= W))[:, None, None, :, None, :]
        val = bilinear(input, roi_batch_ind, y, x, ymask, xmask)
        return val * (inside_y & inside_x).to(val.dtype)
    ra._bilinear_interpolate = bilinear_c
    box_ops.nms = _nms(torch)
    return torchvision, torch


def record_roi_align(tv, torch, out):
    x, rois, w = cases.roi_inputs()
    for name, kw in cases.ROI_ALIGN.items():
        xt = torch.from_numpy(x).requires_grad_()
        y = tv.ops.roi_align(xt, torch.from_numpy(rois), **kw)
        (y * torch.from_numpy(w[: y.numel()].reshape(y.shape))).sum().backward()
        out[f"roi_align/{name}/out"] = y.detach().numpy()
        out[f"roi_align/{name}/grad"] = xt.grad.numpy()


def record_pooler(tv, torch, out):
    feats, boxes, sizes = cases.pooler_inputs()
    m = tv.ops.MultiScaleRoIAlign(["0", "1", "2"], 3, 2)
    res = m({k: torch.from_numpy(v) for k, v in feats.items()},
            [torch.from_numpy(b) for b in boxes], sizes)
    out["pooler"] = res.numpy()


def record_models(tv, torch, out):
    from torchvision.models import detection
    for name, kw in cases.MODELS.items():
        images, targets = cases.model_inputs()
        model = getattr(detection, name)(**kw)
        mw.fill(model.state_dict(), torch.from_numpy)
        cases.damp(model.state_dict())
        out[f"{name}/keys"] = np.array([f"{k}:{tuple(v.shape)}" for k, v in
                                        model.state_dict().items()])
        if cases.MODES[name] == "keys":
            continue
        model.eval()
        with torch.no_grad():
            dets = model([torch.from_numpy(im) for im in images])
        for i, d in enumerate(dets):
            for k, v in d.items():
                v = v[..., ::cases.MASK_STEP, ::cases.MASK_STEP] if k == "masks" else v
                out[f"{name}/eval/{i}/{k}"] = v.numpy()
        if cases.MODES[name] != "train":
            continue
        model.train()
        losses = model([torch.from_numpy(im) for im in images],
                       [{k: torch.from_numpy(v) for k, v in t.items()} for t in targets])
        for k, v in losses.items():
            out[f"{name}/train/{k}"] = v.detach().numpy()


def _edge_roi_heads(tv, torch, out):
    feats, proposals = cases.edge_features_and_proposals()
    targets = [{k: torch.from_numpy(v) for k, v in t.items()} for t in cases.edge_targets()]
    for name, thresh in (("low", 0.0), ("high", 0.9)):
        heads = cases.tiny_roi_heads(tv.models.detection, tv.ops, thresh)
        mw.fill(heads.state_dict(), torch.from_numpy)
        f = {k: torch.from_numpy(v).requires_grad_() for k, v in feats.items()}
        props = [torch.from_numpy(p) for p in proposals]
        if name == "low":
            heads.train()
            _, losses = heads(f, props, cases.EDGE_SIZES, targets)
            for k, v in losses.items():
                out[f"roi/train/{k}"] = v.detach().numpy()
            sum(losses.values()).backward()
            out["roi/train/grad"] = f["0"].grad.numpy()
        heads.eval()
        with torch.no_grad():
            dets, _ = heads(f, props, cases.EDGE_SIZES)
        for i, d in enumerate(dets):
            for k, v in d.items():
                v = v[..., ::cases.MASK_STEP, ::cases.MASK_STEP] if k == "masks" else v
                out[f"roi/{name}/{i}/{k}"] = v.numpy()
            out[f"roi/{name}/{i}/pasted"] = paste(d["masks"], d["boxes"],
                                                  cases.EDGE_SIZES[i]).numpy()


def paste(*args, **kw):
    from torchvision.models.detection.roi_heads import paste_masks_in_image
    return paste_masks_in_image(*args, **kw)


def record_edges(tv, torch, out):
    """detection_edges.npz: the RoI heads and RetinaNet on tiny modules, mask pasting and the
    keypoint helpers (test_detection_heads.py)."""
    from torchvision.models.detection import roi_heads as rh
    _edge_roi_heads(tv, torch, out)
    masks, boxes, shape = cases.paste_inputs()
    for pad in (1, 2):
        out[f"paste/{pad}"] = paste(torch.from_numpy(masks), torch.from_numpy(boxes), shape,
                                    padding=pad).numpy()
    maps, rois, kps = cases.keypoint_inputs()
    heat, valid = rh.keypoints_to_heatmap(torch.from_numpy(kps), torch.from_numpy(rois), 6)
    out["kp/heatmap"], out["kp/valid"] = heat.numpy(), valid.numpy()
    xy, sc = rh.heatmaps_to_keypoints(torch.from_numpy(maps), torch.from_numpy(rois))
    out["kp/xy"], out["kp/scores"] = xy.numpy(), sc.numpy()
    mt = torch.from_numpy(maps).requires_grad_()
    loss = rh.keypointrcnn_loss(mt, [torch.from_numpy(rois)], [torch.from_numpy(kps)],
                                [torch.tensor([0, 1, 2])])
    loss.backward()
    out["kp/loss"], out["kp/grad"] = loss.detach().numpy(), mt.grad.numpy()

    images, targets = cases.retinanet_edge_inputs()
    images = [torch.from_numpy(im) for im in images]
    targets = [{k: torch.from_numpy(v) for k, v in t.items()} for t in targets]
    for name, thresh in (("low", 0.0), ("high", 0.9)):
        model = cases.tiny_retinanet(tv.models.detection, torch.nn, thresh)
        mw.fill(model.state_dict(), torch.from_numpy)
        cases.damp(model.state_dict())
        model.eval()
        with torch.no_grad():
            for i, d in enumerate(model(images)):
                for k, v in d.items():
                    out[f"retina/{name}/{i}/{k}"] = v.numpy()
    model.train()
    for kind in ("l1", "smooth_l1", "giou", "diou", "ciou"):
        model.head.regression_head._loss_type = kind
        for k, v in model(images, targets).items():
            out[f"retina/train/{kind}/{k}"] = v.detach().numpy()


def main():
    tv, torch = _torchvision()
    out = {}
    if sys.argv[1:] == ["edges"]:
        record_edges(tv, torch, out)
        path = os.path.join(HERE, "fixtures", "detection_edges.npz")
        np.savez_compressed(path, **out)
        print(path, os.path.getsize(path), "bytes")
        return
    record_roi_align(tv, torch, out)
    record_pooler(tv, torch, out)
    record_models(tv, torch, out)
    path = os.path.join(HERE, "fixtures", "detection.npz")
    np.savez_compressed(path, **out)
    print(path, os.path.getsize(path), "bytes")


if __name__ == "__main__":
    main()
