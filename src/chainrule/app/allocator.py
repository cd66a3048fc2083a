"""A process-wide allocator setting for training programs, kept out of the library.

Library code never changes how the whole process allocates; a program may. The
``chainrule train`` command does, through ``keep_freed_memory`` below.
"""

_KEPT_BYTES = 1 << 30  # freed blocks up to 1 GiB stay in the heap for the next step


def keep_freed_memory():
    """Let the C allocator keep freed memory for reuse instead of returning it; True if applied.

    A training step allocates the same multi-MB temporaries (im2col matrices, GEMM outputs)
    every time. glibc's malloc serves such blocks with mmap and trims the heap when they are
    freed, so each step faults every page in again: in a small CNN that doubles the step.
    Raising M_MMAP_THRESHOLD and M_TRIM_THRESHOLD keeps freed blocks in the heap, as
    PyTorch's caching allocator keeps its buffers; the price is a resident size that stays at
    the peak. Process-wide and idempotent: call it once when a program starts training (the
    CLI does), never from library code. A no-op (False) on other C
    libraries, where these knobs do not exist; CuPy arrays have their own memory pool.
    """
    import ctypes
    import ctypes.util
    import platform

    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    m_trim_threshold, m_mmap_threshold = -1, -3  # from glibc's <malloc.h>
    return bool(libc.mallopt(m_mmap_threshold, _KEPT_BYTES)
                and libc.mallopt(m_trim_threshold, _KEPT_BYTES))
