"""``nn.summary``: a table of a model's layers, their output shapes and parameter counts.

The model runs once on zeros of the given shape, under ``no_grad`` and in eval mode (so
BatchNorm's running statistics stay as they were), with a forward hook on every module
recording what it returned. Rows come in the order the modules were first called.
"""

from collections import namedtuple

import numpy as np

from chainrule.backend import device_of, to_device
from chainrule.core import Variable, no_grad

Row = namedtuple("Row", ["name", "kind", "output_shape", "params", "depth"])


class Summary:
    """What ``summary`` found: ``rows`` (name, kind, output shape, own parameter count,
    depth), ``total_params``, ``trainable_params``, and the table as ``str(summary)``."""

    def __init__(self, model, rows):
        self.model, self.rows = model, rows
        params = list(model.parameters())  # each shared Parameter once
        self.total_params = sum(int(p.data.size) for p in params)
        self.trainable_params = sum(int(p.data.size) for p in params if p.requires_grad)
        self.param_bytes = sum(int(p.data.nbytes) for p in params)

    def __str__(self):
        header = ("Layer (type)", "Output Shape", "Param #")
        body = [("  " * row.depth + f"{row.name} ({row.kind})", _shape_text(row.output_shape),
                 "--" if row.params is None else f"{row.params:,}") for row in self.rows]
        widths = [max(len(line[i]) for line in [header, *body]) for i in range(3)]
        rule = "=" * (sum(widths) + 4)

        def line(cells):
            return f"{cells[0]:<{widths[0]}}  {cells[1]:<{widths[1]}}  {cells[2]:>{widths[2]}}"

        lines = [type(self.model).__name__, rule, line(header), rule, *map(line, body), rule,
                 f"Total params: {self.total_params:,}",
                 f"Trainable params: {self.trainable_params:,}",
                 f"Non-trainable params: {self.total_params - self.trainable_params:,}",
                 f"Params size (MB): {self.param_bytes / 2**20:.2f}", rule]
        return "\n".join(lines)

    def __repr__(self):
        return str(self)


def summary(model, input_shape=None, dtype=np.float32, input_data=None, depth=None,
            verbose=True):
    """Print (unless ``verbose=False``) and return the ``Summary`` of ``model``.

    ``input_shape`` includes the batch axis, ``(1, 1, 28, 28)``; a list of shapes feeds a
    model of several inputs. ``dtype`` is that of the zeros (``np.int64`` for an Embedding
    model), or ``input_data`` gives the inputs themselves. ``depth`` hides rows nested
    deeper. Each row's Param # counts the module's own parameters ("--" for a container
    whose parameters sit in its children), so the column adds up to the total.

    >>> nn.summary(nn.Sequential(nn.Linear(4, 8), nn.ReLU()), (2, 4), verbose=False).rows[0]
    Row(name='0', kind='Linear', output_shape=(2, 8), params=40, depth=0)
    """
    param = next(model.parameters(), None)
    device = "cpu" if param is None else device_of(param.data)
    inputs = _inputs(input_shape, dtype, input_data, device)
    names = {id(m): name for name, m in model.named_modules() if m is not model}
    calls, shapes = {}, {}  # module id -> the order of its first call; its first output shape

    def before(module, args):
        calls.setdefault(id(module), (len(calls), module))

    def after(module, args, output):
        shapes.setdefault(id(module), _shapes(output))

    handles = []
    for module in model.modules():
        if module is not model:
            handles += [module.register_forward_pre_hook(before),
                        module.register_forward_hook(after)]
    training = {id(m): m.training for m in model.modules()}
    model.eval()
    try:
        with no_grad():
            model(*inputs)
    finally:
        for handle in handles:
            handle.remove()
        for module in model.modules():
            module.training = training[id(module)]
    rows = []
    for _, module in sorted(calls.values(), key=lambda call: call[0]):
        name = names[id(module)]
        level = name.count(".")
        if depth is not None and level >= depth:
            continue
        own = sum(int(p.data.size) for p in module.parameters(recurse=False))
        has_children = next(module.children(), None) is not None
        rows.append(Row(name, type(module).__name__, shapes.get(id(module)),
                        None if own == 0 and has_children else own, level))
    result = Summary(model, rows)
    if verbose:
        print(result)
    return result


def _inputs(input_shape, dtype, input_data, device):
    if input_data is not None:
        return input_data if isinstance(input_data, (list, tuple)) else (input_data,)
    if input_shape is None:
        raise ValueError("summary: give input_shape (batch axis included) or input_data")
    shapes = input_shape if input_shape and isinstance(input_shape[0], (tuple, list)) else [
        input_shape]
    return [Variable(to_device(np.zeros(tuple(shape), dtype=dtype), device), requires_grad=False)
            for shape in shapes]


def _shapes(output):
    if isinstance(output, (tuple, list)):
        return [_shapes(item) for item in output]
    return tuple(output.shape) if hasattr(output, "shape") else None


def _shape_text(shape):
    if isinstance(shape, list):
        return "[" + ", ".join(_shape_text(s) for s in shape) + "]"
    return "--" if shape is None else str(list(shape))
