"""The backward engine: walks the graph from the outputs back to the leaves, once.

Functions are taken latest generation first from a heap, so a Function runs
only after every gradient flowing into its outputs has been summed. No
recursion anywhere: a chain of a million operations is a loop of a million
steps. Gradients of intermediate Variables are dropped as soon as they are
consumed, unless ``retain_grad`` asks to keep them.
"""

import heapq
import itertools

import numpy as np

from chainrule.backend import get_array_module
from chainrule.core import ops
from chainrule.core.function import all_finite, nonfinite_kind, records_backward
from chainrule.core.indexing import ScatteredGrad
from chainrule.core.mode import grad_mode, set_batch


def backward(outputs, grad_outputs, retain_grad=False, create_graph=False, inputs=None):
    """Backpropagate from ``outputs``; returns the grads of ``inputs`` when given.

    Without ``inputs``, every leaf's gradient is accumulated into its ``.grad``
    (``Variable.backward``); with them, no ``.grad`` is written and the gradients
    of exactly those Variables are returned (``chainrule.grad``).
    """
    if grad_mode.batch is not None:  # vmap's graph is batched already: its backward is plain
        batch = set_batch(None)
        try:
            return _backward(outputs, grad_outputs, retain_grad, create_graph, inputs)
        finally:
            set_batch(batch)
    return _backward(outputs, grad_outputs, retain_grad, create_graph, inputs)


def _backward(outputs, grad_outputs, retain_grad, create_graph, inputs):
    found = None if inputs is None else {x: None for x in inputs}
    # open forward-mode levels: gradients are summed by operations, which carry tangents
    recorded = create_graph or grad_mode.levels
    walk = _Walk(found, _add_recorded if recorded else _add_arrays, retain_grad)
    walk.outputs = outputs
    if found is not None:
        walk.useful = _reaching(outputs, found)
    for y, gy in zip(outputs, grad_outputs):
        seed = _seed(y, gy)
        if gy is not None and y.creator is None and found is None:
            seed = walk.copy(seed)  # a leaf's .grad must not be the caller's array
        walk.deposit(y, seed)
    previous = grad_mode.enabled, grad_mode.anomaly, grad_mode.tracer
    grad_mode.enabled = create_graph
    grad_mode.anomaly = False  # the walk checks each backward's result as a whole instead
    grad_mode.tracer = None  # the walk tells the tracer of its steps; their ops are no forward
    try:
        walk.run()
    finally:
        grad_mode.enabled, grad_mode.anomaly, grad_mode.tracer = previous
    walk.finish()
    return None if found is None else [found[x] for x in inputs]


def _seed(y, gy):
    """The gradient that starts backward at output ``y``: ones, or ``gy`` of exactly y's shape."""
    if gy is None:
        return y._derived(get_array_module(y._data).ones_like(y._data))
    shape = tuple(gy.shape) if hasattr(gy, "shape") else np.shape(gy)
    if shape != y.shape:
        raise ValueError(
            f"backward: the gradient has shape {shape}, but the output it belongs to "
            f"has shape {y.shape}")
    return _fit(gy, y, None)


def _reaching(outputs, found):
    """The Functions below ``outputs`` from which a Variable in ``found`` can be reached.

    ``grad`` runs only these: what lies below the requested inputs, or beside
    them, is never called. One walk down, then one pass in generation order.
    """
    seen, stack = {}, [y.creator for y in outputs if y.creator is not None]
    while stack:
        f = stack.pop()
        if f in seen:
            continue
        seen[f] = False
        stack.extend(x.creator for x in f.inputs if x.creator is not None and x.creator not in seen)
    for f in sorted(seen, key=lambda f: f.generation):  # inputs' creators come first
        seen[f] = any(x in found or seen.get(x.creator, False) for x in f.inputs)
    return {f for f, reaches in seen.items() if reaches}


