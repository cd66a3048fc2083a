"""A trace told in words and numbers: names for the Variables, values as the seeds print them.

``backward_lines(trace)`` gives one line per backward step, each input's chain-rule
product written as the seed notes write it, so a hand calculation can be checked
line by line::

    backward 1 / 4: mul  ∂L/∂z4 = 1;  ∂L/∂s3 = ∂L/∂z4 · ∂z4/∂s3 = 1 · 1.1 = 1.1; ...

Variables without a name are called by their expression when it is short
(``apple·apple_num``), else by the Function that made them (``z4``: the output of
the fourth call).
"""

import numpy as np

from chainrule.viz.drawing import format_array

FULL = 16  # arrays with at most this many elements are written out in full
SHORT_NAME = 24  # longer derived names give way to z<k>
_INFIX = {"add": " + ", "sub": " - ", "mul": "·", "div": "/"}


def describe(a):
    """A value in words: scalars as the seeds print them, small arrays in full, else a summary."""
    a = np.asarray(a)
    if a.ndim == 0:
        return format_array(a)
    if a.size <= FULL:
        text = np.array2string(a, separator=", ", precision=6, threshold=FULL + 1)
        return " ".join(text.split())  # rows on one line
    return summary(a)


def summary(a):
    """``(64, 10) float32 mean 0.0132 max 1.92``: the shape, and what the numbers are like."""
    a = np.asarray(a)
    if a.size == 0 or a.dtype.kind not in "biuf":
        return f"{a.shape} {a.dtype}"
    return (f"{a.shape} {a.dtype} mean {float(a.mean()):.4g} "
            f"max {float(a.max()):.4g}")


def variable_names(steps, given=None):
    """id(variable) -> a short name for every Variable the ``steps`` touch."""
    names = dict(given or {})
    order = {}
    for k, step in enumerate(s for s in steps if s.phase == "forward"):
        order[id(step.function)] = k + 1
    functions = {id(s.function): s.function for s in steps}
    seen = []
    for step in steps:
        inputs = step.function.inputs
        seen.extend(inputs)
        seen.extend(step.outputs)
        if step.phase == "backward":
            seen.extend(e.variable for e in step.edges)
    for v in seen:
        if v is None or id(v) in names:
            continue
        if v.name:
            names[id(v)] = v.name
            continue
        f = v.creator
        if f is None or id(f) not in functions:
            names[id(v)] = f"x{len(names)}"
            continue
        names[id(v)] = _derived_name(v, f, names, order)
    return names


def _derived_name(v, f, names, order):
    """``apple·apple_num`` for a short binary expression, else ``z<k>`` (k: f's call number),
    ``z<k>[i]`` for output i of several."""
    symbol = _INFIX.get(f.name)
    if symbol is not None and len(f.inputs) == 2:
        parts = [names.get(id(x)) for x in f.inputs]
        if all(parts):
            parts = [f"({p})" if symbol == "·" and " " in p else p for p in parts]
            text = symbol.join(parts)
            if len(text) <= SHORT_NAME:
                return text
    name = f"z{order.get(id(f), '')}"
    if len(f.outputs) > 1:  # several outputs (split): kept as weak references, numbered
        index = next((i for i, ref in enumerate(f.outputs) if ref() is v), None)
        if index is not None:
            name += f"[{index}]"
    return name


def output_name(step, names):
    """The name of the output whose upstream gradient ``step`` (a BackwardStep) received;
    ``(z1[0], z1[1])`` for several."""
    known = [names[id(y)] for y in step.outputs if y is not None and id(y) in names]
    if len(known) > 1:
        return "(" + ", ".join(known) + ")"
    return known[0] if known else "z"


def symbol(name):
    """``x``, or ``(apple·apple_num)`` where a derived name needs brackets after ∂."""
    if name.isascii() and name.isidentifier():
        return name
    if name.startswith("(") and name.endswith(")") and "(" not in name[1:]:  # outputs' tuple
        return name
    return f"({name})"


def edge_text(edge, z, x, upstream):
    """``∂L/∂x = ∂L/∂z · ∂z/∂x = 1.1 · 2 = 2.2`` (with Σ over broadcast axes, Jᵀ for others)."""
    product = describe(edge.product)
    if edge.kind == "elementwise":
        return (f"∂L/∂{x} = ∂L/∂{z} · ∂{z}/∂{x} = {describe(upstream)} · "
                f"{describe(edge.local)} = {product}")
    if edge.kind == "broadcast":
        return (f"∂L/∂{x} = Σ ∂L/∂{z} · ∂{z}/∂{x} = Σ {describe(upstream)} · "
                f"{describe(edge.local)} = {product}")
    return f"∂L/∂{x} = (∂{z}/∂{x})ᵀ ∂L/∂{z} = {product}"


def accumulation_text(acc, x):
    """``∂L/∂x = 2.2 + 1.1 = 3.3``: two paths meeting at x."""
    return (f"paths meet at {x}: ∂L/∂{x} = {describe(acc.before)} + {describe(acc.added)} = "
            f"{describe(acc.after)}")


def backward_lines(trace, names=None):
    """One line per backward step of ``trace``, in the order the engine ran them."""
    names = dict(names or {})
    reached = {id(e.variable) for step in trace.backward_steps for e in step.edges}
    roots = [y for step in trace.backward_steps for y in step.outputs
             if y is not None and id(y) not in reached]
    if len(roots) == 1 and not roots[0].name:
        names.setdefault(id(roots[0]), "L")  # the one output backward started from
    names = variable_names(trace.steps(), names)
    steps = trace.backward_steps
    lines = []
    for k, step in enumerate(steps, 1):
        z = symbol(output_name(step, names))
        upstream = step.upstream[0] if len(step.upstream) == 1 else None
        head = f"backward {k} / {len(steps)}: {step.function.name}"
        parts = []
        if upstream is not None:
            parts.append(f"∂L/∂{z} = {describe(upstream)}")
        else:
            parts.append("upstream " + ", ".join(
                "none" if g is None else describe(g) for g in step.upstream))
        parts += [edge_text(e, z, symbol(names.get(id(e.variable), "x")), upstream)
                  for e in step.edges]
        parts += [accumulation_text(a, symbol(names.get(id(a.variable), "x")))
                  for a in step.accumulations]
        lines.append(head + "   " + ";   ".join(parts))
    return lines
