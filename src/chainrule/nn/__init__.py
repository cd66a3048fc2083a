"""Neural-network modules: Parameter, Module and the layers built on chainrule.functions.

>>> from chainrule import nn
>>> model = nn.Sequential(nn.Linear(784, 100), nn.ReLU(), nn.Linear(100, 10))
>>> [name for name, _ in model.named_parameters()]
['0.W', '0.b', '2.W', '2.b']
"""

from chainrule.nn import init
from chainrule.nn.activation import GELU, LeakyReLU, ReLU, Sigmoid, Softmax, Tanh
from chainrule.nn.attention import MultiheadAttention
from chainrule.nn.container import ModuleDict, ModuleList, ParameterList, Sequential
from chainrule.nn.conv import Conv1d, Conv2d, ConvTranspose2d
from chainrule.nn.dropout import Dropout
from chainrule.nn.embedding import Embedding
from chainrule.nn.linear import Flatten, Identity, Linear, Unflatten
from chainrule.nn.module import LoadResult, Module
from chainrule.nn.norm import BatchNorm1d, BatchNorm2d, LayerNorm
from chainrule.nn.parameter import Parameter
from chainrule.nn.pool import AdaptiveAvgPool2d, AvgPool2d, MaxPool2d
from chainrule.nn.rnn import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNCell
from chainrule.nn.torch_io import export_torch_state_dict, load_torch_state_dict
from chainrule.nn.transformer import TransformerEncoder, TransformerEncoderLayer

__all__ = [
    "GELU",
    "GRU",
    "LSTM",
    "RNN",
    "AdaptiveAvgPool2d",
    "AvgPool2d",
    "BatchNorm1d",
    "BatchNorm2d",
    "Conv1d",
    "Conv2d",
    "ConvTranspose2d",
    "Dropout",
    "Embedding",
    "Flatten",
    "Identity",
    "GRUCell",
    "LayerNorm",
    "LeakyReLU",
    "Linear",
    "LSTMCell",
    "LoadResult",
    "MaxPool2d",
    "MultiheadAttention",
    "Module",
    "ModuleDict",
    "ModuleList",
    "Parameter",
    "ParameterList",
    "RNNCell",
    "ReLU",
    "Sequential",
    "Sigmoid",
    "Softmax",
    "Tanh",
    "TransformerEncoder",
    "TransformerEncoderLayer",
    "Unflatten",
    "export_torch_state_dict",
    "init",
    "load_torch_state_dict",
]
