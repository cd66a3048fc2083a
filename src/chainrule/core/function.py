"""Function: one node of the graph, with ``forward`` on arrays and ``backward`` on gradients.

Calling a Function runs ``forward`` on the inputs' arrays and, while grad mode is
on, records the call: the Function keeps its inputs and (weakly) its outputs,
and each output remembers the Function as its ``creator``. Outputs are held
weakly so a graph is freed by reference counting alone, without cycles.
"""

import functools
import os
import sys
import weakref

from chainrule.backend import get_array_module
from chainrule.core.mode import grad_mode

OUTPUT_WRITTEN = (-1,)  # versions that never match: an output backward reads was written
_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class Function:
    """Base class of every differentiable operation.

    Subclasses define ``forward(*arrays)`` returning an array (or a tuple of
    arrays) and ``backward(*grads)`` returning one gradient per input, written
    with chainrule operations so it can be differentiated again; and, for forward
    mode, ``jvp(*tangents)``, the tangent rule ẏ = J ẋ::

        class Square(Function):
            def forward(self, x):
                return x ** 2
            def backward(self, gy):
                (x,) = self.inputs
                return 2 * x * gy
            def jvp(self, tx):
                (x,) = self.inputs
                return 2 * x * tx

    The tangent rule's protocol (core/forward.py calls it):

    - one tangent per input, in order: a Variable of that input's shape, or None for an
      input without one (a zero tangent; at least one is not None);
    - the inputs are ``self.inputs`` (Variables, always there, even under ``no_grad``);
      the outputs ``self.outputs[i]()``, as backward reads them (kept when
      ``keeps_outputs`` is True, or when the call recorded nothing);
    - returns one tangent per output (a tuple for several), None for a zero one; a
      tangent at a broadcast input's shape (``tx0 + tx1``) is broadcast to the output's;
    - written with chainrule operations, as backward is, so tangents differentiate in
      reverse mode (hessian is forward over reverse). Compute J ẋ directly: not by
      transposing backward.

    A class without ``jvp`` gets the double-vjp construction from its backward, slower,
    with a warning once per class.
    """

    # Slots for what every recorded call keeps; subclasses still get a __dict__
    # for their own settings (axis, shape, ...), created only when they set one.
    __slots__ = ("inputs", "outputs", "generation", "versions", "__dict__", "__weakref__")

    # Whether backward reads ``self.outputs`` (y = self.outputs[0]()). An op whose
    # backward never does sets this False: its calls then keep no weak references,
    # which makes a long graph cheaper to build. Several outputs are always kept.
    keeps_outputs = True

    # Whether backward reads the inputs' values (not just their shapes). Then the
    # inputs' versions are recorded with the call, and backward refuses to run if
    # one was written in place since. Ops that read only shapes set this False.
    saves_inputs = True

    def __call__(self, *inputs):
        if grad_mode.dispatch:  # anomaly, forward mode, vmap, a trace: the plain path's one test
            return self._dispatch(inputs)
        for x in inputs:
            if not hasattr(x, "creator"):  # an array or a number among the inputs
                inputs = self._lift(inputs)
                break
        if len(inputs) == 1:  # unrolled: on Python 3.11 a comprehension costs a frame
            xs = (inputs[0]._data,)
        elif len(inputs) == 2:
            xs = (inputs[0]._data, inputs[1]._data)
        else:
            xs = [x._data for x in inputs]
        try:
            ys = self.forward(*xs)
        except (ValueError, IndexError, TypeError) as error:
            restated = restate(error, self.describe_failure(error, xs))
            if restated is error:
                raise
            raise restated from error
        if type(ys) is not tuple:  # the common case: one output, no tuple made around it
            outputs = inputs[0]._derived(ys)
        elif len(ys) == 1:
            outputs = inputs[0]._derived(ys[0])
        else:
            outputs = tuple([inputs[0]._derived(y) for y in ys])
        if grad_mode.enabled:
            for x in inputs:
                if x.requires_grad:
                    self._link(inputs, outputs)
                    break
        return outputs

    def _dispatch(self, inputs):
        """The call with what ``grad_mode.dispatch`` asks for around it: anomaly checks of the
        outputs, the outputs' tangents when a forward-mode level is open, and the call told to
        the tracer of ``chainrule.viz.record()``; the inputs shown to an observer (checkpoint's
        forward); inside vmap, the batching rule of the call (chainrule/func/batching.py),
        which comes back here plainly."""
        if grad_mode.batch is not None:
            return grad_mode.batch.call(self, inputs)
        for x in inputs:
            if not hasattr(x, "creator"):
                inputs = self._lift(inputs)
                break
        if grad_mode.observer is not None:
            grad_mode.observer(inputs)
        grad_mode.dispatch = False  # the plain call inside, then the flag as it was
        try:
            result = self(*inputs)
        finally:
            grad_mode.dispatch = True
        outputs = result if type(result) is tuple else (result,)
        if grad_mode.anomaly:
            self._check_forward([x._data for x in inputs], outputs)
        if grad_mode.levels:  # opened by core/forward.py, imported then (it builds on this)
            sys.modules["chainrule.core.forward"].propagate(self, inputs, outputs)
        if grad_mode.tracer is not None and outputs[0].creator is self:  # a recorded call
            grad_mode.tracer.forward(self, outputs)
        return result

    def _link(self, inputs, outputs):
        """Record the call: inputs kept, outputs weakly, each output's creator set.

        ``outputs`` is one Variable (nearly every call) or a tuple of several. One Variable
        goes without a tuple, a length test or a loop: 2.3% fewer instructions per iteration
        of deep_chain (callgrind: 85.7k -> 83.7k).
        """
        generation = inputs[0].generation
        for x in inputs:
            if x.generation > generation:
                generation = x.generation
        self.generation = generation
        self.inputs = inputs
        if not self.saves_inputs:
            self.versions = None
        elif len(inputs) == 2:  # unrolled, as above
            self.versions = (inputs[0]._version, inputs[1]._version)
        elif len(inputs) == 1:
            self.versions = (inputs[0]._version,)
        else:
            self.versions = tuple([x._version for x in inputs])
        generation += 1
        if type(outputs) is not tuple:
            self.outputs = [weakref.ref(outputs)] if self.keeps_outputs else ()
            outputs.creator = self
            outputs.generation = generation
            outputs.requires_grad = True
            return
        self.outputs = [weakref.ref(y) for y in outputs]
        self.output_specs = [(y.shape, y.dtype) for y in outputs]  # zeros for an unused one
        for y in outputs:
            y.creator = self
            y.generation = generation
            y.requires_grad = True

    def check_versions(self):
        """Refuse to differentiate with an input or kept output written in place since the call."""
        for ref in self.outputs:
            y = ref()
            if y is not None and y._version:
                self._refuse_written(y, 0, "output")
        if self.versions is not OUTPUT_WRITTEN:
            for x, version in zip(self.inputs, self.versions):
                if x._version != version:
                    self._refuse_written(x, version, "input")

    def output_written(self):
        """One of this call's kept outputs was written: have backward check it (see stale)."""
        if self.outputs:
            self.versions = OUTPUT_WRITTEN

    def _refuse_written(self, x, version, role):
        who = repr(x.name) if x.name else f"of shape {x.shape}"
        raise RuntimeError(
            f"{self.name}: its {role} {who} was modified in place after the forward pass "
            f"(version {version} then, {x._version} now), so its gradient would be wrong; "
            "compute on a copy, or run forward again after the change")

    def _check_forward(self, xs, outputs):
        """Anomaly mode: refuse a NaN or inf output, and remember the user's line for backward."""
        self.called_at = user_frame()
        for y in outputs:
            if not all_finite(y._data):
                shapes = " and ".join(str(getattr(x, "shape", ())) for x in xs)
                raise FloatingPointError(
                    f"{self.name}: produced {nonfinite_kind(y._data)} from inputs of shape "
                    f"{shapes} (anomaly mode; called at {self.called_at or 'an unknown line'})")

    def _lift(self, inputs):
        """Make constants of the non-Variable inputs, in the dtype of a Variable beside them."""
        for anchor in inputs:
            if hasattr(anchor, "creator"):
                return [x if hasattr(x, "creator") else anchor.constant(x) for x in inputs]
        names = ", ".join(type(x).__name__ for x in inputs)
        raise TypeError(f"{self.name}: needs a chainrule Variable among its inputs, got {names}")

    def forward(self, *xs):
        raise NotImplementedError(f"{self.name} defines no forward")

    def backward(self, *gys):
        raise NotImplementedError(f"{self.name} defines no backward")

    def jvp(self, *tangents):
        """ẏ = J ẋ (see the class docstring). Left undefined, it marks a class without a
        rule: forward mode then uses the double-vjp construction (core/forward.py)."""
        raise NotImplementedError(f"{self.name} defines no jvp")

    @property
    def name(self):
        return type(self).__name__.lower()

    def describe_failure(self, error, xs):
        """One sentence: the operation, the input shapes, the reason and the user's line."""
        shapes = " and ".join(str(getattr(x, "shape", ())) for x in xs)
        if "broadcast" in str(error):
            return f"{self.name}: shapes {shapes} do not broadcast{user_line()}"
        return f"{self.name}: {error} (input shapes {shapes}){user_line()}"

    def __repr__(self):
        return f"<{type(self).__name__} generation={getattr(self, 'generation', 0)}>"


