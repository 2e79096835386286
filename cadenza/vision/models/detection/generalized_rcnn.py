"""torchvision.models.detection.generalized_rcnn: GeneralizedRCNN (transform -> backbone -> RPN
-> RoI heads -> postprocess); the loss dict in training mode, the detections in eval mode."""
from __future__ import annotations
from collections import OrderedDict
from typing import Optional, Union

import cadenza as torch
from cadenza import nn

from ._utils import _assert


class GeneralizedRCNN(nn.Module):

    def __init__(self, backbone: nn.Module, rpn: nn.Module, roi_heads: nn.Module, transform: nn.Module) -> None:
        super().__init__()
        self.transform = transform
        self.backbone = backbone
        self.rpn = rpn
        self.roi_heads = roi_heads
        self._has_warned = False

    def eager_outputs(self, losses: dict[str, torch.Tensor], detections: list[dict[str, torch.Tensor]]) -> Union[dict[str, torch.Tensor], list[dict[str, torch.Tensor]]]:
        if self.training:
            return losses
        return detections

    def forward(self, images: list[torch.Tensor], targets: Optional[list[dict[str, torch.Tensor]]]=None) -> tuple[dict[str, torch.Tensor], list[dict[str, torch.Tensor]]]:
        if self.training:
            if targets is None:
                _assert(False, 'targets should not be none when in training mode')
            else:
                for target in targets:
                    boxes = target['boxes']
                    if isinstance(boxes, torch.Tensor):
                        _assert(len(boxes.shape) == 2 and boxes.shape[-1] == 4, f'Expected target boxes to be a tensor of shape [N, 4], got {boxes.shape}.')
                    else:
                        _assert(False, f'Expected target boxes to be of type Tensor, got {type(boxes)}.')
        original_image_sizes: list[tuple[int, int]] = []
        for img in images:
            val = img.shape[-2:]
            _assert(len(val) == 2, f'expecting the last two dimensions of the Tensor to be H and W instead got {img.shape[-2:]}')
            original_image_sizes.append((val[0], val[1]))
        images, targets = self.transform(images, targets)
        if targets is not None:
            for target_idx, target in enumerate(targets):
                boxes = target['boxes']
                degenerate_boxes = boxes[:, 2:] <= boxes[:, :2]
                if degenerate_boxes.any():
                    bb_idx = torch.where(degenerate_boxes.any(dim=1))[0][0]
                    degen_bb: list[float] = boxes[bb_idx].tolist()
                    _assert(False, f'All bounding boxes should have positive height and width. Found invalid box {degen_bb} for target at index {target_idx}.')
        features = self.backbone(images.tensors)
        if isinstance(features, torch.Tensor):
            features = OrderedDict([('0', features)])
        proposals, proposal_losses = self.rpn(images, features, targets)
        detections, detector_losses = self.roi_heads(features, proposals, images.image_sizes, targets)
        detections = self.transform.postprocess(detections, images.image_sizes, original_image_sizes)
        losses = {}
        losses.update(detector_losses)
        losses.update(proposal_losses)
        return self.eager_outputs(losses, detections)