class _Walk:
    """One backward pass: each Function's inbox of output gradients, and the order to run them.

    The heap orders Functions when several wait at once. When a Function becomes the only
    one waiting (a chain: each op feeds the next), it is ``solo`` and runs next without the
    heap: nothing else holds a gradient, so no more can flow into it. That saves a push, a
    pop and a tuple per op: 4% of deep_chain's backward (2 interleaved runs).
    """

    def __init__(self, found, add, retain_grad):
        self.found, self.add, self.retain_grad = found, add, retain_grad
        self.copy = _copy_recorded if add is _add_recorded else _copy_arrays
        self.useful = None  # with found: the Functions worth running (see _reaching)
        self.pending = {}  # Function -> summed gradient of its output (a list for several)
        self.heap = []  # (-generation, arrival, function): latest generation first
        self.solo = None  # the one waiting Function, kept out of the heap (see above)
        self.arrival = itertools.count()
        self.watched = {}  # Function -> {output index: Variable with hooks or retaining}
        self.hooked_leaves = {}  # leaf with hooks -> its summed gradient, for the hooks at the end
        self.retained = {}  # intermediate Variable -> its gradient, added to its .grad at the end
        self.anomaly = grad_mode.anomaly
        self.tracer = grad_mode.tracer  # chainrule.viz.trace: told of each step, else None
        self.outputs = ()  # where the pass starts: counted from only if a leaf has after-hooks
        self.awaited = None  # leaf with after-hooks -> gradients still to come (see _arrived)

    def run(self):
        heap, pending, deposit, watched = self.heap, self.pending, self.deposit, self.watched
        anomaly, writes = self.anomaly, self.found is None  # grad() writes no .grad
        tracer = self.tracer
        scattered = ScatteredGrad  # a local: read twice per op
        while True:
            function = self.solo
            if function is not None:
                self.solo = None
            elif heap:
                function = heapq.heappop(heap)[2]
            else:
                return
            gys = pending.pop(function)
            if type(gys) is list:
                gys = _zeros_for_missing([_dense(gy) for gy in gys], function)
            else:
                gys = (gys.variable() if type(gys) is scattered else gys,)  # _dense, inlined
            if watched and function in watched:
                gys = self.visit(function, gys)
            versions = function.versions  # saved with the call: any input written since?
            if versions is not None:
                xs = function.inputs  # inline for one and two inputs: the common ops
                if (versions[0] != xs[0]._version or versions[-1] != xs[-1]._version
                        or len(versions) > 2):
                    function.check_versions()
            gxs = function.backward(*gys)
            if type(gxs) is not tuple:
                gxs = (gxs,)
            if anomaly:
                _check_backward(function, gxs)
            if tracer is not None:
                tracer.backward(function, gys, gxs)
            for x, gx in zip(function.inputs, gxs):
                if gx is None or not x.requires_grad:
                    continue
                if type(gx) is scattered:  # x's shape and dtype by construction
                    deposit(x, gx)
                    continue
                if (not hasattr(gx, "creator") or gx._data.shape != x._data.shape
                        or gx._data.dtype is not x._data.dtype):  # NumPy's dtypes are singletons
                    gx = _fit(gx, x, function)
                elif x.creator is None and x.grad is None and writes and _shared(gx, gys, gxs):
                    gx = self.copy(gx)  # a leaf's first .grad must own its buffer
                deposit(x, gx)

    def deposit(self, x, gx):
        """Hand ``gx`` to ``x``: its ``.grad`` if it is a leaf, else its creator's inbox."""
        found, add = self.found, self.add
        f = x.creator
        if type(gx) is ScatteredGrad and (f is None or found is not None or self.retain_grad):
            gx = gx.variable()  # only an inbox collects slices; everything else reads arrays
        if found is not None:
            if x in found:
                found[x] = gx if found[x] is None else add(found[x], gx)
            if f not in self.useful:  # grad() writes no .grad; nothing below needs gx
                return
        if f is None:
            hooks = x._hooks
            if hooks is None:  # the plain leaf: one check, as before after-hooks existed
                x.grad = gx if x.grad is None else add(x.grad, gx)
            elif hooks.fns:  # they see the gradient summed over this pass, at the end
                sums = self.hooked_leaves
                sums[x] = gx if x not in sums else add(sums[x], gx)
            else:
                x.grad = gx if x.grad is None else add(x.grad, gx)
                if hooks.after:
                    self._arrived(x)
            return
        pending = self.pending
        if f not in pending:
            if self.solo is None and not self.heap:
                self.solo = f
            else:
                if self.solo is not None:  # two wait now: both go by generation
                    self._push(self.solo)
                    self.solo = None
                self._push(f)
        outs = f.outputs
        if len(outs) > 1:
            inbox = pending.setdefault(f, [None] * len(outs))
            i = next(i for i, ref in enumerate(outs) if ref() is x)  # not ==: elementwise
            inbox[i] = gx if inbox[i] is None else add(inbox[i], gx)
        else:
            i = 0
            previous_gx = pending.get(f)
            pending[f] = gx if previous_gx is None else add(previous_gx, gx)
        if self.retain_grad or x._hooks is not None:
            self.watched.setdefault(f, {})[i] = x

    def visit(self, function, gys):
        """Run the hooks of ``function``'s watched outputs on their summed gradients; keep
        what retain_grad asks for. A hook's replacement is what flows on."""
        gys = list(gys)
        for i, y in self.watched.pop(function).items():
            hooks = y._hooks
            if hooks is not None:
                gys[i] = _run_hooks(y, gys[i], self.copy)
            if self.retain_grad or (hooks is not None and hooks.retain):
                self.retained[y] = gys[i]
        return gys

    def _arrived(self, x):
        """A gradient reached leaf ``x``, which has after-hooks: run them if it was the last.

        How many are to come is counted on the first such arrival, by one walk of the graph
        from the outputs, so a backward whose leaves have no after-hooks never walks it.
        """
        awaited = self.awaited
        if awaited is None:
            awaited = self.awaited = _edges_into_hooked_leaves(self.outputs)
        left = awaited.get(x, 1) - 1
        awaited[x] = left
        if left == 0:
            _run_after_hooks(x)

    def finish(self):
        """Leaves with hooks get their hooked gradient; retained intermediates add theirs
        to ``.grad`` as leaves do. Every new ``.grad`` owns its buffer. Then the after-hooks
        of leaves that some gradient reached and that have not run theirs yet (a consumer
        gave no gradient, or gradient hooks held it back until now)."""
        add, copy = self.add, self.copy
        for x, gx in self.hooked_leaves.items():
            gx = _run_hooks(x, gx, copy)
            x.grad = gx if x.grad is None else add(x.grad, gx)
        for x, gx in self.retained.items():
            x.grad = copy(gx) if x.grad is None else add(x.grad, gx)
        for x in self.hooked_leaves:
            if x._hooks is not None and x._hooks.after:
                _run_after_hooks(x)
        for x, left in (self.awaited or {}).items():
            if left > 0 and x._hooks is not None:
                _run_after_hooks(x)

    def _push(self, f):
        heapq.heappush(self.heap, (-f.generation, next(self.arrival), f))


