"""A bounded pool of worker processes with a time limit, a memory limit and a queue bound.

protoc holds the GIL for the whole of a compile and cannot be interrupted, and a compatibility
check or diff over a huge schema is seconds of pure Python: run on a request thread, either
stalls every thread of the server, the health probes included. Here they run in worker processes
instead, so the server's threads only wait on a pipe.

* At most ``processes`` tasks run at once; at most ``queue`` more wait for a worker, each for at
  most ``timeout`` seconds. Past either bound the request is refused at once with
  :class:`~spoke.errors.Overloaded` (503 with ``Retry-After``) instead of piling up.
* A task that runs longer than ``timeout`` has its worker killed:
  :class:`~spoke.errors.LimitExceeded` (``limit: time``).
* A worker runs with an address-space limit of ``memory_limit`` bytes; a task that needs more,
  or a worker that dies under it, is :class:`~spoke.errors.LimitExceeded` (``limit: memory``).
* A task may name an :class:`OutputWatch`: a file it writes in its worker's directory that must
  stay under a size; past it the worker is killed and the watch says what the outcome is (protoc's
  log: error recovery on hostile input can print hundreds of megabytes).
* A worker whose resident memory stays above ``recycle_bytes`` after a task is replaced, so
  memory that the allocator keeps after a large task goes back to the system.

Workers are forked from multiprocessing's fork server, which preloads the task modules once:
starting a worker costs a fork, not an interpreter start, and nothing of the server's threads or
locks is inherited. They start on first use (or :meth:`WorkerPool.start`) and are replaced when
they die or are killed.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import pickle
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any, TypeVar

import spoke
from spoke.errors import BackendUnavailable, LimitExceeded, Overloaded

__all__ = ["OutputWatch", "WorkerPool"]

log = logging.getLogger(__name__)
T = TypeVar("T")

# How often a waiting request looks at the clock and at a watched file. Answers are read as soon
# as they arrive; this only bounds how late a limit is noticed.
_POLL = 0.02
# How long a new worker may take to import its modules and say it is ready (about 0.2 s
# normally; a loaded machine may take many times that). Not part of a task's time limit.
_START_TIMEOUT = 60.0
# Where a worker finds the spoke package (the directory holding it: site-packages, or src/ in
# a development checkout).
_SPOKE_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(spoke.__file__)))


@dataclass(frozen=True, slots=True)
class OutputWatch:
    """A file a task writes in its worker's directory, which must stay under ``limit`` bytes.

    When it grows past the limit the worker is killed, and ``stopped(workdir)`` (called in the
    server, before the directory is removed) returns the exception the task then raises."""

    filename: str
    limit: int
    stopped: Callable[[str], BaseException]


class _Worker:
    """One worker process, its end of the socket and its private directory."""

    __slots__ = ("connection", "process", "ready", "workdir")

    def __init__(self, process: subprocess.Popen[bytes], connection: Connection, workdir: str):
        self.process = process
        self.connection = connection
        self.workdir = workdir
        self.ready = False

    def alive(self) -> bool:
        return self.process.poll() is None

    def exit_code(self) -> int | None:
        """The exit status once it has ended (negative: the signal that ended it)."""
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=1)
        return self.process.returncode

    def kill(self) -> None:
        with contextlib.suppress(OSError):
            self.process.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=5)

    def dispose(self) -> None:
        """Stop the process if it still runs and remove what it leaves behind."""
        with contextlib.suppress(OSError):
            self.connection.close()  # a worker exits when it reads EOF
        if self.alive():
            try:
                self.process.wait(timeout=1)
            except subprocess.TimeoutExpired:
                self.kill()
        shutil.rmtree(self.workdir, ignore_errors=True)


class _Died(Exception):
    """The worker exited (or was killed by the system) while running a task."""


class _Gone(Exception):
    """The worker was gone before the task reached it."""


class WorkerPool:
    """Runs functions in a bounded set of worker processes. Thread-safe."""

    def __init__(
        self,
        *,
        processes: int,
        queue: int,
        timeout: float,
        memory_limit: int | None,
        recycle_bytes: int | None = None,
        on_task: Callable[[str, str, float], None] | None = None,
        on_restart: Callable[[str], None] | None = None,
        python_path: tuple[str, ...] = (),
    ) -> None:
        if processes < 1:
            raise ValueError("a worker pool needs at least one process")
        self.processes = processes
        self.queue = queue
        self.timeout = timeout
        self.memory_limit = memory_limit
        self.recycle_bytes = recycle_bytes
        self._on_task = on_task
        self._on_restart = on_restart
        # Where workers import from: Spoke's own root, then ``python_path`` (modules holding
        # task functions of a plugin or a test).
        self._python_path = (_SPOKE_ROOT, *python_path)
        self._condition = threading.Condition()
        self._idle: list[_Worker] = []
        self._live = 0  # idle + busy + starting
        self._waiting = 0
        self._closed = False
        self._keep_warm = False
        # Seconds a task takes, smoothed: what a refused client is told to wait.
        self._typical = 0.1

    # Introspection, for metrics --------------------------------------------------------------

    @property
    def busy(self) -> int:
        """Workers running a task (or starting to)."""
        with self._condition:
            return self._live - len(self._idle)

    @property
    def waiting(self) -> int:
        """Requests waiting for a worker."""
        return self._waiting

    # Life cycle ----------------------------------------------------------------------------

    def start(self) -> None:
        """Start every worker now rather than on first use (a server does this at startup)."""
        started = []
        with self._condition:
            self._keep_warm = True
            wanted = self.processes - self._live
            self._live += wanted
        try:
            for _ in range(wanted):
                started.append(self._spawn())
        finally:
            with self._condition:
                self._live -= wanted - len(started)
                self._idle.extend(started)
                self._condition.notify_all()

    def close(self) -> None:
        """Stop every idle worker; busy ones are stopped when their task ends."""
        with self._condition:
            self._closed = True
            idle, self._idle = self._idle, []
            self._live -= len(idle)
            self._condition.notify_all()
        for worker in idle:
            worker.dispose()

    # Running tasks -------------------------------------------------------------------------

    def run(
        self,
        task: str,
        function: Callable[..., T],
        args: tuple[Any, ...],
        *,
        watch: OutputWatch | None = None,
    ) -> T:
        """``function(workdir, *args)`` in a worker; its result, or the exception it raised.

        ``task`` names the work in metrics and errors. ``function`` must be a module-level
        function (it is pickled by reference) and ``args`` picklable. Raises ``Overloaded`` when
        the queue is full or no worker frees up in time, ``LimitExceeded`` when the task runs out
        of time or memory, and whatever ``function`` raised.
        """
        started = time.monotonic()
        outcome = "error"
        try:
            outcome, value = self._run_once(task, function, args, watch, retry=True)
        except Overloaded:
            outcome = "busy"
            raise
        except LimitExceeded as exc:
            outcome = str(exc.details.get("limit", "limit"))
            raise
        finally:
            elapsed = time.monotonic() - started
            if outcome == "ok":
                self._typical = 0.8 * self._typical + 0.2 * elapsed
            if self._on_task is not None:
                self._on_task(task, outcome, elapsed)
        if outcome != "ok":
            raise value
        return value  # type: ignore[no-any-return]

    def _run_once(
        self,
        task: str,
        function: Callable[..., Any],
        args: tuple[Any, ...],
        watch: OutputWatch | None,
        *,
        retry: bool,
    ) -> tuple[str, Any]:
        worker = self._acquire(task)
        try:
            return self._call(worker, task, function, args, watch)
        except _Gone:
            # It died while idle (killed from outside): nothing ran, so a new one may try.
            self._retire(worker, "crashed", kill=True)
            if retry:
                return self._run_once(task, function, args, watch, retry=False)
            raise self._memory_exceeded(task, worker.exit_code()) from None
        except _Died:
            exit_code = worker.exit_code()
            self._retire(worker, "crashed", kill=True)
            raise self._memory_exceeded(task, exit_code) from None
        finally:
            self._release(worker)

    def _call(
        self,
        worker: _Worker,
        task: str,
        function: Callable[..., Any],
        args: tuple[Any, ...],
        watch: OutputWatch | None,
    ) -> tuple[str, Any]:
        """Send one task and wait for its answer, enforcing the limits. Returns (outcome, value):
        ``ok`` with the result, ``error`` or ``output_limit`` with the exception to raise."""
        if not worker.ready:
            self._wait_ready(worker)
        deadline = time.monotonic() + self.timeout
        try:
            worker.connection.send((function, args))
        except (BrokenPipeError, ConnectionResetError, EOFError, OSError) as exc:
            raise _Gone from exc

        watched = os.path.join(worker.workdir, watch.filename) if watch is not None else ""
        while not worker.connection.poll(_POLL):
            if time.monotonic() > deadline:
                self._retire(worker, "timeout", kill=True)
                raise LimitExceeded(
                    f"the {task} took longer than the limit of {self.timeout:g} seconds",
                    details={"limit": "time", "seconds": self.timeout, "task": task},
                )
            if watch is not None and _size(watched) > watch.limit:
                worker.kill()
                try:
                    return "output_limit", watch.stopped(worker.workdir)
                finally:
                    self._retire(worker, "output_limit", kill=False)
        try:
            outcome, value, resident = pickle.loads(worker.connection.recv_bytes())
        except (EOFError, OSError) as exc:
            raise _Died from exc
        if outcome == "memory":
            self._retire(worker, "memory", kill=True)
            raise self._memory_exceeded(task, None)
        if self.recycle_bytes is not None and resident > self.recycle_bytes:
            self._retire(worker, "recycled", kill=False)
        return outcome, value

    def _wait_ready(self, worker: _Worker) -> None:
        """Wait for a new worker's ``ready``; a worker that cannot start is a server fault."""
        try:
            if (
                worker.connection.poll(_START_TIMEOUT)
                and worker.connection.recv_bytes() == b"ready"
            ):
                worker.ready = True
                return
        except (EOFError, OSError):
            pass
        code = worker.exit_code() if not worker.alive() else None
        self._retire(worker, "crashed", kill=True)
        log.error("a worker process failed to start (exit status %s)", code)
        raise BackendUnavailable(
            "the server's worker processes cannot start; see the server's log",
            code="workers_unavailable",
            details={"exit_code": code},
        )

    def _memory_exceeded(self, task: str, exit_code: int | None) -> LimitExceeded:
        limit = f"its memory limit of {self.memory_limit} bytes" if self.memory_limit else "memory"
        details: dict[str, Any] = {"limit": "memory", "bytes": self.memory_limit, "task": task}
        if exit_code is not None and exit_code < 0:
            details["signal"] = signal.Signals(-exit_code).name
            message = (
                f"the worker process running the {task} was stopped ({details['signal']}), "
                f"most likely by exceeding {limit}"
            )
        else:
            message = f"the {task} needed more than {limit}"
        return LimitExceeded(message, details=details)

    # Workers -------------------------------------------------------------------------------

    def _acquire(self, task: str) -> _Worker:
        deadline = time.monotonic() + self.timeout
        with self._condition:
            if self._closed:
                raise Overloaded("the server is shutting down", retry_after=1)
            if not self._idle and self._live >= self.processes:
                if self._waiting >= self.queue:
                    raise self._overloaded(task)
                self._waiting += 1
                try:
                    while not self._idle and self._live >= self.processes:
                        remaining = deadline - time.monotonic()
                        if remaining <= 0 or self._closed:
                            raise self._overloaded(task)
                        self._condition.wait(remaining)
                finally:
                    self._waiting -= 1
            if self._idle:
                return self._idle.pop()
            self._live += 1
        try:
            return self._spawn()
        except BaseException:
            with self._condition:
                self._live -= 1
                self._condition.notify()
            raise

    def _overloaded(self, task: str) -> Overloaded:
        rounds = math.ceil((self._waiting + 1) / self.processes)
        return Overloaded(
            f"all {self.processes} worker processes are busy and {self._waiting} requests wait "
            f"already; retry the {task} later",
            retry_after=min(60, math.ceil(self._typical * rounds)),
            details={"processes": self.processes, "queue": self.queue},
        )

    def _release(self, worker: _Worker) -> None:
        """Give ``worker`` back after a task (unless it was retired during it)."""
        if not worker.workdir:
            return
        with self._condition:
            if not self._closed and worker.alive():
                self._idle.append(worker)
                self._condition.notify()
                return
        self._retire(worker, "closed" if self._closed else "crashed", kill=False)

    def _retire(self, worker: _Worker, reason: str, *, kill: bool) -> None:
        """Take ``worker`` out of the pool for good (a new one starts on demand)."""
        if not worker.workdir:
            return  # retired already
        if kill:
            worker.kill()
        worker.dispose()
        worker.workdir = ""
        with self._condition:
            # A started pool keeps its workers warm: the replacement starts now, not when the
            # next request needs it.
            refill = self._keep_warm and not self._closed
            if not refill:
                self._live -= 1
            self._condition.notify()
        if self._on_restart is not None and reason != "closed":
            self._on_restart(reason)
        if refill:
            self._refill()

    def _refill(self) -> None:
        """Start a worker in the place of one just retired (counted in ``_live`` already)."""
        try:
            worker = self._spawn()
        except OSError:
            log.exception("starting a worker process failed")
            with self._condition:
                self._live -= 1
                self._condition.notify()
            return
        with self._condition:
            if self._closed:
                self._live -= 1
            else:
                self._idle.append(worker)
                worker = None  # type: ignore[assignment]
            self._condition.notify()
        if worker is not None:
            worker.dispose()

    def _spawn(self) -> _Worker:
        workdir = tempfile.mkdtemp(prefix="spoke-worker-")
        ours, theirs = socket.socketpair()
        try:
            process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "spoke.workers.process",
                    str(theirs.fileno()),
                    workdir,
                    str(self.memory_limit or 0),
                ],
                pass_fds=(theirs.fileno(),),
                env=self._environment(workdir),
                stdin=subprocess.DEVNULL,
                cwd=workdir,
            )
        except BaseException:
            ours.close()
            shutil.rmtree(workdir, ignore_errors=True)
            raise
        finally:
            theirs.close()
        return _Worker(process, Connection(ours.detach()), workdir)

    def _environment(self, workdir: str) -> dict[str, str]:
        """All a worker gets of an environment: nothing of the server's settings or secrets."""
        return {
            "PATH": os.environ.get("PATH", os.defpath),
            "HOME": workdir,
            "TMPDIR": workdir,
            "LANG": "C.UTF-8",
            "LC_ALL": "C.UTF-8",
            "PYTHONDONTWRITEBYTECODE": "1",
            "PYTHONPATH": os.pathsep.join(self._python_path),
        }


def _size(path: str) -> int:
    try:
        return os.stat(path).st_size
    except OSError:
        return 0
