"""Array backends: NumPy always, CuPy when the ``[gpu]`` extra is installed.

This is the only module that imports CuPy, and only when asked. Forward and
backward code calls ``get_array_module(x)`` and uses what it returns (``xp``),
so the same code runs on either kind of array.
"""

import sys
import threading

import numpy as np

GPU_EXTRA_HINT = 'pip install "chainrule[gpu]" on a machine with a CUDA GPU'


def get_array_module(x):
    """``numpy`` or ``cupy``: the module that owns array ``x``."""
    if type(x) is np.ndarray:
        return np
    cp = sys.modules.get("cupy")  # a CuPy array exists only if CuPy was imported
    if cp is not None and isinstance(x, cp.ndarray):
        return cp
    return np


def import_cupy():
    """The ``cupy`` module, or None when the ``[gpu]`` extra is missing."""
    try:
        import cupy
    except ImportError:
        return None
    return cupy


def gpu_available():
    """True when CuPy imports and sees a CUDA device."""
    cp = import_cupy()
    return bool(cp is not None and cp.cuda.is_available())


def parse_device(device):
    """Normalise ``'cpu'``, ``'cuda'``, ``'cuda:1'`` to ``(kind, index)``."""
    kind, _, index = str(device).lower().partition(":")
    if kind not in ("cpu", "cuda") or (index and not index.isdigit()):
        raise ValueError(f"unknown device {device!r}: use 'cpu', 'cuda' or 'cuda:N'")
    return kind, int(index or 0)


def device_of(array):
    """``'cpu'`` or ``'cuda:N'``: where ``array`` lives."""
    if get_array_module(array) is np:
        return "cpu"
    return f"cuda:{array.device.id}"


def to_device(array, device):
    """Copy ``array`` to ``device`` (no copy when it already lives there)."""
    kind, index = parse_device(device)
    if kind == "cpu":
        if get_array_module(array) is np:
            return np.asarray(array)
        return array.get()
    if not gpu_available():
        raise RuntimeError(f"device {device!r} is not available: {GPU_EXTRA_HINT}")
    cp = import_cupy()
    with cp.cuda.Device(index):
        return cp.asarray(array)


def _is_basic_index(index):
    """True for ints, slices, Ellipsis and None: indexing that never repeats an element."""
    parts = index if isinstance(index, tuple) else (index,)
    return all(p is None or p is Ellipsis or isinstance(p, (int, slice)) for p in parts)


def scatter_add(array, index, values):
    """``array[index] += values`` in place, adding every repeat of a fancy index."""
    if _is_basic_index(index):
        array[index] += values
        return
    xp = get_array_module(array)
    if xp is np and type(index) is np.ndarray and index.dtype.kind in "iu" and index.size:
        _add_rows(array, index, values)
    elif xp is np:
        np.add.at(array, index, values)
    else:
        import cupyx

        cupyx.scatter_add(array, index, values)


def _add_rows(array, rows, values):
    """``array[rows] += values`` for integer ``rows`` along axis 0, repeats added: the rows
    sorted and each run summed at once (np.add.reduceat). An embedding's gradient is this:
    1120 ids into a (64, 64) table take 0.18 ms, against 0.64 ms with np.add.at."""
    values = np.broadcast_to(values, rows.shape + array.shape[1:])
    values = values.reshape((rows.size,) + array.shape[1:])
    rows = rows.ravel() % len(array)  # -1 and n - 1 are one row
    order = np.argsort(rows, kind="stable")
    rows = rows[order]
    starts = np.flatnonzero(np.r_[True, rows[1:] != rows[:-1]])
    values = values[order]
    if values[0].size < 256 or len(starts) * 8 > len(rows):
        array[rows[starts]] += np.add.reduceat(values, starts, axis=0)
        return
    # Wide rows in long runs: one sum per run. reduceat's time grows faster than the rows'
    # width: 1120 rows of 512 into 64 runs take it 1.16 ms, these sums 0.17 ms (64 wide: 0.05
    # against 0.11, so narrow rows or short runs stay with reduceat).
    sums = np.empty((len(starts),) + values.shape[1:], values.dtype)
    for k, (start, end) in enumerate(zip(starts.tolist(), starts[1:].tolist() + [len(rows)])):
        np.add.reduce(values[start:end], axis=0, out=sums[k])
    array[rows[starts]] += sums


