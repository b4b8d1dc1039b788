"""Processes racing for the same write, released together round after round.

Threads in one process cannot show that a backend's exclusive create holds between processes (two
pods on one volume, two CLI runs); real processes can. The racer script gets
``<root> <index> <rounds> <signals>`` as arguments; before each round ``r`` it touches
``<signals>/ready-<r>-<index>``, waits until ``<signals>/go-<r>`` exists, then writes, and prints
one JSON line per round. :func:`race` starts them, releases each round once every racer is
ready, and returns what each printed.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

__all__ = ["race"]


def _wait_for(paths: list[Path], racers: list[subprocess.Popen[str]], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not all(p.exists() for p in paths):
        if any(r.poll() is not None for r in racers):
            raise AssertionError("a racer died")
        if time.monotonic() > deadline:
            raise AssertionError("racers did not get ready")
        time.sleep(0.001)


def race(
    script: str, *, root: Path, signals: Path, processes: int, rounds: int, timeout: float = 60
) -> list[str]:
    """Run ``processes`` copies of ``script`` for ``rounds`` rounds; their standard outputs.

    Raises ``AssertionError`` if a racer dies, hangs or exits non-zero.
    """
    signals.mkdir(parents=True, exist_ok=True)
    racers = [
        subprocess.Popen(
            [sys.executable, "-c", script, str(root), str(i), str(rounds), str(signals)],
            stdout=subprocess.PIPE,
            text=True,
        )
        for i in range(processes)
    ]
    try:
        for r in range(rounds):
            _wait_for([signals / f"ready-{r}-{i}" for i in range(processes)], racers, timeout)
            (signals / f"go-{r}").touch()
        outputs = [racer.communicate(timeout=timeout)[0] for racer in racers]
    finally:
        for racer in racers:
            if racer.poll() is None:
                racer.kill()
                racer.wait()
    codes = [racer.returncode for racer in racers]
    if codes != [0] * processes:
        raise AssertionError(f"racers exited with {codes}")
    return outputs
