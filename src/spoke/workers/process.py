"""A worker process: receive a task, run it, send back its outcome; until the server hangs up.

A worker runs client-controlled CPU work (protoc, compatibility checks, diffs) away from the
server's GIL. The server starts it as ``python -m spoke.workers.process FD WORKDIR MEMORY`` with
an environment that holds nothing of the server's (no secrets reach a process that parses
hostile input). It sets an address-space limit of MEMORY bytes on itself (so a schema that needs
more fails in the worker, not in the pod), lowers its CPU priority (nice 10, so the server's
threads win the CPU when both want it) and turns core dumps off, imports the task modules,
and says it is ready. It ignores SIGINT: a Ctrl-C in a terminal reaches the whole process group,
and it is the server that decides when its workers stop.

Messages on the connection (a socket whose descriptor is FD), after the first ``"ready"``, one
answer per task:

* parent -> worker: ``(function, args)``; the worker calls ``function(workdir, *args)``;
* worker -> parent: ``(outcome, value, rss_bytes)`` where ``outcome`` is ``"ok"`` (``value`` is
  the result), ``"error"`` (``value`` is the exception raised) or ``"memory"`` (a
  ``MemoryError``: the task needed more than the limit).
"""

from __future__ import annotations

import importlib
import os
import pickle
import resource
import shutil
import signal
import sys
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any

__all__ = ["NICENESS", "TASK_MODULES", "main", "resident_bytes", "worker_main"]

# Imported before the worker says it is ready, so the first task does not pay for them.
TASK_MODULES = ("spoke.workers.tasks",)
_PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
NICENESS = 10


def resident_bytes() -> int:
    """This process's resident memory now (not its peak)."""
    try:
        with open("/proc/self/statm", "rb") as statm:
            return int(statm.read().split()[1]) * _PAGE_SIZE
    except (OSError, IndexError, ValueError):  # not Linux: the peak is the best there is
        usage = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return int(usage) * 1024


def _confine(memory_limit: int) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # Below the server's threads in CPU priority: when the CPUs are busy compiling, reads and
    # health probes still get their share at once (an idle machine gives a worker all of it).
    os.nice(NICENESS)
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if memory_limit > 0:
        _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        limit = memory_limit if hard == resource.RLIM_INFINITY else min(memory_limit, hard)
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def _answer(function: Callable[..., Any], workdir: str, args: tuple[Any, ...]) -> tuple[str, Any]:
    try:
        return "ok", function(workdir, *args)
    except MemoryError:
        return "memory", None
    except Exception as exc:  # the parent decides what a failure means for the request
        return "error", exc


def worker_main(connection: Connection, workdir: str, memory_limit: int) -> None:
    """Serve tasks from ``connection`` until the server closes it."""
    _confine(memory_limit)
    try:
        _serve(connection, workdir)
    finally:
        # The server removes the directory of a worker it stops; one that died (SIGKILL, an
        # out-of-memory kill) leaves that to the worker, which sees its socket close.
        shutil.rmtree(workdir, ignore_errors=True)


def _serve(connection: Connection, workdir: str) -> None:
    for module in TASK_MODULES:
        importlib.import_module(module)
    try:
        connection.send_bytes(b"ready")
    except OSError:  # the server closed the pool while this worker was starting
        return
    while True:
        try:
            function, args = connection.recv()
        except (EOFError, OSError):
            return
        outcome, value = _answer(function, workdir, args)
        try:
            payload = pickle.dumps((outcome, value, resident_bytes()))
        except MemoryError:
            payload = pickle.dumps(("memory", None, 0))
        except Exception:  # a value that cannot cross the pipe: say what it was instead
            failure = RuntimeError(f"{type(value).__name__}: {value}"[:1000])
            payload = pickle.dumps(("error", failure, resident_bytes()))
        try:
            connection.send_bytes(payload)
        except (BrokenPipeError, OSError):
            return
        del value, payload


def main(argv: list[str] | None = None) -> None:
    """``python -m spoke.workers.process FD WORKDIR MEMORY_LIMIT`` (0: no memory limit)."""
    fd, workdir, memory_limit = argv if argv is not None else sys.argv[1:]
    worker_main(Connection(int(fd)), workdir, int(memory_limit))


if __name__ == "__main__":
    main()
