"""One small thread pool for the inference back ends.

numpy releases the GIL inside its loops over large arrays (elementwise ufuncs, reductions,
einsum), so chunks of rows of one inference call run on all cores from threads, with no copies
of the network per process. Work arrays that are reused between calls are per thread.
"""
from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor

WORKERS = max(1, min(4, os.cpu_count() or 1))

_lock = threading.Lock()
_executor: ThreadPoolExecutor | None = None


def chunk_map(function, starts) -> list:
    """``[function(s) for s in starts]``, the calls spread over the pool's threads."""
    starts = list(starts)
    if WORKERS == 1 or len(starts) == 1:
        return [function(s) for s in starts]
    global _executor
    with _lock:
        if _executor is None:
            _executor = ThreadPoolExecutor(WORKERS, thread_name_prefix="inference")
    return list(_executor.map(function, starts))
