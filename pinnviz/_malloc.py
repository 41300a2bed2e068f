"""Keep freed memory in the process for reuse: glibc's allocator would hand every tensor of more than a few
hundred KB back to the OS when it is freed, so the next one of that size starts on fresh pages, one page
fault per 4 KB. Evaluating losses in chunks (a landscape, the losses a training step does not compute)
allocates and frees such tensors in every pass; with the settings below the same passes run 2-4x faster
(benchmarks/bench_train_speed.py; `python -m pinnviz` sets them at start, a notebook may call this).

Tensors larger than `MMAP_THRESHOLD` (a 1 M-parameter trajectory's blocks) still go straight to the OS.
"""

from __future__ import annotations

import ctypes
import ctypes.util

MMAP_THRESHOLD = 32 << 20  # allocations above this are mapped (and unmapped when freed), as by default
TRIM_THRESHOLD = 256 << 20  # free memory at the top of the heap beyond this is returned to the OS
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameters

_done = False


def keep_freed_memory() -> bool:
    """Set glibc's mmap and trim thresholds (once per process); False where the C library has no mallopt."""
    global _done
    if _done:
        return True
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc (macOS, musl without mallopt): keep the defaults
        return False
    _done = bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD))
    return _done
