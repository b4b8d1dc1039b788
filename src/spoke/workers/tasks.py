"""The work that runs in worker processes, as module-level functions (pickled by reference).

Each takes the worker's private directory first. They hold no state between calls: everything a
task needs arrives with it, and its result goes back whole.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from spoke.compat import Comparison, Schema, compare
from spoke.compat.diff import Change, diff
from spoke.protobuf import CompileResult, compile_files
from spoke.protobuf.diagnostics import Diagnostics

__all__ = ["compare_task", "compile_task", "diagnose_task", "diff_task"]


def compile_task(
    workdir: str, files: Mapping[str, str], include_files: Mapping[str, str]
) -> CompileResult:
    """:func:`spoke.protobuf.compile_files` with its tree and log in ``workdir``."""
    return compile_files(files=files, include_files=include_files, workdir=workdir)


def diagnose_task(
    workdir: str, files: Mapping[str, str], include_files: Mapping[str, str]
) -> Diagnostics:
    """The diagnostics of a successful compile, without the descriptor set (which can be many
    times the size of the files, and which a validation does not need)."""
    return compile_task(workdir, files, include_files).diagnostics


def compare_task(
    workdir: str, candidate: Schema, earlier: Sequence[Schema], mode: str, rules: str
) -> Comparison:
    """:func:`spoke.compat.compare`."""
    return compare(candidate, earlier, mode=mode, rules=rules)


def diff_task(workdir: str, old: Schema, new: Schema, mode: str, rules: str) -> tuple[Change, ...]:
    """Every change from ``old`` to ``new``; a change is breaking when ``rules`` flag it under
    ``mode`` (a plain mode, or ``NONE``: nothing is breaking)."""
    violations = () if mode == "NONE" else compare(new, [old], mode=mode, rules=rules).violations
    return tuple(diff(old, new, violations=violations))
