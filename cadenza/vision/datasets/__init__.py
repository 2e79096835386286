"""torchvision.datasets: the official on-disk formats read from a local ``root``."""
from .cifar import CIFAR10, CIFAR100
from .fakedata import FakeData
from .folder import DatasetFolder, ImageFolder
from .mnist import MNIST, FashionMNIST, KMNIST, EMNIST, QMNIST
from .usps import USPS, STL10
from .svhn import SVHN, Flowers102
from .annotated import CelebA, VOCSegmentation, VOCDetection, OxfordIIITPet
from .utils import DatasetFileError
from .vision import VisionDataset
from .wrap import wrap_dataset_for_transforms_v2

__all__ = ["MNIST", "FashionMNIST", "KMNIST", "EMNIST", "QMNIST", "CIFAR10", "CIFAR100",
           "USPS", "STL10", "SVHN", "Flowers102", "CelebA", "VOCSegmentation", "VOCDetection",
           "OxfordIIITPet",
           "DatasetFolder", "ImageFolder", "FakeData", "VisionDataset", "DatasetFileError",
           "wrap_dataset_for_transforms_v2"]
