"""Inputs of the deform_conv2d and ps_roi_align / ps_roi_pool cases shared by
record_vision_ops.py (torchvision's outputs) and test_deform_psroi.py (Cadenza's)."""
import numpy as np

# name: (B, C, H, W, C_out, kh, kw, offset_groups, groups, stride, padding, dilation, mask,
#        bias, offset scale, integer offsets)
DEFORM = {
    "plain": (1, 2, 5, 5, 3, 3, 3, 1, 1, (1, 1), (1, 1), (1, 1), False, True, 2.0, False),
    "dcnv2_groups": (2, 4, 6, 5, 4, 3, 2, 2, 2, (2, 1), (1, 0), (1, 2), True, True, 2.0, False),
    "offset_groups4": (1, 4, 5, 6, 2, 3, 3, 4, 1, (1, 1), (2, 1), (2, 1), True, False, 3.0, False),
    "integer_edges": (1, 2, 4, 4, 2, 2, 2, 2, 2, (1, 1), (1, 1), (1, 1), True, True, 1.5, True),
}


def deform_inputs(name, dtype=np.float64):
    B, C, H, W, O, kh, kw, G, groups, stride, pad, dil, mask, bias, scale, integer = DEFORM[name]
    rng = np.random.default_rng(len(name) * 7 + C)
    oh = (H + 2 * pad[0] - (dil[0] * (kh - 1) + 1)) // stride[0] + 1
    ow = (W + 2 * pad[1] - (dil[1] * (kw - 1) + 1)) // stride[1] + 1
    x = rng.standard_normal((B, C, H, W))
    off = rng.standard_normal((B, 2 * G * kh * kw, oh, ow)) * scale
    if integer:
        off = np.round(off)
    w = rng.standard_normal((O, C // groups, kh, kw))
    b = rng.standard_normal(O) if bias else None
    m = rng.random((B, G * kh * kw, oh, ow)) if mask else None
    arrays = [None if a is None else a.astype(dtype) for a in (x, off, w, b, m)]
    return arrays, dict(stride=stride, padding=pad, dilation=dil)


def out_weights(shape):
    """The fixed cotangent the gradients are taken against."""
    return np.cos(np.arange(int(np.prod(shape)))).reshape(shape)


def ps_inputs():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 2 * 3 * 2, 7, 9))
    rois = np.array([[0, 0, 0, 8, 6], [1, 1.3, 2.2, 5.7, 4.1], [0, -2, -1, 3, 12],
                     [1, 4, 4, 4, 4], [0, 6.5, 3.2, 7.1, 3.9], [1, 7, 5, 12, 9],
                     [0, 2.5, 2.5, 3.5, 3.5], [1, 0.4, 0.6, 8.6, 6.5]])
    return x, rois


PS = {
    "ps_roi_align/default": ("ps_roi_align", dict(output_size=(3, 2))),
    "ps_roi_align/scale": ("ps_roi_align", dict(output_size=(3, 2), spatial_scale=0.5)),
    "ps_roi_align/sampling": ("ps_roi_align", dict(output_size=(3, 2), sampling_ratio=2,
                                                   spatial_scale=1.3)),
    "ps_roi_pool/default": ("ps_roi_pool", dict(output_size=(3, 2))),
    "ps_roi_pool/scale": ("ps_roi_pool", dict(output_size=(3, 2), spatial_scale=1.3)),
}
