"""Data: datasets of ``(x, t)`` examples, the DataLoader that batches them, and transforms."""

from chainrule.data import transforms
from chainrule.data.dataloader import DataLoader
from chainrule.data.dataset import ArrayDataset, Dataset, collate
from chainrule.data.digits import Digits
from chainrule.data.mnist import MNIST, FashionMNIST
from chainrule.data.spiral import Spiral
from chainrule.data.transforms import Compose, Flatten, Normalize, ToFloat

__all__ = [
    "MNIST",
    "ArrayDataset",
    "Compose",
    "DataLoader",
    "Dataset",
    "Digits",
    "FashionMNIST",
    "Flatten",
    "Normalize",
    "Spiral",
    "ToFloat",
    "collate",
    "transforms",
]
