"""A stand-in for CuPy on the CPU, so chainrule.distributed's GPU code runs where no GPU is.

It checks the code that surrounds the GPU, not the GPU: that device arrays are staged
through host memory before MPI sees them, that results come back as device arrays, and
that the NCCL calls get the right pointers, counts, dtypes, operations and roots. Nothing
here runs on a GPU or proves that CuPy or NCCL would accept these calls; the real thing is
``test_cupy_gradients_average_on_the_gpus_as_one_cpu_process``, run where GPUs exist.

``install(nccl=True)`` puts ``cupy``, ``cupy.cuda`` and (or not) ``cupy.cuda.nccl`` into
``sys.modules``. A "device array" is a NumPy subclass, so chainrule's NumPy code runs on it
unchanged; ``guard(comm)`` wraps the MPI communicator so that handing one to MPI raises.
The fake NCCL communicator reads the buffers at the raw pointers it is given and reduces
them with MPI, as NCCL would reduce them across the GPUs.
"""

import ctypes
import sys
import types

import numpy as np


class ndarray(np.ndarray):  # noqa: N801 - cupy's name
    """A "device" array: NumPy memory labelled as CuPy's."""

    @property
    def data(self):  # cupy.ndarray.data is a MemoryPointer with .ptr, the device address
        return types.SimpleNamespace(ptr=self.__array_interface__["data"][0])

    def get(self):
        """The array copied to the host: a plain NumPy array."""
        return np.array(self, copy=True)


def asarray(a, dtype=None):
    """To the "device": a copy, unless ``a`` already lives there."""
    if isinstance(a, ndarray) and (dtype is None or a.dtype == dtype):
        return a
    return np.array(a, dtype=dtype, copy=True).view(ndarray)


def array(a, dtype=None, copy=True, order="K"):
    return np.array(a, dtype=dtype, copy=copy, order=order).view(ndarray)


def asnumpy(a):
    return a.get() if isinstance(a, ndarray) else np.asarray(a)


def empty(shape, dtype=float):
    return np.empty(shape, dtype).view(ndarray)


def full(shape, value, dtype=None):
    return np.full(shape, value, dtype).view(ndarray)


def __getattr__(name):  # the rest of the array API (divide, float32, ...) is NumPy's
    return getattr(np, name)


class _Event:
    def synchronize(self):
        pass


class _Stream:
    ptr = 0

    def synchronize(self):
        pass

    def record(self):
        return _Event()


def get_current_stream():
    return _Stream()


# NCCL's codes: dtypes and operations
_NCCL_DTYPES = {"NCCL_INT32": np.int32, "NCCL_INT64": np.int64, "NCCL_FLOAT16": np.float16,
                "NCCL_FLOAT32": np.float32, "NCCL_FLOAT64": np.float64}
_NCCL_OPS = {"NCCL_SUM": "sum", "NCCL_MAX": "max"}


class NcclCommunicator:
    """NCCL's communicator over the MPI world: every rank must bring the same unique id."""

    calls = []  # (collective, count, dtype, op or root): what the tests read back

    def __init__(self, size, uid, rank):
        from mpi4py import MPI

        self.comm, self.MPI = MPI.COMM_WORLD, MPI
        if (size, rank) != (self.comm.size, self.comm.rank):
            raise ValueError(f"NcclCommunicator: rank {rank} of {size} in an MPI world where "
                             f"this is rank {self.comm.rank} of {self.comm.size}")
        if len(set(self.comm.allgather(uid))) != 1:
            raise ValueError("NcclCommunicator: the ranks brought different unique ids")

    def allReduce(self, send, recv, count, dtype, op, stream):  # noqa: N802 - NCCL's name
        self.calls.append(("allReduce", count, dtype, _NCCL_OPS[op]))
        source, target = _at(send, count, dtype), _at(recv, count, dtype)
        mpi_op = {"sum": self.MPI.SUM, "max": self.MPI.MAX}[_NCCL_OPS[op]]
        if send == recv:
            self.comm.Allreduce(self.MPI.IN_PLACE, target, op=mpi_op)
        else:
            self.comm.Allreduce(source, target, op=mpi_op)

    def bcast(self, buffer, count, dtype, root, stream):
        self.calls.append(("bcast", count, dtype, root))
        self.comm.Bcast(_at(buffer, count, dtype), root=root)


def _at(pointer, count, code):
    """The ``count`` elements of NCCL dtype ``code`` at ``pointer``, as a NumPy array."""
    dtype = np.dtype(_NCCL_DTYPES[code])
    raw = (ctypes.c_char * (count * dtype.itemsize)).from_address(pointer)
    return np.frombuffer(raw, dtype=dtype)


def _nccl_module():
    nccl = types.ModuleType("cupy.cuda.nccl")
    for name in [*_NCCL_DTYPES, *_NCCL_OPS]:  # NCCL's codes are numbers; names read better
        setattr(nccl, name, name)
    nccl.available = True
    nccl.NcclCommunicator = NcclCommunicator
    nccl.get_unique_id = lambda: tuple(np.random.default_rng().integers(0, 256, 128).tolist())
    return nccl


def install(nccl=True):
    """Put the fake into ``sys.modules`` as ``cupy`` (with or without ``cupy.cuda.nccl``)."""
    cupy = sys.modules[__name__]
    cuda = types.ModuleType("cupy.cuda")
    cuda.get_current_stream = get_current_stream
    sys.modules["cupy"], sys.modules["cupy.cuda"] = cupy, cuda
    cupy.cuda = cuda
    if nccl:  # without, ``from cupy.cuda import nccl`` raises ImportError (not a package)
        cuda.nccl = sys.modules["cupy.cuda.nccl"] = _nccl_module()
    NcclCommunicator.calls.clear()
    return cupy


def uninstall():
    for name in ("cupy", "cupy.cuda", "cupy.cuda.nccl"):
        sys.modules.pop(name, None)


class guard:  # noqa: N801 - used as a function
    """``comm`` that refuses "device" arrays: MPI reads host memory only."""

    def __init__(self, comm):
        self._comm = comm

    def __getattr__(self, name):
        method = getattr(self._comm, name)
        if not callable(method):
            return method

        def checked(*args, **kwargs):
            for arg in [*args, *kwargs.values()]:
                for part in arg if isinstance(arg, (list, tuple)) else [arg]:
                    if isinstance(part, ndarray):
                        raise AssertionError(f"MPI {name} was handed a device array")
            return method(*args, **kwargs)

        return checked
