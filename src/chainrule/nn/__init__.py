"""Neural-network modules: Parameter, Module and the layers built on chainrule.functions.

>>> from chainrule import nn
>>> model = nn.Sequential(nn.Linear(784, 100), nn.ReLU(), nn.Linear(100, 10))
>>> [name for name, _ in model.named_parameters()]
['0.W', '0.b', '2.W', '2.b']
"""

from chainrule.nn import init
from chainrule.nn.activation import GELU, LeakyReLU, ReLU, Sigmoid, Softmax, Tanh
from chainrule.nn.container import ModuleList, Sequential
from chainrule.nn.conv import Conv2d, ConvTranspose2d
from chainrule.nn.dropout import Dropout
from chainrule.nn.embedding import Embedding
from chainrule.nn.linear import Flatten, Linear
from chainrule.nn.module import LoadResult, Module
from chainrule.nn.norm import BatchNorm1d, BatchNorm2d, LayerNorm
from chainrule.nn.parameter import Parameter
from chainrule.nn.pool import AvgPool2d, MaxPool2d
from chainrule.nn.rnn import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNCell

__all__ = [
    "GELU",
    "GRU",
    "LSTM",
    "RNN",
    "AvgPool2d",
    "BatchNorm1d",
    "BatchNorm2d",
    "Conv2d",
    "ConvTranspose2d",
    "Dropout",
    "Embedding",
    "Flatten",
    "GRUCell",
    "LayerNorm",
    "LeakyReLU",
    "Linear",
    "LSTMCell",
    "LoadResult",
    "MaxPool2d",
    "Module",
    "ModuleList",
    "Parameter",
    "RNNCell",
    "ReLU",
    "Sequential",
    "Sigmoid",
    "Softmax",
    "Tanh",
    "init",
]
