"""Data: datasets of examples, samplers, the DataLoader that batches them, and transforms."""

from chainrule.data import transforms
from chainrule.data.collate import collate
from chainrule.data.dataloader import DataLoader
from chainrule.data.dataset import (
    ArrayDataset,
    ConcatDataset,
    Dataset,
    Subset,
    TensorDataset,
    random_split,
)
from chainrule.data.digits import Digits
from chainrule.data.mnist import MNIST, FashionMNIST
from chainrule.data.sampler import (
    BatchSampler,
    RandomSampler,
    SequentialSampler,
    SubsetRandomSampler,
    WeightedRandomSampler,
)
from chainrule.data.spiral import Spiral
from chainrule.data.transforms import Compose, Flatten, Normalize, ToFloat

default_collate = collate  # PyTorch's name

__all__ = [
    "MNIST",
    "ArrayDataset",
    "BatchSampler",
    "Compose",
    "ConcatDataset",
    "DataLoader",
    "Dataset",
    "Digits",
    "FashionMNIST",
    "Flatten",
    "Normalize",
    "RandomSampler",
    "SequentialSampler",
    "Spiral",
    "Subset",
    "SubsetRandomSampler",
    "TensorDataset",
    "ToFloat",
    "WeightedRandomSampler",
    "collate",
    "default_collate",
    "random_split",
    "transforms",
]