def _run_hooks(x, gx, copy):
    """``x``'s hooks in order, each given the gradient and free to return a replacement."""
    for hook in list(x._hooks.fns.values()):
        replacement = hook(gx)
        if replacement is not None:  # the hook's array is the user's: copied, fitted to x
            gx = copy(_fit(replacement, x, None))
    return gx


def _edges_into_hooked_leaves(outputs):
    """Leaf with after-hooks -> how many gradients backward from ``outputs`` hands it: one
    per (Function, input slot) that reads it, plus one per output that is the leaf itself."""
    counts, seen = {}, set()
    stack = [y.creator for y in outputs if y.creator is not None]
    for y in outputs:
        if y.creator is None and _counted(y):
            counts[y] = counts.get(y, 0) + 1
    while stack:
        for x in stack.pop().inputs:
            f = x.creator
            if f is None:
                if x.requires_grad and _counted(x):
                    counts[x] = counts.get(x, 0) + 1
            elif f not in seen and x.requires_grad:
                seen.add(f)
                stack.append(f)
    return counts


def _counted(x):
    """Whether ``x``'s after-hooks run on arrival (with gradient hooks: at the end instead)."""
    return x._hooks is not None and bool(x._hooks.after) and not x._hooks.fns


def _run_after_hooks(x):
    """``x``'s after-hooks, in order: its ``.grad`` is final for this backward pass."""
    for hook in list(x._hooks.after.values()):
        hook(x)


