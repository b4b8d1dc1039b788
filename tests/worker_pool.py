"""One pool of real worker processes for the applications of the whole test run.

Compiles, checks and diffs go through worker processes as they do in a server, without every
test's application paying for starting its own (``create_app(..., work=shared_work())``).
"""

from __future__ import annotations

from spoke.workers import PooledWork, WorkerPool

_SHARED: list[PooledWork] = []


def shared_work() -> PooledWork:
    """The run's pool (started on first use; closed by the session fixture in conftest.py)."""
    if not _SHARED:
        pool = WorkerPool(processes=2, queue=64, timeout=120, memory_limit=2 << 30)
        _SHARED.append(PooledWork(pool))
    return _SHARED[0]


def close_shared_work() -> None:
    while _SHARED:
        _SHARED.pop().close()
