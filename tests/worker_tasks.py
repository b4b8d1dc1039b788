"""Task functions for the worker pool tests. They run in worker processes, so they live in a
module of their own that the workers can import (the tests add this directory to the pool's
``python_path``)."""

from __future__ import annotations

import os
import signal
import time
from typing import Any


def echo(workdir: str, value: Any) -> Any:
    return value


def sleep(workdir: str, seconds: float) -> str:
    time.sleep(seconds)
    return "slept"


def allocate(workdir: str, megabytes: int) -> int:
    block = bytearray(megabytes * 1024 * 1024)
    return len(block)


def hold(workdir: str, megabytes: int) -> int:
    """Allocate and keep ``megabytes`` in the worker (as a large compile's leftovers would)."""
    global _kept
    _kept = bytearray(megabytes * 1024 * 1024)
    for i in range(0, len(_kept), 4096):  # touch every page, so it is resident
        _kept[i] = 1
    return os.getpid()


_kept = bytearray()


def fail(workdir: str, message: str) -> None:
    raise ValueError(message)


def crash(workdir: str) -> None:
    os.kill(os.getpid(), signal.SIGSEGV)


def pid(workdir: str) -> int:
    return os.getpid()


def environment(workdir: str) -> dict[str, str]:
    return dict(os.environ)


def unpicklable(workdir: str) -> Any:
    return lambda: None


def write_output(workdir: str, name: str, size: int, then_sleep: float) -> str:
    with open(os.path.join(workdir, name), "wb") as out:
        out.write(b"x" * size)
    time.sleep(then_sleep)
    return "finished"


def where(workdir: str) -> str:
    return workdir


def niceness(workdir: str) -> int:
    return os.nice(0)
