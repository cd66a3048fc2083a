"""Drawings of computational graphs, with the values and gradients that flow through them.

``draw(y)`` walks the graph that made ``y`` once, back along ``creator`` links
(a loop, no recursion), and describes it in DOT: Variables as ellipses labelled
with their name, value (or shape, for big arrays) and, after ``backward()``,
gradient; Functions as boxes labelled ``mul``, ``add``, ``exp``. Rendering to SVG
or PNG uses graphviz's ``dot`` program when it is on PATH, and otherwise a small
layered layout drawn by chainrule itself (``chainrule.viz.layout``)::

    x = cr.Variable(np.array(2.0), name="x")
    y = x * x + 1
    y.backward()
    draw(y, path="graph.svg")        # or .png, .dot; the returned Drawing shows in Jupyter
"""

import os
import shutil
import subprocess
import warnings

import numpy as np

from chainrule.backend import get_array_module
from chainrule.core import Variable, grad

FORMATS = ("dot", "svg", "png")
SUFFIXES = {".dot": "dot", ".gv": "dot", ".svg": "svg", ".png": "png"}
INSTALL_DOT = ("graphviz's `dot` program was not found, so chainrule drew the graph with its "
               "own simple layout; for better drawings install it (apt-get install graphviz, "
               "or brew install graphviz on macOS)")
SMALL = 6  # arrays with at most this many elements are printed in full


class Node:
    """One box of a drawing: ``kind`` is 'variable', 'function' or 'module'."""

    __slots__ = ("kind", "lines")

    def __init__(self, kind, lines):
        self.kind = kind
        self.lines = lines


def walk(outputs):
    """Every Function and Variable behind ``outputs``: ``(variables, functions, edges)``.

    One pass over creator links with an explicit stack; lists are in discovery
    order and an edge is ``(variable, function)`` or ``(function, variable)``,
    repeated when a Function takes the same Variable twice (``x * x``).
    """
    variables, functions, edges = {}, {}, []
    stack = list(reversed(outputs))
    while stack:
        v = stack.pop()
        if id(v) in variables:
            continue
        variables[id(v)] = v
        f = v.creator
        if f is None:
            continue
        edges.append((f, v))
        if id(f) in functions:
            continue
        functions[id(f)] = f
        edges.extend((x, f) for x in f.inputs)
        stack.extend(reversed(f.inputs))  # the first input is popped, and numbered, first
    return (sorted(variables.values(), key=_generation),
            sorted(functions.values(), key=_generation), edges)


def _generation(node):
    """Sort key putting inputs before the outputs made from them."""
    return node.generation


def format_array(data):
    """``715.0000000000001``, ``2``, ``[1., 2.]`` or ``(64, 100) float32`` for a big array."""
    xp = get_array_module(data)
    a = data if xp is np else xp.asnumpy(data)
    if a.ndim == 0:
        value = a[()]
        if isinstance(value, np.floating) and value.is_integer() and abs(value) < 1e15:
            return str(int(value))  # 650.0 reads as the seeds write it: 650
        return str(value)
    if a.size <= SMALL:
        return np.array2string(a, separator=", ", precision=4)
    return f"{a.shape} {a.dtype}"


def format_grad(data):
    """The gradient in full when small, else its norm (its shape is the variable's)."""
    xp = get_array_module(data)
    if data.size <= SMALL:
        return "grad " + format_array(data)
    norm = float(xp.sqrt((data.astype(np.float64) ** 2).sum()))
    return f"grad norm {norm:.4g}"


def variable_lines(v, values=True, grad=None, name=None):
    """The label of a Variable: its name, value and gradient (an array or None), one per line."""
    name = v.name or name
    lines = [name] if name else []
    if values:
        lines.append(format_array(v.data))
    if grad is not None:
        lines.append(format_grad(grad))
    return lines or [" "]


def node_grads(outputs, variables, every=True):
    """id(variable) -> the gradient to label it with, once backward has run (a .grad is set).

    Leaves show their ``.grad``. With ``every``, the intermediate Variables, whose
    gradients the engine drops once used, get theirs from one more pass of the engine
    (``grad``, seeded with ones as ``backward()`` is; no ``.grad`` changes), as the
    books' figures show a gradient under every edge.
    """
    shown = {id(v): v.grad._data for v in variables if v.grad is not None}
    if not shown or not every:
        return shown
    wanted = [v for v in variables if v.requires_grad and v.grad is None
              and (v.creator is not None or any(v is y for y in outputs))]
    if wanted:
        for v, g in zip(wanted, grad(outputs, wanted, allow_unused=True)):
            if g is not None:
                shown[id(v)] = g._data
    return shown


