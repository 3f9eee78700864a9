"""Keep the long-running flow process from holding on to memory it has freed (glibc only).

glibc raises its mmap threshold each time a large block is freed, up to 32 MB, so after the
first big frame or solver run, later large arrays land on the heap; when they are freed the
heap is fragmented and the process keeps the pages. At 100k SKU-locations that retention
(about 0.4 GB per capacity LP, more after pandas merges) carried from stage to stage.
A fixed threshold keeps large blocks in mmap (returned on free), and a trim between stages
returns what the heap freed. On other C libraries both calls are no-ops.
"""

import ctypes
import ctypes.util
import gc
from functools import cache

M_MMAP_THRESHOLD = -3  # mallopt parameter number in glibc's malloc.h
MMAP_THRESHOLD_BYTES = 1 << 20


@cache
def _libc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    if not name:
        return None
    try:
        libc = ctypes.CDLL(name)
    except OSError:
        return None
    return libc if hasattr(libc, "mallopt") and hasattr(libc, "malloc_trim") else None


def keep_large_blocks_in_mmap(threshold: int = MMAP_THRESHOLD_BYTES) -> bool:
    """Fix glibc's mmap threshold (disables its dynamic raise). True if it was applied."""
    libc = _libc()
    return bool(libc and libc.mallopt(M_MMAP_THRESHOLD, int(threshold)))


def release_memory() -> bool:
    """Collect garbage and hand freed heap pages back to the OS. True if glibc trimmed."""
    gc.collect()
    libc = _libc()
    return bool(libc and libc.malloc_trim(0))
