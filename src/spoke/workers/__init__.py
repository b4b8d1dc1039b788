"""Where client-controlled CPU work runs: compiles, compatibility checks and diffs.

:class:`SchemaWork` is what the service calls. :class:`PooledWork` runs each call in a bounded
pool of worker processes (:class:`WorkerPool`), so that none of it can hold the server's GIL;
:class:`InProcessWork` runs it in the calling thread (the command line, and
``SPOKE_WORKER_PROCESSES=0``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import partial
from typing import Protocol

from spoke.compat import Comparison, Schema, compare
from spoke.compat.diff import Change
from spoke.protobuf import CompileResult, compile_files
from spoke.protobuf.compiler import PROTOC_LOG, failure_from_log
from spoke.protobuf.diagnostics import OUTPUT_LIMIT, Diagnostics
from spoke.workers.pool import OutputWatch, WorkerPool
from spoke.workers.tasks import compare_task, compile_task, diagnose_task, diff_task

__all__ = ["InProcessWork", "OutputWatch", "PooledWork", "SchemaWork", "WorkerPool"]


class SchemaWork(Protocol):
    """The CPU-heavy operations on client input."""

    def compile(self, files: Mapping[str, str], include_files: Mapping[str, str]) -> CompileResult:
        """Compile ``files`` with ``include_files`` importable.

        Raises ``CompilationFailed`` (the input does not compile), and, in a pool,
        ``LimitExceeded`` and ``Overloaded``."""
        ...

    def diagnose(self, files: Mapping[str, str], include_files: Mapping[str, str]) -> Diagnostics:
        """What :meth:`compile` would warn about, without the compiled result; raises as it
        does."""
        ...

    def compare(
        self, candidate: Schema, earlier: Sequence[Schema], *, mode: str, rules: str
    ) -> Comparison:
        """:func:`spoke.compat.compare`; raises as :meth:`compile` does, bar compile errors."""
        ...

    def diff(self, old: Schema, new: Schema, *, mode: str, rules: str) -> tuple[Change, ...]:
        """The changes from ``old`` to ``new``, breaking when ``rules`` flag them under
        ``mode`` (a plain mode or ``NONE``)."""
        ...

    def start(self) -> None:
        """Get ready to work (start processes); a server calls it before serving."""
        ...

    def close(self) -> None:
        """Release what :meth:`start` or the calls took."""
        ...


class InProcessWork:
    """:class:`SchemaWork` in the calling thread."""

    def compile(self, files: Mapping[str, str], include_files: Mapping[str, str]) -> CompileResult:
        return compile_files(files=files, include_files=include_files)

    def diagnose(self, files: Mapping[str, str], include_files: Mapping[str, str]) -> Diagnostics:
        return self.compile(files, include_files).diagnostics

    def compare(
        self, candidate: Schema, earlier: Sequence[Schema], *, mode: str, rules: str
    ) -> Comparison:
        return compare(candidate, earlier, mode=mode, rules=rules)

    def diff(self, old: Schema, new: Schema, *, mode: str, rules: str) -> tuple[Change, ...]:
        return diff_task("", old, new, mode, rules)

    def start(self) -> None:
        pass

    def close(self) -> None:
        pass


def _protoc_watch(files: Mapping[str, str], include_files: Mapping[str, str]) -> OutputWatch:
    """protoc's log is watched: past OUTPUT_LIMIT bytes protoc is stopped, and the errors are
    read from the head of the log."""
    return OutputWatch(
        PROTOC_LOG,
        OUTPUT_LIMIT,
        partial(failure_from_log, files=files, include_files=include_files),
    )


class PooledWork:
    """:class:`SchemaWork` in the worker processes of ``pool``."""

    def __init__(self, pool: WorkerPool) -> None:
        self.pool = pool

    def compile(self, files: Mapping[str, str], include_files: Mapping[str, str]) -> CompileResult:
        return self.pool.run(
            "compile",
            compile_task,
            (dict(files), dict(include_files)),
            watch=_protoc_watch(files, include_files),
        )

    def diagnose(self, files: Mapping[str, str], include_files: Mapping[str, str]) -> Diagnostics:
        return self.pool.run(
            "compile",
            diagnose_task,
            (dict(files), dict(include_files)),
            watch=_protoc_watch(files, include_files),
        )

    def compare(
        self, candidate: Schema, earlier: Sequence[Schema], *, mode: str, rules: str
    ) -> Comparison:
        return self.pool.run(
            "compatibility check", compare_task, (candidate, list(earlier), mode, rules)
        )

    def diff(self, old: Schema, new: Schema, *, mode: str, rules: str) -> tuple[Change, ...]:
        return self.pool.run("diff", diff_task, (old, new, mode, rules))

    def start(self) -> None:
        self.pool.start()

    def close(self) -> None:
        self.pool.close()
