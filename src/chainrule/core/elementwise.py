"""The elementwise Functions behind Variable's methods: exp, sqrt, abs, tanh, sigmoid, relu,
clip, and the differentiable copy to another device.

They live in core so that ``x.exp()`` needs nothing above core; ``chainrule.functions``
re-exports the same classes behind its lifting wrappers (``F.exp`` builds ``Exp``).
Where the derivative is simpler in the output (exp, sqrt, tanh, sigmoid, relu), backward
reuses it; the hot ones run their backward as one fused Function with a backward of its
own, so a plain backward costs one call per op. Kinks follow PyTorch: relu'(0) = 0,
abs'(0) = 0, clip passes the gradient at its bounds.
"""


from chainrule import backend_threads
from chainrule.backend import device_of, get_array_module, scratch, to_device, with_constant
from chainrule.core.function import Function, records_backward
from chainrule.core.ops import plus, times


class Exp(Function):
    """y = eˣ;  dy/dx = y"""

    saves_inputs = False  # backward reads the output alone

    def forward(self, x):
        return get_array_module(x).exp(x)

    def backward(self, gy):
        return gy * self.outputs[0]()

    def jvp(self, t):
        return t * self.outputs[0]()


class Sqrt(Function):
    """y = √x;  dy/dx = 1 / (2y)"""

    saves_inputs = False  # backward reads the output alone

    def forward(self, x):
        return get_array_module(x).sqrt(x)

    def backward(self, gy):
        y = self.outputs[0]()
        return gy / (y + y)

    def jvp(self, t):
        y = self.outputs[0]()
        return t / (y + y)


class Abs(Function):
    """y = |x|;  dy/dx = sign x, with abs'(0) = 0 and abs'(NaN) = 0 as in PyTorch"""

    keeps_outputs = False

    def forward(self, x):
        return get_array_module(x).abs(x)

    def backward(self, gy):
        (x,) = self.inputs
        xp = get_array_module(x._data)
        return gy * xp.nan_to_num(xp.sign(x._data))  # sign(NaN) is NaN; torch's sgn gives 0

    def jvp(self, t):
        x = self.inputs[0]._data
        xp = get_array_module(x)
        return t * xp.nan_to_num(xp.sign(x))


class Tanh(Function):
    """y = tanh x;  dy/dx = 1 - y²  (backward is one fused TanhGrad call)"""

    saves_inputs = False  # backward reads the output alone

    def forward(self, x):
        return get_array_module(x).tanh(x)

    def backward(self, gy):
        y = self.outputs[0]()
        if not records_backward():  # on the arrays (see records_backward)
            return gy._derived(_tanh_grad(gy._data, y._data))
        return TanhGrad()(gy, y)

    def jvp(self, t):
        return TanhGrad()(t, self.outputs[0]())


def _tanh_grad(gy, y):
    return gy * (1 - y * y)


class TanhGrad(Function):
    """gx = gy (1 - y²);  ∂gx/∂gy = 1 - y², ∂gx/∂y = -2 y gy"""

    keeps_outputs = False

    def forward(self, gy, y):
        return _tanh_grad(gy, y)

    def backward(self, ggx):
        gy, y = self.inputs
        return TanhGrad()(ggx, y), -2 * ggx * gy * y

    def jvp(self, tgy, ty):
        gy, y = self.inputs
        return plus(None if tgy is None else TanhGrad()(tgy, y), times(ty, -2 * gy * y))


class Sigmoid(Function):
    """y = 1 / (1 + e⁻ˣ);  dy/dx = y (1 - y)"""

    saves_inputs = False  # backward reads the output alone

    def forward(self, x):
        # tanh form: never overflows for large |x|
        return get_array_module(x).tanh(x * 0.5) * 0.5 + 0.5

    def backward(self, gy):
        return SigmoidGrad()(gy, self.outputs[0]())

    def jvp(self, t):
        return SigmoidGrad()(t, self.outputs[0]())


class SigmoidGrad(Function):
    """gx = gy y (1 - y);  ∂gx/∂gy = y (1 - y), ∂gx/∂y = gy (1 - 2y)"""

    keeps_outputs = False

    def forward(self, gy, y):
        return gy * y * (1 - y)

    def backward(self, ggx):
        gy, y = self.inputs
        return SigmoidGrad()(ggx, y), ggx * gy * (1 - 2 * y)

    def jvp(self, tgy, ty):
        gy, y = self.inputs
        return plus(None if tgy is None else SigmoidGrad()(tgy, y), times(ty, gy * (1 - 2 * y)))


