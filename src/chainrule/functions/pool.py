"""Pooling: max_pool2d and avg_pool2d over the strided window view of conv_columns.py.

Both loop over the kh·kw kernel offsets, each step one vectorised operation on
a whole (N, C, OH, OW) plane of the window view; never over pixels. Max-pool
keeps only the index of each window's maximum (int8 when kh·kw < 128), not a
mask of the input, and its gradient is a scatter to that index. Its argmax is
a tournament of pairwise comparisons: NumPy's ``argmax`` over a short last
axis costs one inner call per window, several times slower for 2×2 windows.
Ties go to the first maximum, as in PyTorch.
"""

from chainrule import backend_threads
from chainrule.backend import get_array_module, scratch
from chainrule.core import Function, as_variable
from chainrule.core.aliases import either
from chainrule.functions.conv_columns import (
    as_pair,
    col2im_array,
    conv_geometry,
    copy_into,
    is_channels_major,
    window_view,
)


class _Pool(Function):
    """Window geometry shared by the pooling Functions and their gradients."""

    keeps_outputs = False

    def __init__(self, kernel, stride, pad):
        self.kernel = kernel
        self.stride = stride
        self.pad = pad

    def check(self, x):
        """The output size; pads beyond half a kernel are refused, as in PyTorch."""
        if any(2 * p > k for p, k in zip(self.pad, self.kernel)):
            raise ValueError(f"pad {self.pad} must be at most half of kernel {self.kernel}")
        return conv_geometry(x.shape, self.kernel, self.stride, self.pad)

    def offsets(self):
        kh, kw = self.kernel
        return [(u, v) for u in range(kh) for v in range(kw)]