def matrix_sums(matrix, axis):
    """A 2-D array's sums along ``axis`` (0: each column's, 1: each row's) as one
    matrix-vector product with ones: BLAS, about twice NumPy's ``sum`` here (lstm_step's
    (1120, 512) column sums 50 against 93 µs, its (1120, 64) row sums 7 against 34)."""
    xp = get_array_module(matrix)
    if axis == 0:
        return xp.ones(matrix.shape[0], matrix.dtype) @ matrix
    return matrix @ xp.ones(matrix.shape[1], matrix.dtype)


_CONSTANT_BLOCKS = {}  # (dtype, the constant's bytes) -> a read-only block of it (with_constant)
CONSTANT_BLOCK = 1 << 16  # elements: 256 KiB of float32, about a core's L2 with x and out


def with_constant(f, x, c, out=None):
    """``f(x, c, out=out)`` for NumPy's ``maximum`` or ``minimum`` and a Python number ``c``,
    with ``c`` given as a block of its value instead of a scalar.

    NumPy 2.4 runs these two with a scalar operand in an unvectorised loop: on bench CNN's
    (32, 16, 28, 28) float32, still in cache, ``maximum(x, 0)`` took 148 µs and 68 against a
    block of zeros, bit for bit the same (NaN, -0.0 and inf included). It pays on data an op
    has just computed; on data out of cache the block's extra reads cost more than the scalar
    loop (181 against 157 µs), so relu, whose input comes out of a GEMM, keeps the scalar
    call (in situ in bench's CNN: 246 µs scalar, 281 with the block). ``x`` and ``out``
    must share one layout in one block of memory, else it is the plain call. Without
    ``out`` the result is a new array laid out as ``x`` when x is a floating NumPy array
    (its dtype is then the result's), else ``f(x, c)``.

    A nonzero ``c`` needs no block: ``clip`` with ±inf as its other bound runs NumPy's
    vectorised two-sided loop, the same bytes as maximum or minimum (clip differs from them
    only where x and c are zeros of opposite signs): 47-70 µs on the array above in cache;
    straight out of a GEMM about the scalar call's time (175-298 against 178-279 µs over
    three runs), where the block loses (342-406).
    """
    if out is None:
        if type(x) is not np.ndarray or x.dtype.kind != "f" or type(c) not in (int, float):
            return f(x, c)
        out = np.empty_like(x)
    if (type(x) is np.ndarray and x.dtype.kind == "f" and type(c) in (int, float)
            and f in (np.maximum, np.minimum) and c == c and x.dtype.type(c) != 0):
        return np.clip(x, *((c, np.inf) if f is np.maximum else (-np.inf, c)), out=out)
    flat_x, flat_out = _flat(x), _flat(out)
    if flat_x is None or flat_out is None or x.strides != out.strides or c != c:
        return f(x, c, out=out)
    value = x.dtype.type(c)
    key = (x.dtype, value.tobytes())
    block = _CONSTANT_BLOCKS.get(key)
    if block is None:
        block = _CONSTANT_BLOCKS[key] = np.full(CONSTANT_BLOCK, value)
        block.flags.writeable = False
    n = flat_x.size
    for lo in range(0, n, CONSTANT_BLOCK):
        hi = min(lo + CONSTANT_BLOCK, n)
        f(flat_x[lo:hi], block[:hi - lo], out=flat_out[lo:hi])
    return out


SELECT_MIN_SIZE = 1 << 13  # elements: below it NumPy's where costs about as much (where, measured)


def where(condition, a, b, out=None):
    """``xp.where(condition, a, b)``, written into ``out`` when one is given (the shape and
    dtype of the result; it may be ``a`` itself). Large NumPy arrays take a bit-select.

    NumPy's where branches on each element: with a random mask (``x > 0`` on normal data)
    it took 1.45 ms on bench CNN's (32, 16, 28, 28) float32, 0.23 ms with an all-true one.
    Here a, b and the result are seen as integers of their width, and ``((a ^ b) · c) ^ b``
    (c the condition as 0 or 1) is a's bits where c holds and b's elsewhere: about 0.2 ms
    whatever the mask, the same bytes as ``np.where`` (NaN payloads, -0.0, inf). It needs a
    boolean NumPy condition and a, b of the result's dtype (Python numbers convert to it, as
    in where); CuPy arrays, other dtypes and arrays of under ``SELECT_MIN_SIZE`` elements
    take xp.where.
    """
    views = _bit_views(condition, a, b, out)
    if views is None:
        result = _module_of(condition, a, b).where(condition, a, b)
        if out is None:
            return result
        out[...] = result
        return out
    a, b, bits, out = views
    a_zero, b_zero = _zero_bits(a), _zero_bits(b)  # x ^ 0 is x: a zero skips a pass
    diff = a if b_zero else b if a_zero else np.bitwise_xor(a, b, out=bits)
    np.multiply(diff, condition, out=bits)
    if not b_zero:
        np.bitwise_xor(bits, b, out=bits)
    return out