class ReLU(Function):
    """y = max(x, 0);  dy/dx = 0 where x ≤ 0, else 1 (relu'(0) = 0, relu'(NaN) = 1, as PyTorch)"""

    saves_inputs = False  # backward reads the output alone

    def forward(self, x):
        xp = get_array_module(x)
        if x.dtype.kind != "f":
            return xp.maximum(x, 0)
        # split over the BLAS threads when large (backend_threads; bench's CNN: 1.6 and 0.8 MB).
        # A scalar 0, not with_constant's block: relu's input comes out of a GEMM, not hot
        # in this core's cache, and the block's extra reads cost more than the scalar loop
        # (bench CNN's relu in situ: 246 µs against 281, medians of 180 interleaved calls)
        return backend_threads.ufunc(xp.maximum, x, 0, out=scratch.result_like("relu", x))

    def backward(self, gy):
        return ReluGrad()(gy, self.outputs[0]())

    def jvp(self, t):
        return ReluGrad()(t, self.outputs[0]())


class ReluGrad(Function):
    """gx = gy · [y ≠ 0];  ∂gx/∂gy = [y ≠ 0], ∂gx/∂y = 0 (piecewise constant)

    y = relu(x) is 0, positive or NaN, so [y ≠ 0] is torch's threshold_backward rule
    [not x ≤ 0] in one comparison: a NaN passes its gradient through, as in PyTorch.
    """

    keeps_outputs = False

    def forward(self, gy, y):
        if gy.dtype.kind != "f" or gy.shape != y.shape:
            return gy * (y != 0)
        mask = scratch.take_like("relu mask", y, bool)
        gx = scratch.result_like("relu grad", gy)
        backend_threads.split(_relu_grad_into, gx, gy, y, mask)  # no temporary: no page faults
        scratch.give("relu mask", mask)
        return gx

    def backward(self, ggx):
        return ReluGrad()(ggx, self.inputs[1]), None

    def jvp(self, tgy, ty):
        return None if tgy is None else ReluGrad()(tgy, self.inputs[1])


def _relu_grad_into(out, gy, y, mask):
    xp = get_array_module(gy)
    xp.not_equal(y, 0, out=mask)
    xp.multiply(gy, mask, out=out)


class Clip(Function):
    """y = min(max(x, x_min), x_max);  dy/dx = 1 where x_min ≤ x ≤ x_max (bounds included, as
    torch.clamp), else 0.  Either bound may be None."""

    keeps_outputs = False

    def __init__(self, x_min, x_max):
        if x_min is not None and x_max is not None and x_min > x_max:
            raise ValueError(f"clip: x_min {x_min} is greater than x_max {x_max}")
        self.x_min = x_min
        self.x_max = x_max

    def forward(self, x):
        xp = get_array_module(x)
        # One bound: NumPy's clip is then maximum or minimum with a scalar, unvectorised;
        # with_constant's clip against ±inf is 3x faster for a nonzero bound. A zero bound
        # would take its block of zeros, which loses on data out of cache (a GEMM's output,
        # as relu's): that stays the scalar call.
        one_sided = (self.x_min is None) != (self.x_max is None)
        bound = self.x_max if self.x_min is None else self.x_min
        if one_sided and type(bound) in (int, float) and bound != 0:
            return with_constant(xp.minimum if self.x_min is None else xp.maximum, x, bound)
        return xp.clip(x, self.x_min, self.x_max)

    def backward(self, gy):
        return gy * self.inside()

    def jvp(self, t):
        return t * self.inside()

    def inside(self):
        """1 where x_min ≤ x ≤ x_max, else 0, in x's dtype: the slope."""
        x = self.inputs[0]._data
        inside = get_array_module(x).ones(x.shape, dtype=bool)
        if self.x_min is not None:
            inside &= x >= self.x_min
        if self.x_max is not None:
            inside &= x <= self.x_max
        return inside.astype(x.dtype)


# ---- a copy on another device (another dtype is ops.cast) ---------------------
class ToDevice(Function):
    """y = x copied to ``device`` ('cpu', 'cuda', 'cuda:N');  gx = gy copied back"""

    keeps_outputs = False

    def __init__(self, device):
        self.device = device

    def forward(self, x):
        self.source = device_of(x)
        return to_device(x, self.device)

    def backward(self, gy):
        return ToDevice(self.source)(gy)

    def jvp(self, t):
        return ToDevice(self.device)(t)