def records_backward():
    """Whether a backward rule must build its gradient from chainrule operations: when it is
    recorded (create_graph) or something dispatches on each operation (forward mode, anomaly
    checks). Otherwise, in the plain backward of a training step, a hot rule may compute on
    the arrays and wrap the result (``gy._derived(array)``): the same Variable that the
    operation's unrecorded call returns, without a Function made and called for it.
    """
    return grad_mode.enabled or grad_mode.dispatch


def batchable(wrapper):
    """Decorate an op's wrapper that turns an argument's values into a setting (class-index
    targets, ids, a condition): inside vmap, where that argument may hold a whole batch,
    the wrapper's batching rule runs instead (chainrule/func/batch_wrappers.py)."""
    @functools.wraps(wrapper)
    def call(*args, **kwargs):
        if grad_mode.batch is not None:
            return grad_mode.batch.call_wrapper(wrapper, args, kwargs)
        return wrapper(*args, **kwargs)
    return call


def user_line():
    """`` (file.py:12)`` for the innermost stack frame outside chainrule, found when raising."""
    where = user_frame()
    return f" ({where})" if where else ""


def user_frame():
    """``file.py:12``, the innermost stack frame outside chainrule (``''`` if there is none)."""
    frame = sys._getframe(1)
    while frame is not None and _inside_chainrule(frame):
        frame = frame.f_back
    return "" if frame is None else f"{os.path.basename(frame.f_code.co_filename)}:{frame.f_lineno}"


