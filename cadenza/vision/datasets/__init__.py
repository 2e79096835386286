"""torchvision.datasets: the official on-disk formats read from a local ``root``."""
from .cifar import CIFAR10, CIFAR100
from .fakedata import FakeData
from .folder import DatasetFolder, ImageFolder
from .mnist import MNIST, FashionMNIST, KMNIST
from .utils import DatasetFileError
from .vision import VisionDataset

__all__ = ["MNIST", "FashionMNIST", "KMNIST", "CIFAR10", "CIFAR100", "DatasetFolder",
           "ImageFolder", "FakeData", "VisionDataset", "DatasetFileError"]
