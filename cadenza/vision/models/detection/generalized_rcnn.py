"""torchvision.models.detection.generalized_rcnn: the two-stage detector skeleton shared by
Faster R-CNN and Mask R-CNN.

The four parts run in a fixed order: ``transform`` normalises, resizes and batches the images
(and rescales the target boxes alike), ``backbone`` computes feature maps, ``rpn`` proposes
boxes, ``roi_heads`` classifies and refines them; finally the transform maps the detections
back onto the original image sizes. Training mode returns the loss dict, eval mode the
detections (one dict per image)."""
from __future__ import annotations

from collections import OrderedDict
from typing import Optional, Union

import cadenza as torch
from cadenza import Tensor, nn

from ._utils import _prepare


class GeneralizedRCNN(nn.Module):
    """``transform`` -> ``backbone`` -> ``rpn`` -> ``roi_heads`` (the submodule names are
    torchvision's state-dict prefixes)."""

    def __init__(self, backbone: nn.Module, rpn: nn.Module, roi_heads: nn.Module,
                 transform: nn.Module) -> None:
        super().__init__()
        self.transform = transform
        self.backbone = backbone
        self.rpn = rpn
        self.roi_heads = roi_heads
        self._has_warned = False  # torchvision's TorchScript-warning flag, kept for parity

    def eager_outputs(self, losses: dict[str, Tensor], detections: list[dict[str, Tensor]]
                      ) -> Union[dict[str, Tensor], list[dict[str, Tensor]]]:
        """What ``forward`` hands back in eager mode: the losses while training, else the
        detections."""
        return losses if self.training else detections

    def _feature_maps(self, batch: Tensor) -> OrderedDict:
        """The backbone's maps by name; a backbone returning one tensor gives level "0", the
        name the default RoI pooler and anchor generator expect."""
        maps = self.backbone(batch)
        if isinstance(maps, torch.Tensor):
            return OrderedDict([("0", maps)])
        return maps

    def forward(self, images: list[Tensor],
                targets: Optional[list[dict[str, Tensor]]] = None):
        # _prepare refuses missing or malformed targets in training and degenerate boxes
        batch, targets, original_sizes = _prepare(self.transform, images, targets,
                                                  self.training)
        maps = self._feature_maps(batch.tensors)
        proposals, rpn_losses = self.rpn(batch, maps, targets)
        detections, head_losses = self.roi_heads(maps, proposals, batch.image_sizes, targets)
        detections = self.transform.postprocess(detections, batch.image_sizes, original_sizes)
        # torchvision's order of the keys: the heads' losses, then the RPN's
        return self.eager_outputs({**head_losses, **rpn_losses}, detections)