def _shared(gx, gys, gxs):
    """Whether ``gx``'s buffer may be held elsewhere: a view, an incoming gradient
    passed through unchanged (add, a user's seed), or one gradient given to two inputs."""
    if gx._data.base is not None:
        return True
    for g in gys:
        if g is gx:
            return True
    return sum(g is gx for g in gxs) > 1


def _copy_arrays(g):
    return g._derived(g._data.copy())


def _copy_recorded(g):
    return ops.copy(g)


def _add_recorded(g0, g1):
    return g0 + g1


def _add_arrays(g0, g1):
    """Sum two gradients without recording: the arrays alone, no Function needed."""
    if type(g0) is ScatteredGrad or type(g1) is ScatteredGrad:
        return ScatteredGrad.join(g0, g1)  # summed once, when read
    return g0._derived(g0._data + g1._data)


def _dense(gy):
    """An inbox's gradient as a Variable (slices from get_item made into one array)."""
    return gy.variable() if type(gy) is ScatteredGrad else gy


def _zeros_for_missing(gys, function):
    """Zeros for the outputs of a multi-output Function that no gradient reached.

    Shapes and dtypes were recorded with the call: the output may be gone by now.
    """
    given = next(gy for gy in gys if gy is not None)
    xp = get_array_module(given._data)
    return [given._derived(xp.zeros(shape, dtype)) if gy is None else gy
            for gy, (shape, dtype) in zip(gys, function.output_specs)]


def _check_backward(function, gxs):
    """Anomaly mode: refuse a NaN or inf among the gradients ``function.backward`` returned."""
    for i, gx in enumerate(gxs):
        if gx is None:
            continue
        if type(gx) is ScatteredGrad:
            data = gx.data
        else:
            data = gx._data if hasattr(gx, "creator") else gx
        if not all_finite(data):
            called_at = getattr(function, "called_at", None) or "a line run outside anomaly mode"
            raise FloatingPointError(
                f"{function.name} backward: produced {nonfinite_kind(data)} in the gradient "
                f"of input {i} (shape {data.shape}); its forward was called at {called_at}")


def _fit(gx, x, function):
    """``gx`` as a Variable of ``x``'s shape and floating dtype: broadcast axes summed away
    and a promoted gradient cast back (as PyTorch does); any other shape refused."""
    if not hasattr(gx, "creator"):  # a backward may return plain arrays
        gx = x.constant(gx)
    dtype = x._data.dtype
    if gx._data.dtype != dtype and dtype.kind in "fc":
        gx = ops.cast(gx, dtype)
    if gx._data.shape == x._data.shape:
        return gx
    try:
        if records_backward():
            return ops.sum_to(gx, x._data.shape)
        # a plain backward sums on the arrays: no SumTo made and called per broadcast input
        return gx._derived(ops.sum_array_to(gx._data, x._data.shape))
    except ValueError:
        who = function.name if function is not None else "backward"
        raise ValueError(
            f"{who}: gradient of shape {gx._data.shape} does not fit input of shape "
            f"{x._data.shape}"
        ) from None


def grad(outputs, inputs, grad_outputs=None, create_graph=False, allow_unused=False):
    """Gradients of ``outputs`` with respect to ``inputs``, like ``torch.autograd.grad``.

    Leaves' ``.grad`` stay untouched. With ``create_graph=True`` the results
    have creators of their own, for higher-order derivatives::

        gx, = grad(y, [x], create_graph=True)
        ggx, = grad(gx, [x])
    """
    outputs = list(outputs) if isinstance(outputs, (list, tuple)) else [outputs]
    single = not isinstance(inputs, (list, tuple))
    inputs = [inputs] if single else list(inputs)
    if grad_outputs is None:
        grad_outputs = [None] * len(outputs)
    elif not isinstance(grad_outputs, (list, tuple)):
        grad_outputs = [grad_outputs]
    if len(grad_outputs) != len(outputs):
        raise ValueError(f"grad: {len(outputs)} outputs but {len(grad_outputs)} grad_outputs")
    results = backward(outputs, grad_outputs, create_graph=create_graph, inputs=inputs)
    for i, g in enumerate(results):
        if g is None and not allow_unused:
            raise ValueError(
                f"grad: input {i} was not used to compute the outputs "
                "(pass allow_unused=True to get None for it)"
            )
    return results