def _bit_views(condition, a, b, out):
    """(a, b, out as integers of their width, out) for the bit-select, out made when None;
    None where NumPy's where must do it."""
    if type(condition) is not np.ndarray or max(
            condition.size, getattr(a, "size", 1), getattr(b, "size", 1)) < SELECT_MIN_SIZE:
        return None
    if condition.dtype != np.bool_ or out is not None and type(out) is not np.ndarray:
        return None
    operands = []
    for x in (a, b):
        if type(x) is not int and type(x) is not float:  # Python numbers convert below
            if type(x) is not np.ndarray and not isinstance(x, np.generic):
                return None
            x = np.asarray(x)
            if x.dtype.kind not in "fiu":
                return None
        operands.append(x)
    dtype = np.result_type(*operands)  # Python numbers are weak, as in where
    if dtype.itemsize not in (1, 2, 4, 8):  # no 16-byte integers (longdouble)
        return None
    for i, x in enumerate(operands):
        if type(x) is int or type(x) is float:
            try:
                operands[i] = np.asarray(x, dtype)
            except OverflowError:  # an int out of its dtype's range, which where wraps
                return None
        elif x.dtype != dtype:
            return None
    a, b = operands
    shape = condition.shape
    if not a.shape == b.shape == shape:
        shape = np.broadcast_shapes(shape, a.shape, b.shape)
    if out is None:
        full = [x for x in (a, b, condition) if x.shape == shape]
        out = np.empty_like(full[0], dtype) if full else np.empty(shape, dtype)
    elif out.dtype != dtype or out.shape != shape:
        return None
    elif np.may_share_memory(out, b) or np.may_share_memory(out, condition):
        return None  # both are read again after out is written
    bits = np.dtype(f"i{dtype.itemsize}")
    return a.view(bits), b.view(bits), out.view(bits), out


def _zero_bits(x):
    """True for a 0-d integer array of all-zero bits."""
    return x.ndim == 0 and not x


def _module_of(*arrays):
    """CuPy when any of ``arrays`` is a CuPy array, else NumPy."""
    for x in arrays:
        xp = get_array_module(x)
        if xp is not np:
            return xp
    return np


def memory_order(x):
    """x's axes from the outermost in memory to the innermost (``range(ndim)`` in C order)."""
    if x.flags.c_contiguous:
        return list(range(x.ndim))
    return sorted(range(x.ndim), key=lambda i: -abs(x.strides[i]))


def _flat(x):
    """A 1-D view of NumPy array ``x`` in memory order, or None when it is not one block."""
    if type(x) is not np.ndarray:
        return None
    if x.flags.c_contiguous:
        return x.reshape(-1)
    x = x.transpose(memory_order(x))
    return x.reshape(-1) if x.flags.c_contiguous else None


