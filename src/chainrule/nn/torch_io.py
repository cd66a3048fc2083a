"""PyTorch weights in and out: the same architecture built in both, its state dict translated.

Each layer's parameters carry chainrule's names and layouts (Linear's ``W`` is (in, out),
PyTorch's ``weight`` is (out, in)); a codec per layer type says how its own arrays become
PyTorch's and back. Children are handled by their own codecs, so a model of known layers,
in any nesting, translates key by key (``0.W`` <-> ``0.weight``). A module of another type
keeps its parameter names as they are, which is what a custom layer with a ``Parameter``
named as in its PyTorch twin needs.

Moving a model across, both ways::

    nn.load_torch_state_dict(model, torch_model.state_dict())
    torch_model.load_state_dict({k: torch.from_numpy(v)
                                 for k, v in nn.export_torch_state_dict(model).items()})
    safetensors.numpy.save_file(nn.export_torch_state_dict(model), "model.safetensors")
"""

import os

import numpy as np

from chainrule import serialization
from chainrule.nn.attention import MultiheadAttention
from chainrule.nn.conv import Conv1d, Conv2d, ConvTranspose2d
from chainrule.nn.embedding import Embedding
from chainrule.nn.linear import Linear
from chainrule.nn.module import LoadResult
from chainrule.nn.norm import BatchNorm1d, BatchNorm2d, GroupNorm, LayerNorm
from chainrule.nn.rnn import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNCell
from chainrule.nn.state import check_keys, load_value, numpy_copy, own_state


def export_torch_state_dict(model):
    """PyTorch's state dict of ``model``: its names, its layouts, NumPy arrays (copies).

    The result loads into the same architecture built with ``torch.nn`` (after
    ``torch.from_numpy``), or saves with ``safetensors.numpy.save_file``.
    """
    state = {}
    for prefix, module in model.named_modules(remove_duplicate=False):
        for name, array in _codec(module).export(module).items():
            state[f"{prefix}.{name}" if prefix else name] = _contiguous(array)
    return state


def load_torch_state_dict(model, state, strict=True):
    """Copy a PyTorch state dict into ``model``, built with chainrule as the PyTorch one was.

    ``state`` maps PyTorch's names to arrays: NumPy arrays, torch tensors (converted
    without importing torch here), or a path to a ``.safetensors`` file PyTorch wrote.
    Names and layouts are translated per layer; values keep the model's dtype and device.
    Every missing, unexpected and mis-shaped key (PyTorch's names, PyTorch's shapes) is
    listed in one ValueError before anything is copied; ``strict=False`` tolerates missing
    and unexpected keys and returns them, as ``Module.load_state_dict`` does.
    """
    state = _read(state)
    expected = export_torch_state_dict(model)
    missing = [key for key in expected if key not in state]
    unexpected = [key for key in state if key not in expected]
    misshaped = [f"{key} (expected {expected[key].shape}, got {np.shape(state[key])})"
                 for key in expected
                 if key in state and np.shape(state[key]) != expected[key].shape]
    check_keys(f"load_torch_state_dict into {type(model).__name__}", missing, unexpected,
               misshaped, strict)
    by_module = {}
    for key in expected:
        if key in state:
            prefix, _, name = key.rpartition(".")
            by_module.setdefault(prefix, {})[name] = state[key]
    for prefix, module in model.named_modules(remove_duplicate=False):
        if prefix in by_module:
            _codec(module).load(module, by_module[prefix])
    return LoadResult(missing, unexpected)


class Renames:
    """A codec for layers whose arrays map one to one: ``(torch name, own name, transposed)``.

    An own array that is None (a layer built with ``bias=False``) has no PyTorch key.
    """

    def __init__(self, *pairs):
        self.pairs = pairs

    def export(self, module):
        state = {}
        for torch_name, own, transposed in self.pairs:
            value = getattr(module, own, None)
            if value is not None:
                array = numpy_copy(value)
                state[torch_name] = array.T if transposed else array
        return state

    def load(self, module, arrays):
        for torch_name, own, transposed in self.pairs:
            if torch_name in arrays:
                array = arrays[torch_name]
                load_value(module, own, array.T if transposed else array)


class AsNamed:
    """The codec of any other module: its own parameters and buffers under their own names."""

    def export(self, module):
        return {name: numpy_copy(value) for name, value in own_state(module)}

    def load(self, module, arrays):
        for name, array in arrays.items():
            load_value(module, name, array)