def build(outputs, values=True, grads=True, model=None):
    """The drawing's nodes (key -> Node), edges (key pairs), objects (key -> node), in one walk.

    grads: True labels every Variable with its gradient, 'leaves' only those holding a
    ``.grad``, False none. With ``model``, parameters get their dotted names (``0.W``).
    """
    variables, functions, edges = walk(outputs)
    shown = node_grads(outputs, variables, every=grads is True) if grads else {}
    keys = {id(v): f"v{i}" for i, v in enumerate(variables)}
    keys.update({id(f): f"f{i}" for i, f in enumerate(functions)})
    objects = {keys[id(o)]: o for o in variables + functions}
    names = parameter_names(objects, model) if model is not None else {}
    nodes = {keys[id(v)]: Node("variable", variable_lines(v, values, shown.get(id(v)),
                                                          names.get(keys[id(v)])))
             for v in variables}
    nodes.update({keys[id(f)]: Node("function", [f.name]) for f in functions})
    pairs = [(keys[id(a)], keys[id(b)]) for a, b in reversed(edges)]  # inputs first
    return nodes, pairs, objects


def parameter_names(objects, model=None):
    """key -> dotted parameter name, from ``model.named_parameters()`` or Variable names."""
    if model is not None:
        by_id = {id(p): name for name, p in model.named_parameters()}
    else:
        by_id = {id(o): o.name for o in objects.values()
                 if isinstance(o, Variable) and o.creator is None and o.name and "." in o.name}
    return {key: by_id[id(o)] for key, o in objects.items() if id(o) in by_id}


def collapse_modules(nodes, edges, objects, model=None):
    """Fold the Functions that use one module's parameters into one node per module.

    A Function belongs to the module whose parameter it takes as input; that
    module's parameters, and the Variables passed only among its Functions,
    disappear inside the module's node. Parameter-free Functions stay visible.
    Returns the new nodes and edges, and each folded key -> the key of its module.
    """
    names = parameter_names(objects, model)
    group = {}
    for a, b in edges:
        if a in names and b not in group:
            group[b] = names[a].rpartition(".")[0]
    group = {k: group[k] for k in objects if k in group}  # modules in the order they run
    modules = list(dict.fromkeys(group.values()))
    module_keys = {m: f"m{i}" for i, m in enumerate(modules)}
    members = {k: module_keys[m] for k, m in group.items()}
    members.update({k: module_keys[n.rpartition(".")[0]] for k, n in names.items()
                    if n.rpartition(".")[0] in module_keys})
    members.update(_internal(nodes, edges, members))
    new_nodes = {k: n for k, n in nodes.items() if k not in members}
    first_use = _first_use(objects)
    for m, key in module_keys.items():
        params = sorted(((n, objects[k]) for k, n in names.items() if members.get(k) == key),
                        key=lambda item: first_use[id(item[1])])
        new_nodes[key] = Node("module", module_lines(m, params, model))
    new_edges = []
    for a, b in edges:
        pair = (members.get(a, a), members.get(b, b))
        if pair[0] != pair[1] and pair not in new_edges:
            new_edges.append(pair)
    return new_nodes, new_edges, members


def _first_use(objects):
    """id(variable) -> rank of its first use as an input, functions taken in running order."""
    uses = [id(x) for f in objects.values() if not isinstance(f, Variable) for x in f.inputs]
    return {i: rank for rank, i in reversed(list(enumerate(uses)))}


def _internal(nodes, edges, members):
    """Variables produced and consumed only inside one module: key -> that module."""
    touching = {}
    for a, b in edges:
        for var, other in ((a, b), (b, a)):
            if nodes[var].kind == "variable" and var not in members:
                touching.setdefault(var, []).append(members.get(other))
    return {v: ms[0] for v, ms in touching.items()
            if ms[0] is not None and all(m == ms[0] for m in ms) and len(ms) > 1}


def module_lines(path, params, model):
    """``fc1: Linear``, then ``W (64, 100)`` per parameter."""
    kind = _module_type(model, path)
    lines = [f"{path or '(model)'}: {kind}" if kind else path or "(model)"]
    lines += [f"{name.rpartition('.')[2]} {tuple(p.shape)}" for name, p in params]
    return lines


def _module_type(model, path):
    """The class name of the submodule at dotted ``path`` of ``model``, when it can be found."""
    if model is None:
        return None
    obj = model
    for part in path.split(".") if path else []:
        child = getattr(obj, part, None)
        if child is None:
            try:
                child = obj[int(part)]
            except (TypeError, ValueError, IndexError, KeyError):
                return None
        obj = child
    return type(obj).__name__


