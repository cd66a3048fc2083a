"""The explorer: one HTML page that steps through a recorded forward and backward pass.

``explore(y)`` lays the graph out as the static drawing does (``viz.layout``) and
writes one self-contained page, inline SVG, CSS and JavaScript with no network
fetch of any kind. Each step of the page is a step of a ``Trace``: a Function run
forward, with its outputs' values; a Function run backward, with the upstream
gradient, each input's local derivative and their product, and the sums where
paths meet. Every number is formatted here, in Python, from what chainrule
computed; the script only shows and hides them::

    loss = model(x).sum()
    explore(loss, path="loss.html")          # or, in Jupyter, just explore(loss)
"""

import html
import os

import numpy as np

from chainrule.viz import page, text
from chainrule.viz.drawing import (
    Node,
    build,
    collapse_modules,
    format_array,
    format_grad,
    parameter_names,
)
from chainrule.viz.trace import trace_of

FOLD_AT = 600  # nodes beyond which a graph with modules is folded per module by default
FULL_ARRAY = 100_000  # elements written out in full on click; larger ones are summarised


def explore(y, path=None, trace=None, collapse=None, model=None, title=None):
    """An Explorer of the graph behind ``y`` (a Variable or a list of them).

    trace: a ``viz.trace.record()`` Trace of the passes that made ``y``; without one,
    the forward steps come from the graph and one backward is run to record (no
    ``.grad`` changes). collapse: fold each module into one node (default: when the
    graph has more than FOLD_AT nodes); parameter names come from ``model`` or from
    dotted Variable names. path: also write the page there.
    """
    outputs = list(y) if isinstance(y, (list, tuple)) else [y]
    if not outputs or not all(hasattr(o, "creator") for o in outputs):
        raise TypeError("explore: y must be a chainrule Variable or a list of them")
    explorer = Explorer(outputs, trace_of(outputs, trace), collapse, model, title)
    if path is not None:
        explorer.save(path)
    return explorer


class Explorer:
    """The page: ``.html`` text, ``save(path)``; Jupyter shows it inline (in an iframe)."""

    def __init__(self, outputs, trace, collapse=None, model=None, title=None):
        self.trace = trace
        nodes, edges, objects = build(outputs, values=False, grads=False, model=model)
        given = {id(objects[k]): n for k, n in parameter_names(objects, model).items()}
        given.update((id(y), "L") for y in outputs if not y.name and len(outputs) == 1)
        names = text.variable_names(trace.steps(), given)
        if collapse is None:
            collapse = len(nodes) > FOLD_AT and bool(parameter_names(objects, model))
        members = {}
        if collapse:
            nodes, edges, members = collapse_modules(nodes, edges, objects, model)
        self.steps = Steps(trace, objects, members, names)
        labels = node_labels(nodes, objects, names, self.steps)
        initial = {slot: self.steps.texts[index] for slot, index in self.steps.initial.items()}
        self.title = title or f"chainrule explorer: {names.get(id(outputs[0]), 'y')}"
        self.html = page.render(self.title, labels, edges, initial, self.steps.data())

    def __repr__(self):
        return f"<Explorer of {len(self.steps.steps) - 1} steps>"

    def _repr_html_(self):
        return (f'<iframe srcdoc="{html.escape(self.html, quote=True)}" '
                'style="width:100%;height:640px;border:1px solid #ccc"></iframe>')

    def save(self, path):
        """Write the page to ``path`` (UTF-8)."""
        try:
            with open(path, "w", encoding="utf-8") as f:
                f.write(self.html)
        except OSError as error:
            raise OSError(f"explore: cannot write {os.fspath(path)!r} ({error.strerror})") from None
        return path


def node_labels(nodes, objects, names, steps):
    """key -> (kind, name line, widest value text, widest grad text) for layout and SVG."""
    out = {}
    for key, node in nodes.items():
        if node.kind != "variable":
            out[key] = Node(node.kind, node.lines)
            continue
        v = objects[key]
        name = names.get(id(v), "")
        grad = steps.final_grad.get(key, "")
        out[key] = Node("variable", [name, format_array(v._data), grad])
    return out