class MaxPool2d(_Pool):
    """y[n, c, i, j] = max_{u,v} xpad[n, c, i·sh + u, j·sw + v]  (padding never wins)

    x (N, C, H, W) -> y (N, C, OH, OW);  gx routes gy to each window's argmax, as PyTorch:
    the first maximum, the last NaN of a window holding NaN, the first real element of a
    window that is all -inf.
    """

    keeps_outputs = False

    name = "max_pool2d"

    def forward(self, x):
        self.check(x)
        self.shape = x.shape
        self.channels_major = is_channels_major(x)
        xp = get_array_module(x)
        view = window_view(x, self.kernel, self.stride, self.pad, fill=-float("inf"))
        n, c, kh, kw, oh, ow = view.shape
        shape, taps = (n, c, oh, ow), kh * kw
        # The planes, the tournament's work and the argmax in x's layout (channels-major after
        # a convolution, as relu keeps it): the window copies, the tournament and the
        # gradient's routing then run with their operands in one order. y in C order, so a
        # flatten after the last pool needs no copy.
        planes = self._like_x(lambda s: scratch.take(PLANES, xp, s, x.dtype), (taps,) + shape)
        work = self._like_x(lambda s: scratch.take(WORK, xp, s, xp.int8),
                            (max(taps // 2, 1),) + shape)
        y = scratch.result("max_pool2d", xp, shape, x.dtype)
        self.index = self._like_x(lambda s: xp.empty(s, xp.int8 if taps < 128 else xp.int32),
                                  shape)
        windows = [view[:, :, u, v] for u, v in self.offsets()]
        # Split over the batch (backend_threads): each half's copy and tournament on its own
        # core, in its own cache.
        backend_threads.split(_max_pool_into, y, self.index, taps, *windows, *planes, *work,
                              nbytes=planes.nbytes)
        self._settle_edge_windows(windows, y)
        scratch.give(PLANES, planes)
        scratch.give(WORK, work)
        return y

    def _like_x(self, make, shape):
        """``make(storage)`` seen as ``shape`` (..., N, C, OH, OW); stored (..., C, N, OH, OW)
        when x is channels-major."""
        if not self.channels_major:
            return make(shape)
        lead = len(shape) - 4
        storage = shape[:lead] + (shape[lead + 1], shape[lead]) + shape[lead + 2:]
        axes = tuple(range(lead)) + (lead + 1, lead) + (lead + 2, lead + 3)
        return make(storage).transpose(axes)

    def _settle_edge_windows(self, windows, y):
        """Give NaN and all -inf windows the argmax PyTorch gives them.

        The tournament sends a NaN window to its first maximum and an all -inf window to
        its first element, which may be padding; PyTorch picks the last NaN, and never
        padding. Both are rare, so they cost one sum of y when absent.
        """
        xp = get_array_module(y)
        if xp.isnan(y.sum()):  # any NaN makes the sum NaN (so may inf - inf: then look closer)
            nan = xp.isnan(y)
            for t, window in enumerate(windows):
                self.index[nan & xp.isnan(window)] = t
        if any(self.pad):
            lost = y == -float("inf")
            if lost.any():
                self.index[lost] = xp.broadcast_to(self._first_real(xp), y.shape)[lost]

    def _first_real(self, xp):
        """(OH, OW): the offset t = u·kw + v of each window's first element that is not padding."""
        kw, (sh, sw), (ph, pw) = self.kernel[1], self.stride, self.pad
        oh, ow = self.index.shape[2:]
        u = xp.maximum(ph - sh * xp.arange(oh), 0)
        v = xp.maximum(pw - sw * xp.arange(ow), 0)
        return (u[:, None] * kw + v).astype(self.index.dtype)

    def positions(self, xp, strides):
        """Flat positions (N, C, OH, OW) of each window's argmax in an array shaped like x.

        ``strides`` are that array's element strides; the argmax is never padding, so every
        position lies inside it.
        """
        (sh, sw), (ph, pw) = self.stride, self.pad
        n, c, oh, ow = self.index.shape
        s_n, s_c, s_h, s_w = strides
        offsets = xp.array([u * s_h + v * s_w for u, v in self.offsets()])
        rows = (xp.arange(oh) * sh - ph) * s_h
        cols = (xp.arange(ow) * sw - pw) * s_w
        corner = (xp.arange(n) * s_n)[:, None] + xp.arange(c) * s_c
        window = (rows[:, None] + cols) + corner[:, :, None, None]
        window += offsets.take(self.index)
        return window

    def backward(self, gy):
        return MaxPool2dGrad(self)(gy)

    def jvp(self, tx):
        return MaxPool2dGather(self)(tx)  # each window's tangent at its argmax


# Scratch tags (see backend.Scratch): max-pool's window planes, its tournament's work arrays
# (a comparison's mask and the indices of the pairs not yet merged), its gradient's mask
# and its copy of an upstream gradient that came in another layout.
PLANES, WORK, MASK, SAME = "pool planes", "pool work", "pool mask", "pool gy copy"


def _max_pool_into(y, index, taps, *arrays):
    """y and index (N, C, OH, OW): each window's max and first argmax t = u·kw + v.

    ``arrays`` are the ``taps`` windows (strided views of x, one per offset), as many
    planes and ``taps // 2`` (at least 1) int8 work arrays, all of y's shape. The windows are
    first copied into the contiguous planes: after that one strided copy every operation runs
    over long contiguous rows, where NumPy is several times faster (bench CNN's first pool:
    the tournament on the strided views took 0.71 ms, the copy and the tournament on the
    planes 0.49). Elementwise over (N, C, OH, OW), so ``backend_threads.split`` may cut it.
    """
    windows, planes, work = arrays[:taps], arrays[taps:2 * taps], arrays[2 * taps:]
    for plane, window in zip(planes, windows):
        plane[...] = window
    _max_and_argmax(planes, y, index, work[0].view(bool), list(work[1:]))


def _max_and_argmax(planes, y, index, later, spare):
    """Max and first argmax over the planes into ``y`` and ``index``, by a pairwise tournament.

    The earlier half always sits on the left and wins ties, so the first maximum is kept.
    Indices are blended arithmetically (ia + [b > a] (ib - ia)): ``where`` is far slower.
    Every step writes into the planes (the winner's place), ``later`` (a bool mask) or the
    ``spare`` int8 arrays (one per pair of the first round but the first, which is
    ``index``): no temporary, so no page faults from freshly mapped memory (bench's CNN
    faulted 360 times a step in its two pools on the tournament's temporaries).
    """
    xp = get_array_module(y)
    if len(planes) == 1:
        y[...] = planes[0]
        index.fill(0)
        return
    level = [(plane, t) for t, plane in enumerate(planes)]  # an index: an int or an array
    while len(level) > 1:
        merged = []
        for (a, ia), (b, ib) in zip(level[0::2], level[1::2]):
            xp.greater(b, a, out=later)
            xp.maximum(a, b, out=y if len(level) == 2 else a)
            if isinstance(ia, int):  # the first round: two constants
                blended = index if ia == 0 else spare.pop()
                xp.multiply(later, index.dtype.type(ib - ia), out=blended)
                if ia:
                    blended += ia
                ia = blended
            elif isinstance(ib, int):  # a plane left over from an odd round (rare)
                xp.copyto(ia, ib, where=later)
            else:  # ia += later · (ib - ia), in ib's place (ib is not needed any more)
                xp.subtract(ib, ia, out=ib)
                xp.multiply(ib, later, out=ib)
                ia += ib
            merged.append((a, ia))
        level = merged + level[len(merged) * 2:]


class MaxPool2dGrad(Function):
    """gx[n, c, i·sh + u - ph, j·sw + v - pw] += gy[n, c, i, j] at each window's argmax (u, v)

    A scatter by index, so gy lands only on the argmax: an inf in gy never meets the zeros
    of the other pixels (a mask product would make them 0·inf = NaN). Linear in gy; its
    backward gathers: ggy = ggx at the argmax (MaxPool2dGather).
    """

    keeps_outputs = False

    def __init__(self, pool):
        self.pool = pool

    def forward(self, gy):
        pool = self.pool
        xp = get_array_module(gy)
        n, c, h, w = pool.shape
        shape = (c, n, h, w) if pool.channels_major else (n, c, h, w)
        gx = scratch.result("max_pool2d grad", xp, shape, gy.dtype)
        if pool.channels_major:  # stored as conv2d's output was
            gx = gx.transpose(1, 0, 2, 3)
        (sh, sw), (oh, ow) = pool.stride, gy.shape[2:]
        tiles = (sh, sw) == tuple(pool.kernel) and (oh * sh, ow * sw) == (h, w)
        if tiles and not any(pool.pad) and xp.isfinite(gy.sum()):
            # The windows tile x exactly (the common 2×2 pool of an even size): every pixel
            # is in one window, so gy times "this offset is the argmax" writes each pixel
            # once, no fill. Only for finite gy: inf · 0 would be NaN where PyTorch has 0
            # (the sum is a cheap, conservative check). bench's CNN, 1 thread: 0.45 against
            # 1.8 ms on its first pool for the fill and masked copies below. gx as
            # (N, C, OH, sh, OW, sw) holds offset (u, v) of every window at [..., u, :, v],
            # so backend_threads can split the whole routing as one elementwise call.
            tiled = gx.reshape(n, c, oh, sh, ow, sw)
            spread = (n, c, oh, 1, ow, 1)
            mask = scratch.take_like(MASK, pool.index, xp.bool_)  # no temporary, no faults
            copied = None
            if gy.strides != _strides_like(pool.index, gy.itemsize):
                # gy in another layout than the argmax (a flatten's gradient is C order): one
                # copy into it, as the routing with mixed layouts took 0.31-0.44 ms against
                # 0.18-0.24 on bench CNN's second pool (one thread).
                copied = scratch.take_like(SAME, pool.index, gy.dtype)
                gy = backend_threads.split(copy_into, copied, gy)
            backend_threads.split(_route_into, tiled, gy.reshape(spread),
                                  pool.index.reshape(spread), mask.reshape(spread))
            for tag, array in ((MASK, mask), (SAME, copied)):
                if array is not None:
                    scratch.give(tag, array)
            return gx
        gx.fill(0)
        if not any(pool.pad) and sh >= pool.kernel[0] and sw >= pool.kernel[1]:
            # Windows neither overlap nor pad: each pixel takes gy from its own window or
            # stays 0, so a masked copy per offset does it, no index arrays (564 page faults
            # and ~1 ms less per step in bench's CNN than the scatter).
            for t, (u, v) in enumerate(pool.offsets()):
                target = gx[:, :, u:u + sh * (oh - 1) + 1:sh, v:v + sw * (ow - 1) + 1:sw]
                xp.copyto(target, gy, where=pool.index == t)
            return gx
        flat = gx.ravel(order="K")  # a view in memory order: gx is one block
        at = pool.positions(xp, [s // gx.itemsize for s in gx.strides])
        if pool.stride[0] < pool.kernel[0] or pool.stride[1] < pool.kernel[1]:
            xp.add.at(flat, at, gy)  # overlapping windows may share an argmax: add
        else:
            flat[at] = gy
        return gx

    def backward(self, ggx):
        return MaxPool2dGather(self.pool)(ggx)

    def jvp(self, tgy):
        return MaxPool2dGrad(self.pool)(tgy)


def _strides_like(array, itemsize):
    """The strides ``array`` would have with items of ``itemsize`` bytes (its layout)."""
    return tuple(s // array.itemsize * itemsize for s in array.strides)


def _route_into(tiled, gy, index, mask):
    """tiled[n, c, i, u, j, v] = gy[n, c, i, j] where (u, v) is the argmax of window (i, j),
    else 0: gx of a max-pool whose windows tile x. gy, index and ``mask`` (a bool work
    array) come broadcast to its shape."""
    xp = get_array_module(tiled)
    kh, kw = tiled.shape[3], tiled.shape[5]
    gy, index, mask = (a[:, :, :, 0, :, 0] for a in (gy, index, mask))
    for u in range(kh):
        for v in range(kw):
            xp.equal(index, u * kw + v, out=mask)
            xp.multiply(gy, mask, out=tiled[:, :, :, u, :, v])


class MaxPool2dGather(Function):
    """y[n, c, i, j] = x[n, c, i·sh + u - ph, j·sw + v - pw] at the argmax (u, v) of a max-pool

    The adjoint of MaxPool2dGrad: gx = MaxPool2dGrad(gy).
    """

    keeps_outputs = False

    def __init__(self, pool):
        self.pool = pool

    def forward(self, x):
        xp = get_array_module(x)
        n, c, h, w = x.shape
        at = self.pool.positions(xp, (c * h * w, h * w, w, 1))
        return xp.ascontiguousarray(x).reshape(-1)[at]

    def backward(self, gy):
        return MaxPool2dGrad(self.pool)(gy)

    def jvp(self, tx):
        return MaxPool2dGather(self.pool)(tx)


class AvgPool2d(_Pool):
    """y[n, c, i, j] = Σ_{u,v} xpad[n, c, i·sh + u, j·sw + v] / (kh·kw)  (zeros counted)

    x (N, C, H, W) -> y (N, C, OH, OW);  gx = AvgPool2dGrad(gy) spreads gy / (kh·kw).
    """

    keeps_outputs = False

    name = "avg_pool2d"

    def forward(self, x):
        self.check(x)
        view = window_view(x, self.kernel, self.stride, self.pad)
        offsets = self.offsets()
        y = view[:, :, 0, 0].copy()
        for u, v in offsets[1:]:
            y += view[:, :, u, v]
        y *= 1.0 / len(offsets)  # a Python float keeps float32 float32
        return y

    def backward(self, gy):
        x = self.inputs[0]
        return AvgPool2dGrad(self, x.shape[2:], is_channels_major(x.data))(gy)

    def jvp(self, tx):
        return AvgPool2d(self.kernel, self.stride, self.pad)(tx)


class AvgPool2dGrad(Function):
    """gx[n, c, i·sh + u - ph, j·sw + v - pw] += gy[n, c, i, j] / (kh·kw) for every (u, v)

    The adjoint of avg_pool2d, so its backward is avg_pool2d itself.
    """

    keeps_outputs = False

    def __init__(self, pool, size, channels_major):
        self.pool = pool
        self.size = size
        self.channels_major = channels_major

    def forward(self, gy):
        pool = self.pool
        share = gy * (1.0 / (pool.kernel[0] * pool.kernel[1]))
        col = get_array_module(gy).broadcast_to(
            share[:, :, None, None], gy.shape[:2] + pool.kernel + gy.shape[2:]
        )
        return col2im_array(col, self.size, pool.stride, pool.pad, self.channels_major)

    def backward(self, ggx):
        pool = self.pool
        return AvgPool2d(pool.kernel, pool.stride, pool.pad)(ggx)

    def jvp(self, tgy):
        return AvgPool2dGrad(self.pool, self.size, self.channels_major)(tgy)


def _geometry(op, kernel_size, stride, pad):
    kernel = as_pair(kernel_size, f"{op}: kernel_size")
    stride = kernel if stride is None else as_pair(stride, f"{op}: stride")
    return kernel, stride, as_pair(pad, f"{op}: pad")


def max_pool2d(x, kernel_size, stride=None, pad=0, *, padding=None):
    """Max over each kh×kw window of x (N, C, H, W); ``stride`` None means ``kernel_size``.

    ``kernel_size``, ``stride``, ``pad`` (PyTorch's ``padding``) are ints or pairs; padding
    never wins (it is -inf)::

        y = max_pool2d(x, 2)   # (N, C, 28, 28) -> (N, C, 14, 14)
    """
    pad = either("max_pool2d", pad=pad, padding=padding, default=0)
    return MaxPool2d(*_geometry("max_pool2d", kernel_size, stride, pad))(as_variable(x))


def avg_pool2d(x, kernel_size, stride=None, pad=0, *, padding=None):
    """Mean over each kh×kw window of x (N, C, H, W), zero padding counted (PyTorch's default).

    ``pad`` is PyTorch's ``padding``.
    """
    pad = either("avg_pool2d", pad=pad, padding=padding, default=0)
    return AvgPool2d(*_geometry("avg_pool2d", kernel_size, stride, pad))(as_variable(x))