def to_dot(nodes, edges):
    """DOT text for graphviz: left to right, variables orange ellipses, functions blue boxes."""
    styles = {
        "variable": 'shape=ellipse, style=filled, fillcolor="#fde8c8"',
        "function": 'shape=box, style=filled, fillcolor="#d5e8fb"',
        "module": 'shape=box, style="rounded,filled", fillcolor="#d8f0d2"',
    }
    out = ["digraph chainrule {", "  rankdir=LR;", '  node [fontname="Helvetica", fontsize=11];']
    for key, node in nodes.items():
        label = "\\n".join(line.replace("\\", "\\\\").replace('"', '\\"') for line in node.lines)
        out.append(f'  {key} [label="{label}", {styles[node.kind]}];')
    out += [f"  {a} -> {b};" for a, b in edges]
    out.append("}")
    return "\n".join(out) + "\n"


class Drawing:
    """A drawn graph: ``.dot`` text, ``svg()``, ``png()``, ``save(path)``; shows in Jupyter."""

    def __init__(self, nodes, edges):
        self.nodes = nodes
        self.edges = edges
        self.dot = to_dot(nodes, edges)

    def __str__(self):
        return self.dot

    def __repr__(self):
        return f"<Drawing of {len(self.nodes)} nodes and {len(self.edges)} edges>"

    def render(self, format):
        """The drawing as bytes in ``format`` ('dot', 'svg' or 'png')."""
        if format not in FORMATS:
            raise ValueError(f"draw: unknown format {format!r}; use one of {', '.join(FORMATS)}")
        if format == "dot":
            return self.dot.encode()
        program = shutil.which("dot")
        if program is not None:
            done = subprocess.run([program, f"-T{format}"], input=self.dot.encode(),
                                  capture_output=True, timeout=120, check=False)
            if done.returncode == 0 and done.stdout:
                return done.stdout
            reason = done.stderr.decode(errors="replace").strip().splitlines()[:1]
            warnings.warn(f"graphviz's dot failed ({' '.join(reason)}); "
                          "chainrule drew the graph with its own simple layout", stacklevel=3)
        else:
            warnings.warn(INSTALL_DOT, stacklevel=3)
        from chainrule.viz import layout

        if format == "svg":
            return layout.to_svg(self.nodes, self.edges).encode()
        return layout.to_png(self.nodes, self.edges)

    def svg(self):
        return self.render("svg").decode()

    def png(self):
        return self.render("png")

    def _repr_svg_(self):
        return self.svg()

    def save(self, path, format=None):
        """Write the drawing to ``path``, in ``format`` or the one its suffix names."""
        format = format or format_of(path)
        data = self.render(format)
        try:
            with open(path, "wb") as f:
                f.write(data)
        except OSError as error:
            raise OSError(f"draw: cannot write {os.fspath(path)!r} ({error.strerror})") from None
        return path


def format_of(path):
    """'dot', 'svg' or 'png' from the suffix of ``path``."""
    suffix = os.path.splitext(os.fspath(path))[1].lower()
    if suffix not in SUFFIXES:
        raise ValueError(f"draw: cannot tell the format of {os.fspath(path)!r}; "
                         "use a .dot, .gv, .svg or .png file or pass format=")
    return SUFFIXES[suffix]


def draw(y, values=True, grads=True, path=None, format=None, collapse=False, model=None):
    """Draw the graph that made ``y`` (a Variable or a list of them); returns a Drawing.

    values: show each Variable's value (its shape, for big arrays).
    grads: after backward, show the gradient of every Variable, intermediate ones
    included (True), of the leaves alone ('leaves'), or none (False).
    path: also write the drawing there, as ``format`` or as its suffix says.
    collapse: fold each module's Functions into one node; parameter names come
    from ``model.named_parameters()`` or from dotted Variable names (``fc1.W``).
    """
    outputs = list(y) if isinstance(y, (list, tuple)) else [y]
    if not outputs or not all(hasattr(o, "creator") for o in outputs):
        raise TypeError("draw: y must be a chainrule Variable or a list of them")
    if format is not None and format not in FORMATS:
        raise ValueError(f"draw: unknown format {format!r}; use one of {', '.join(FORMATS)}")
    if grads not in (True, False, "leaves"):
        raise ValueError(f"draw: grads={grads!r}; use True (every node), 'leaves' or False")
    nodes, edges, objects = build(outputs, values, grads, model)
    if collapse:
        nodes, edges, _ = collapse_modules(nodes, edges, objects, model)
    drawing = Drawing(nodes, edges)
    if path is not None:
        drawing.save(path, format)
    return drawing
