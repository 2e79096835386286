"""Anchor boxes (the names of ``torchvision.models.detection.anchor_utils``).

``AnchorGenerator`` (Faster R-CNN / FPN / RetinaNet): every feature-map cell of level k gets
the same set of template boxes, one per (aspect ratio, size) pair of that level, centred on
the cell's top-left pixel in image coordinates. ``DefaultBoxGenerator`` (SSD): per level,
boxes of a relative scale s_k, of sqrt(s_k * s_k+1), and of s_k stretched by each aspect ratio,
centred on the cells.

Anchors carry no gradient, so the grids are laid out with NumPy broadcasting; the templates
are rounded in the requested dtype with Cadenza ops so float32 and float64 round alike.
"""
from __future__ import annotations
import math
from typing import Optional

import numpy as np

import cadenza as torch
from cadenza import Tensor, nn

from .image_list import ImageList


def _level_strides(image_list: ImageList, feature_maps: list[Tensor]):
    """Each level's grid size and its (row, column) stride in pixels of the padded batch."""
    height, width = image_list.tensors.shape[-2:]
    grids = [list(f.shape[-2:]) for f in feature_maps]
    return grids, [[height // gh, width // gw] for gh, gw in grids]


class AnchorGenerator(nn.Module):
    """Anchors for a list of feature maps. ``sizes[k]`` and ``aspect_ratios[k]`` (height /
    width) are level k's; a flat ``sizes`` means one size per level, a flat ``aspect_ratios``
    the same ratios on every level. ``forward`` returns, per image, the (sum over levels of
    H_k * W_k * A_k, 4) anchors in (x1, y1, x2, y2), ordered level, row, column, template."""

    def __init__(self, sizes=((128, 256, 512),), aspect_ratios=((0.5, 1.0, 2.0),)):
        super().__init__()
        if not isinstance(sizes[0], (list, tuple)):
            sizes = tuple((size,) for size in sizes)
        if not isinstance(aspect_ratios[0], (list, tuple)):
            aspect_ratios = (aspect_ratios,) * len(sizes)
        self.sizes = sizes
        self.aspect_ratios = aspect_ratios
        # plain attributes, not buffers: the templates are no part of the state dict
        self.cell_anchors = [self.generate_anchors(s, r) for s, r in zip(sizes, aspect_ratios)]

    def generate_anchors(
        self, scales: list[int], aspect_ratios: list[float],
        dtype: torch.dtype = torch.float32, device: torch.device = torch.device("cpu"),
    ) -> Tensor:
        """Zero-centred templates, ratio-major: area ``scale ** 2``, height / width ``ratio``
        (height = scale * sqrt(ratio), width = scale / sqrt(ratio)), corners rounded to whole
        pixels."""
        scale = torch.as_tensor(scales, dtype=dtype, device=device)
        stretch = torch.sqrt(torch.as_tensor(aspect_ratios, dtype=dtype, device=device))
        half_h = (stretch[:, None] * scale[None, :]).reshape(-1) / 2
        half_w = ((1 / stretch)[:, None] * scale[None, :]).reshape(-1) / 2
        return torch.stack([-half_w, -half_h, half_w, half_h], dim=1).round()

    def set_cell_anchors(self, dtype: torch.dtype, device: torch.device):
        self.cell_anchors = [a.to(dtype=dtype, device=device) for a in self.cell_anchors]

    def num_anchors_per_location(self) -> list[int]:
        return [len(s) * len(r) for s, r in zip(self.sizes, self.aspect_ratios)]

    def grid_anchors(self, grid_sizes: list[list[int]], strides: list[list[Tensor]]
                     ) -> list[Tensor]:
        """One (H * W * A, 4) tensor per level: the templates shifted to every cell."""
        if not len(grid_sizes) == len(strides) == len(self.cell_anchors):
            raise AssertionError(  # torchvision's type
                "AnchorGenerator: got anchor settings for {} levels but {} feature maps (each "
                "feature map needs its own tuple of sizes and of aspect ratios, e.g. sizes="
                "((32,), (64,)) for two maps)".format(len(self.cell_anchors), len(grid_sizes)))
        levels = []
        for (rows, cols), (step_y, step_x), template in zip(grid_sizes, strides,
                                                            self.cell_anchors):
            corners = template.detach().cpu().numpy()
            y = np.arange(int(rows), dtype=np.int64) * int(step_y)
            x = np.arange(int(cols), dtype=np.int64) * int(step_x)
            offset = np.empty((int(rows), int(cols), 4), corners.dtype)
            offset[..., 0::2] = x[None, :, None]
            offset[..., 1::2] = y[:, None, None]
            grid = offset.reshape(-1, 1, 4) + corners[None, :, :]
            levels.append(torch.from_numpy(grid.reshape(-1, 4)).to(template.device))
        return levels

    def forward(self, image_list: ImageList, feature_maps: list[Tensor]) -> list[Tensor]:
        grids, strides = _level_strides(image_list, feature_maps)
        self.set_cell_anchors(feature_maps[0].dtype, feature_maps[0].device)
        anchors = torch.cat(self.grid_anchors(grids, strides), dim=0)
        # every image of the batch shares the padded size, hence the anchors
        return [anchors.clone() for _ in image_list.image_sizes]


class DefaultBoxGenerator(nn.Module):
    """SSD's default boxes (Liu et al. 2016). Level k of m has relative scale s_k, spread
    evenly from ``min_ratio`` to ``max_ratio`` unless ``scales`` (m + 1 values) are given; its
    boxes are (s_k, s_k), (s'_k, s'_k) with s'_k = sqrt(s_k * s_k+1), and for each aspect
    ratio r the pair (s_k sqrt(r), s_k / sqrt(r)) and its transpose. Centres sit at (j + 0.5)
    / f_k with f_k the grid size, or image size / ``steps[k]``. ``clip`` keeps sizes in
    [0, 1]. ``forward`` returns per image (N, 4) boxes in pixel (x1, y1, x2, y2)."""

    def __init__(
        self,
        aspect_ratios: list[list[int]],
        min_ratio: float = 0.15,
        max_ratio: float = 0.9,
        scales: Optional[list[float]] = None,
        steps: Optional[list[int]] = None,
        clip: bool = True,
    ):
        super().__init__()
        if steps is not None and len(aspect_ratios) != len(steps):
            raise ValueError("aspect_ratios and steps should have the same length")
        self.aspect_ratios = aspect_ratios
        self.steps = steps
        self.clip = clip
        levels = len(aspect_ratios)
        if scales is None:
            if levels > 1:
                spread = max_ratio - min_ratio
                scales = [min_ratio + spread * k / (levels - 1.0) for k in range(levels)]
                scales.append(1.0)
            else:
                scales = [min_ratio, max_ratio]
        self.scales = scales
        self._wh_pairs = self._generate_wh_pairs(levels)

    def _generate_wh_pairs(
        self, num_outputs: int, dtype: torch.dtype = torch.float32,
        device: torch.device = torch.device("cpu"),
    ) -> list[Tensor]:
        """Per level, the (width, height) of its boxes relative to the image."""
        pairs = []
        for k in range(num_outputs):
            small, between = self.scales[k], math.sqrt(self.scales[k] * self.scales[k + 1])
            sizes = [[small, small], [between, between]]
            for ratio in self.aspect_ratios[k]:
                root = math.sqrt(ratio)
                sizes += [[small * root, small / root], [small / root, small * root]]
            pairs.append(torch.as_tensor(sizes, dtype=dtype, device=device))
        return pairs

    def num_anchors_per_location(self) -> list[int]:
        return [2 + 2 * len(r) for r in self.aspect_ratios]

    def _grid_default_boxes(
        self, grid_sizes: list[list[int]], image_size: list[int],
        dtype: torch.dtype = torch.float32,
    ) -> Tensor:
        """All levels' boxes as (cx, cy, w, h) relative to the image, cell-major per level."""
        levels = []
        for k, (rows, cols) in enumerate(grid_sizes):
            if self.steps is not None:
                cells_y, cells_x = image_size[0] / self.steps[k], image_size[1] / self.steps[k]
            else:
                cells_y, cells_x = rows, cols
            # the centres are computed in float32 whatever the dtype, as torchvision's are
            cx = (np.arange(cols) + np.float32(0.5)).astype(np.float32) / np.float32(cells_x)
            cy = (np.arange(rows) + np.float32(0.5)).astype(np.float32) / np.float32(cells_y)
            sizes = self._wh_pairs[k].detach().cpu().numpy()
            if self.clip:
                sizes = np.clip(sizes, 0, 1)
            boxes = np.empty((rows, cols, len(sizes), 4), np.float64)
            boxes[..., 0] = cx[None, :, None]
            boxes[..., 1] = cy[:, None, None]
            boxes[..., 2:] = sizes
            levels.append(boxes.reshape(-1, 4))
        return torch.from_numpy(np.concatenate(levels)).to(dtype)

    def __repr__(self) -> str:
        return (f"{self.__class__.__name__}(aspect_ratios={self.aspect_ratios}, "
                f"clip={self.clip}, scales={self.scales}, steps={self.steps})")

    def forward(self, image_list: ImageList, feature_maps: list[Tensor]) -> list[Tensor]:
        grids = [list(f.shape[-2:]) for f in feature_maps]
        height, width = image_list.tensors.shape[-2:]
        boxes = self._grid_default_boxes(grids, [height, width], dtype=feature_maps[0].dtype)
        centre, size = boxes[:, :2], boxes[:, 2:]
        image_wh = torch.as_tensor([width, height], dtype=boxes.dtype)
        corners = torch.cat([(centre - 0.5 * size) * image_wh,
                             (centre + 0.5 * size) * image_wh], dim=-1)
        return [corners.to(feature_maps[0].device).clone() for _ in image_list.image_sizes]