class PrefixRenames:
    """A codec renaming by prefix, for layers with numbered parameters: recurrent ones hold
    ``W_x_l0``, ``b_h_l1_reverse``, ... for PyTorch's ``weight_ih_l0``, ``bias_hh_l1_reverse``.
    """

    def __init__(self, *prefixes):
        self.prefixes = prefixes  # (torch prefix, own prefix, transposed)

    def export(self, module):
        state = {}
        for name, value in own_state(module):
            torch_prefix, own, transposed = self._rule(name, 1)
            array = numpy_copy(value)
            state[torch_prefix + name[len(own):]] = array.T if transposed else array
        return state

    def load(self, module, arrays):
        for torch_name, array in arrays.items():
            torch_prefix, own, transposed = self._rule(torch_name, 0)
            load_value(module, own + torch_name[len(torch_prefix):],
                       array.T if transposed else array)

    def _rule(self, name, side):
        for rule in self.prefixes:
            if name.startswith(rule[side]):
                return rule
        return (name, name, False)  # a name no rule covers passes unchanged


class BatchNormCodec(Renames):
    """gamma, beta as weight, bias; the running statistics; and PyTorch's batch counter."""

    def __init__(self):
        super().__init__(("weight", "gamma", False), ("bias", "beta", False),
                         ("running_mean", "running_mean", False),
                         ("running_var", "running_var", False))

    def export(self, module):
        state = super().export(module)
        if module.running_mean is not None:  # PyTorch counts only where it tracks statistics
            state["num_batches_tracked"] = np.array(module.num_batches_tracked, dtype=np.int64)
        return state

    def load(self, module, arrays):
        super().load(module, arrays)
        if "num_batches_tracked" in arrays:
            module.num_batches_tracked = int(arrays["num_batches_tracked"])


_WEIGHT_BIAS = Renames(("weight", "W", False), ("bias", "b", False))
_GAMMA_BETA = Renames(("weight", "gamma", False), ("bias", "beta", False))
_RECURRENT = PrefixRenames(("weight_ih", "W_x", True), ("weight_hh", "W_h", True),
                           ("bias_ih", "b_x", False), ("bias_hh", "b_h", False))
_CODECS = {
    Linear: Renames(("weight", "W", True), ("bias", "b", False)),
    Conv1d: _WEIGHT_BIAS,
    Conv2d: _WEIGHT_BIAS,
    ConvTranspose2d: _WEIGHT_BIAS,
    Embedding: Renames(("weight", "W", False)),
    LayerNorm: _GAMMA_BETA,
    GroupNorm: _GAMMA_BETA,
    BatchNorm1d: BatchNormCodec(),
    BatchNorm2d: BatchNormCodec(),
    **dict.fromkeys((RNN, LSTM, GRU, RNNCell, LSTMCell, GRUCell), _RECURRENT),
    MultiheadAttention: Renames(
        ("in_proj_weight", "W_in", True), ("q_proj_weight", "W_q", True),
        ("k_proj_weight", "W_k", True), ("v_proj_weight", "W_v", True),
        ("in_proj_bias", "b_in", False)),
}


def _codec(module):
    for kind in type(module).__mro__:
        if kind in _CODECS:
            return _CODECS[kind]
    return AsNamed()


def _read(state):
    """``state`` as a dict of NumPy arrays: from a .safetensors path, torch tensors, arrays."""
    if isinstance(state, (str, os.PathLike)):
        state = serialization.load(state)  # a file PyTorch wrote has no nesting: name -> array
    if not hasattr(state, "items"):
        raise TypeError(f"load_torch_state_dict: state must be a dict of arrays or a "
                        f".safetensors path, got {type(state).__name__}")
    arrays = {key: _to_numpy(value) for key, value in state.items()}
    for key, value in arrays.items():
        if value.dtype.hasobject:
            raise TypeError(f"load_torch_state_dict: {key!r} holds {type(state[key]).__name__},"
                            f" not an array")
    return arrays


def _to_numpy(value):
    """A NumPy array from an array, a Variable, or a torch tensor (bfloat16 made float32)."""
    if type(value).__module__.startswith("torch"):
        value = value.detach().cpu()
        if str(value.dtype) == "torch.bfloat16":  # NumPy has no bfloat16
            value = value.float()
        return value.numpy()
    return numpy_copy(value)


def _contiguous(array):
    """A C-contiguous array (safetensors and torch.from_numpy want one); 0-d stays 0-d."""
    return array if array.flags.c_contiguous else array.copy(order="C")
