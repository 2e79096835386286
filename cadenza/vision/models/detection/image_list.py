"""torchvision.models.detection.image_list: a padded batch of images and their sizes."""
import cadenza as torch
from cadenza import Tensor


class ImageList:
    """``tensors`` (the padded batch) and ``image_sizes`` (each image's size before padding)."""

    def __init__(self, tensors: Tensor, image_sizes: list[tuple[int, int]]) -> None:
        self.tensors = tensors
        self.image_sizes = image_sizes

    def to(self, device: torch.device) -> 'ImageList':
        return ImageList(self.tensors.to(device), self.image_sizes)
