"""Data: datasets of ``(x, t)`` examples, the DataLoader that batches them, and transforms."""

from chainrule.data import transforms
from chainrule.data.dataloader import DataLoader
from chainrule.data.dataset import ArrayDataset, Dataset, collate
from chainrule.data.digits import Digits
from chainrule.data.spiral import Spiral

__all__ = [
    "ArrayDataset",
    "DataLoader",
    "Dataset",
    "Digits",
    "Spiral",
    "collate",
    "transforms",
]