class Scratch:
    """A pool of chainrule's own scratch arrays, kept from one training step for the next.

    A training step allocates the same large temporaries every time (a convolution's
    im2col matrix, its GEMM result before the bias add, a max-pool's window planes).
    With the default allocator glibc returns such freed multi-MB blocks to the OS, and the
    next step faults every page in again: 2,700 page faults per step in bench's CNN, about
    half its time. Taking them from here instead keeps the pages mapped, without a
    process-wide setting (``chainrule.app.allocator.keep_freed_memory``).

    Only code inside chainrule takes and gives back, and an array is given back only by the
    code that took it, once nothing can read it any more: no array a user holds is reused.
    Arrays are keyed by a tag naming their use (with whatever fixes their zero border, for
    buffers that keep one), their shape and their dtype. At most ``PER_KEY`` arrays wait per
    key and ``MAX_BYTES`` in all; a scratch array never given back is simply freed.
    NumPy arrays only: CuPy has a memory pool of its own.
    """

    PER_KEY = 4
    # Room for two of the largest results in use: per-sample gradients of bench's MLP are
    # 171 MB, and a caller holds one step's while the next is written (a result is kept only
    # while every kept one of its key is in use, so the pool never exceeds the peak in use).
    MAX_BYTES = 512 << 20
    # Smaller results stay plain: the check costs ~10 µs, more than malloc's bins ever do
    # there (bench's MLP, 256 KiB activations, never faults; its CNN's are 0.5-1.6 MiB).
    MIN_RESULT_BYTES = 1 << 19

    def __init__(self):
        self.free = {}  # (tag, shape, dtype) -> [arrays]
        self.bytes = 0
        self.results = {}  # (tag, shape, dtype) -> [arrays handed out by ``result``]
        self.lock = threading.Lock()

    def result(self, tag, xp, shape, dtype):
        """An array for an op's result (stale contents), reusing one that an earlier call with
        ``tag`` returned if nothing outside this pool refers to it any more.

        A result goes to the user, so it is never given back; instead the pool keeps a
        reference to each result it hands out, and reuses one only when its reference count
        shows that no Variable, view, memoryview or other object holds it (a view holds
        its base). In bench's CNN this removes most of the 2,700 page faults per step that
        the activations and gradients cost when glibc trims its heap after each step.
        """
        dtype = np.dtype(dtype)
        nbytes = dtype.itemsize
        for n in shape:
            nbytes *= n
        if xp is not np or nbytes < self.MIN_RESULT_BYTES:
            return xp.empty(shape, dtype)
        key = (tag, tuple(shape), dtype)
        with self.lock:  # the check and the hand-out are one step for every thread
            made = self.results.setdefault(key, [])
            for array in made:
                if sys.getrefcount(array) == 3:  # the list, this loop and the call: no user
                    return array
            array = np.empty(shape, dtype)
            if len(made) < self.PER_KEY and self.bytes + nbytes <= self.MAX_BYTES:
                made.append(array)
                self.bytes += nbytes
            return array

    def take(self, tag, xp, shape, dtype, zeros=False):
        """An array of ``shape``; its contents are whatever the last user of ``tag`` left,
        or zeros (with ``zeros=True``) when it is new."""
        if xp is np:
            arrays = self.free.get((tag, shape, np.dtype(dtype)))
            if arrays:
                array = arrays.pop()
                self.bytes -= array.nbytes
                return array
        return xp.zeros(shape, dtype) if zeros else xp.empty(shape, dtype)

    def give(self, tag, array):
        """Keep ``array`` (taken with ``tag``, or any view of it, and read by no one now) for
        the next ``take``: a view is kept as the array it was taken as."""
        while type(array) is np.ndarray and array.base is not None:
            array = array.base
        if type(array) is not np.ndarray or self.bytes + array.nbytes > self.MAX_BYTES:
            return
        arrays = self.free.setdefault((tag, array.shape, array.dtype), [])
        if len(arrays) < self.PER_KEY:
            arrays.append(array)
            self.bytes += array.nbytes

    def result_like(self, tag, like):
        """``result`` of ``like``'s shape and dtype, laid out in memory as ``like`` is (NumPy's
        order="K"), so a channels-major convolution output keeps its layout downstream."""
        return _laid_out_as(like, lambda shape: self.result(tag, get_array_module(like), shape,
                                                            like.dtype))

    def take_like(self, tag, like, dtype):
        """``take`` of ``like``'s shape and ``dtype``, laid out in memory as ``like`` is: an
        elementwise pass over both then runs over long rows (a bool mask in C order beside a
        channels-major relu output made relu's gradient 3x slower)."""
        return _laid_out_as(like, lambda shape: self.take(tag, get_array_module(like), shape,
                                                          dtype))

    def clear(self):
        """Forget every kept array (``chainrule.backend.scratch.clear()`` after training)."""
        with self.lock:
            self.free.clear()
            self.results.clear()
            self.bytes = 0


def _laid_out_as(like, make):
    """``make(shape)``'s array, made in ``like``'s memory order and transposed to its shape."""
    if like.flags.c_contiguous:
        return make(like.shape)
    order = memory_order(like)
    return make(tuple(like.shape[i] for i in order)).transpose(np.argsort(order))


scratch = Scratch()