def user_stacklevel():
    """The ``stacklevel`` that makes the caller's ``warnings.warn`` name the user's line: the
    innermost frame outside chainrule, counted from the caller (level 1)."""
    frame, level = sys._getframe(1), 1
    while frame is not None and _inside_chainrule(frame):
        frame, level = frame.f_back, level + 1
    return level


def _inside_chainrule(frame):
    return os.path.abspath(frame.f_code.co_filename).startswith(_PACKAGE_DIR)


def restate(error, message):
    """``error`` retold as ``message``, in its own type; its constructor may not take a message
    (NumPy's ``_UFuncNoLoopError``), and then ``error`` itself carries ``message`` as a note."""
    try:
        restated = type(error)(message)
        if type(restated) is type(error) and str(restated) == message:
            return restated
    except Exception:  # noqa: BLE001 -- any constructor signature but (message,)
        pass
    error.add_note(message)
    return error


def all_finite(array):
    """True unless the floating ``array`` holds a NaN or an inf (integers always are)."""
    if array.dtype.kind not in "fc":
        return True
    return bool(get_array_module(array).isfinite(array).all())


def nonfinite_kind(array):
    """``'nan'`` or ``'inf'``: what made ``array`` fail ``all_finite`` (NaN first)."""
    return "nan" if get_array_module(array).isnan(array).any() else "inf"