class Steps:
    """The page's steps: what each shows (the panel) and changes (the node labels).

    A change is ``[node key, slot, new text, old text]``, slot 0 the value and 1 the
    gradient, texts as indices into one table; going back a step undoes its changes.
    """

    def __init__(self, trace, objects, members, names):
        self.keys = {id(o): k for k, o in objects.items()}
        self.members, self.names = members, names
        self.texts, self.text_index = [""], {"": 0}
        self.arrays, self.array_index = [], {}
        self.formatted = {}  # (how, array's key) -> text: NumPy's printing is slow, arrays repeat
        # (key, slot) -> text index shown: at the start, the leaves' values; then as built
        self.initial = {(k, 0): self.text(self.format(format_array, v._data))
                        for k, v in objects.items()
                        if k not in members and getattr(v, "creator", 1) is None}
        self.shown = dict(self.initial)
        self.final_grad = {}
        self.steps = [{"label": "start", "phase": "start", "node": None, "changes": [],
                       "panel": self.start_panel(trace)}]
        forward = [s for s in trace.forward_steps if id(s.function) in self.keys]
        backward = trace.backward_steps
        for k, step in enumerate(forward, 1):
            self.add_forward(step, f"forward {k} / {len(forward)}: {step.function.name}")
        for k, step in enumerate(backward, 1):
            self.add_backward(step, f"backward {k} / {len(backward)}: {step.function.name}")

    def data(self):
        return {"texts": self.texts, "arrays": self.arrays, "steps": self.steps}

    # ---- the changes to node labels ------------------------------------------
    def node(self, obj):
        """The key of the drawn node showing ``obj`` (its module's, when folded)."""
        key = self.keys.get(id(obj))
        return self.members.get(key, key)

    def change(self, changes, v, slot, value):
        key = self.keys.get(id(v))
        if key is None or key in self.members:
            return
        new = self.text(value)
        old = self.shown.get((key, slot), 0)
        if new != old:
            changes.append([key, slot, new, old])
            self.shown[(key, slot)] = new
        if slot == 1:
            self.final_grad[key] = value

    def text(self, value):
        index = self.text_index.get(value)
        if index is None:
            index = self.text_index[value] = len(self.texts)
            self.texts.append(value)
        return index

    # ---- the steps --------------------------------------------------------------
    def start_panel(self, trace):
        leaves = {}
        for step in trace.forward_steps:
            for x in step.function.inputs:
                if x.creator is None and id(x) in self.keys:
                    leaves[id(x)] = x
        rows = "".join(f'<tr data-var="{self.attr(x)}"><td>{self.name(x)}</td>'
                       f'<td class="value">{self.value(x._data)}</td></tr>'
                       for x in leaves.values())
        return ("<h3>start</h3><p>The inputs, before any Function runs. Step with → or the "
                f"buttons.</p><table><tr><th>input</th><th>value</th></tr>{rows}</table>")

    def add_forward(self, step, label):
        changes = []
        for y, value in zip(step.outputs, step.values):
            self.change(changes, y, 0, self.format(format_array, value))
        inputs = "".join(f'<tr><td>{self.name(x)}</td><td class="value">{self.value(x._data)}'
                         "</td></tr>" for x in step.function.inputs)
        outputs = "".join(f'<tr data-var="{self.attr(y)}"><td>{self.name(y)}</td>'
                          f'<td class="value">{self.value(value)}</td></tr>'
                          for y, value in zip(step.outputs, step.values))
        panel = (f"<h3>{html.escape(label)}</h3><table><tr><th>input</th><th>value</th></tr>"
                 f"{inputs}<tr><th>output</th><th>value</th></tr>{outputs}</table>")
        self.steps.append({"label": label, "phase": "forward",
                           "node": self.node(step.function), "changes": changes,
                           "panel": panel})

    def add_backward(self, step, label):
        changes = []
        z = text.symbol(text.output_name(step, self.names))
        for y, g in zip(step.outputs, step.upstream):
            if g is not None:
                self.change(changes, y, 1, self.format(format_grad, g))
        upstream = step.upstream[0] if len(step.upstream) == 1 else None
        ups = "".join(f'<p class="upstream">upstream ∂L/∂{z} = {self.value(g)}</p>'
                      for g in step.upstream if g is not None)
        rows = []
        for e in step.edges:
            x = text.symbol(self.names.get(id(e.variable), "x"))
            self.change(changes, e.variable, 1, self.format(format_grad, e.total))
            rows.append(self.edge_row(e, x, z, upstream))
        meets = "".join(
            f'<p class="accumulation" data-var="{self.attr(a.variable)}">paths meet at '
            f'{self.name(a.variable)}: ∂L/∂{html.escape(text.symbol(self.names[id(a.variable)]))}'
            f" = {self.value(a.before)} + {self.value(a.added)} = {self.value(a.after)}</p>"
            for a in step.accumulations)
        panel = (f"<h3>{html.escape(label)}</h3>{ups}<table><tr><th>input</th>"
                 "<th>local ∂z/∂x</th><th>∂L/∂x</th></tr>" + "".join(rows) + f"</table>{meets}")
        self.steps.append({"label": label, "phase": "backward",
                           "node": self.node(step.function), "changes": changes,
                           "panel": panel})

    def edge_row(self, e, x, z, upstream):
        """One input's row: its local derivative and the chain rule's product, with numbers."""
        x, z = html.escape(x), html.escape(z)
        local = "—" if e.local is None else self.value(e.local)
        if e.kind == "vjp" or upstream is None:
            rule = f"∂L/∂{x} = (∂{z}/∂{x})ᵀ ∂L/∂{z} = "
        else:
            total = "Σ " if e.kind == "broadcast" else ""
            rule = (f"∂L/∂{x} = {total}∂L/∂{z} · ∂{z}/∂{x} = {total}{self.value(upstream)} · "
                    f"{self.value(e.local)} = ")
        return (f'<tr data-var="{self.attr(e.variable)}"><td>{self.name(e.variable)}</td>'
                f'<td class="local">{local}</td><td class="rule">{rule}'
                f'<span class="product">{self.value(e.product)}</span></td></tr>')

    # ---- formatting ---------------------------------------------------------------
    def name(self, v):
        return html.escape(self.names.get(id(v), "?"))

    def attr(self, v):
        return html.escape(self.names.get(id(v), "?"), quote=True)

    def value(self, a):
        """Small arrays in full; a larger one as its summary, the full array on click."""
        if a.size <= text.FULL:
            return f'<span class="num">{html.escape(self.format(text.describe, a))}</span>'
        index = self.array(a)
        return (f'<details class="array" data-array="{index}"><summary>'
                f"{html.escape(text.summary(a))}</summary><pre></pre></details>")

    def format(self, how, a):
        """``how(a)``, once per distinct array."""
        key = (how, a.shape, a.dtype.str, a.tobytes())
        done = self.formatted.get(key)
        if done is None:
            done = self.formatted[key] = how(a)
        return done

    def array(self, a):
        """Index of ``a``'s full text in the arrays table (each distinct array once)."""
        key = (a.shape, a.dtype.str, a.tobytes())
        index = self.array_index.get(key)
        if index is None:
            full = np.array2string(a, separator=", ", precision=6,
                                   threshold=FULL_ARRAY, max_line_width=120)
            index = self.array_index[key] = len(self.arrays)
            self.arrays.append(full)
        return index

