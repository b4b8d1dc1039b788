"""Compile diagnostics are bounded: the first 100 of each kind, each message bounded, protoc's
output read up to 1 MiB, and in a worker protoc stopped once its output passes that."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from spoke.protobuf import CompilationFailed, compile_files
from spoke.protobuf.compiler import PROTOC_LOG, failure_from_log
from spoke.protobuf.diagnostics import (
    MAX_DIAGNOSTICS,
    MAX_MESSAGE,
    Diagnostic,
    Diagnostics,
)
from spoke.workers import PooledWork, WorkerPool

HEADER = 'syntax = "proto3";\n'


def _failure(files: dict[str, str]) -> CompilationFailed:
    with pytest.raises(CompilationFailed) as raised:
        compile_files(files=files)
    return raised.value


def test_diagnostics_past_the_cap_are_counted_not_listed() -> None:
    # Each `.1e` is two or three errors; 200 of them make several hundred, in well under 1 MiB.
    failure = _failure({"bad.proto": HEADER + ".1e" * 200})
    diagnostics = failure.diagnostics
    assert len(diagnostics.errors) == MAX_DIAGNOSTICS
    assert diagnostics.errors_omitted > MAX_DIAGNOSTICS
    assert diagnostics.truncated is False
    assert failure.errors == diagnostics.errors
    assert f"and {diagnostics.error_count - 1} more" in str(failure)


def test_output_past_the_limit_is_not_read_and_marked_truncated() -> None:
    # 40,000 `.1e` print about 5 MB of errors: only the first MiB is read, in process too.
    failure = _failure({"bad.proto": HEADER + ".1e" * 40_000})
    diagnostics = failure.diagnostics
    assert diagnostics.truncated is True
    assert len(diagnostics.errors) == MAX_DIAGNOSTICS
    # What was read is a lower bound: 1 MiB holds over ten thousand of these lines.
    assert diagnostics.errors_omitted > 5_000
    assert "more)" in str(failure) and "+" in str(failure)


def test_a_long_message_is_cut() -> None:
    name = "X" * 5_000
    failure = _failure({"long.proto": HEADER + f"message A {{\n  {name} field = 1;\n}}\n"})
    message = failure.errors[0].message
    assert len(message) == MAX_MESSAGE + 1
    assert message.endswith("…")
    assert message.startswith('"XXX')


def test_warnings_of_a_successful_compile_are_capped_too() -> None:
    unused = "".join(f'import "dep{i}.proto";\n' for i in range(150))
    deps = {f"dep{i}.proto": HEADER + f"package dep{i};\n" for i in range(150)}
    result = compile_files(files={"main.proto": HEADER + unused}, include_files=deps)
    assert len(result.warnings) == MAX_DIAGNOSTICS
    assert result.diagnostics.warnings_omitted == 50
    assert all("unused" in w.message.lower() for w in result.warnings)


def test_the_capped_shape_of_every_answer() -> None:
    errors = [Diagnostic("a.proto", i, 1, f"error {i}") for i in range(1, 131)]
    shaped = Diagnostics.capped(errors, [], truncated=False).to_dict()
    assert set(shaped) == {"errors", "warnings", "errors_omitted", "warnings_omitted", "truncated"}
    assert len(shaped["errors"]) == MAX_DIAGNOSTICS  # type: ignore[arg-type]
    assert shaped["errors_omitted"] == 30
    assert shaped["warnings"] == [] and shaped["warnings_omitted"] == 0


def test_failure_read_back_from_a_stopped_compiles_log(tmp_path: Path) -> None:
    tree = tmp_path / "tree" / "own"
    line = f'{tree}/bad.proto:2:4: "e" must be followed by exponent.\n'
    (tmp_path / PROTOC_LOG).write_text(line * 200_000)  # far past the limit, as when stopped
    failure = failure_from_log(str(tmp_path), files={"bad.proto": "..."})
    diagnostics = failure.diagnostics
    assert diagnostics.truncated is True
    assert diagnostics.errors[0] == Diagnostic(
        "bad.proto", 2, 4, '"e" must be followed by exponent.'
    )
    assert len(diagnostics.errors) == 1  # the same line over and over is one diagnostic
    assert str(tmp_path) not in repr(diagnostics)  # no server path reaches a client


class _Restarts(list[str]):
    pass


@pytest.fixture
def pooled() -> Iterator[tuple[PooledWork, _Restarts]]:
    restarts = _Restarts()
    pool = WorkerPool(
        processes=1, queue=2, timeout=60, memory_limit=1 << 30, on_restart=restarts.append
    )
    yield PooledWork(pool), restarts
    pool.close()


@pytest.mark.slow
def test_in_a_worker_protoc_is_stopped_once_its_output_passes_the_limit(
    pooled: tuple[PooledWork, _Restarts],
) -> None:
    work, restarts = pooled
    # 3 MB of `.1e`: protoc alone would print 138 MB of errors over tens of seconds.
    with pytest.raises(CompilationFailed) as raised:
        work.compile({"bad.proto": HEADER + ".1e" * 1_000_000}, {})
    diagnostics = raised.value.diagnostics
    assert diagnostics.truncated is True
    assert len(diagnostics.errors) == MAX_DIAGNOSTICS
    assert diagnostics.errors[0].file == "bad.proto"
    assert restarts == ["output_limit"]  # stopped, not run to its end
    # The worker's replacement compiles the next request.
    ok = work.compile({"ok.proto": HEADER + "message A { string a = 1; }\n"}, {})
    assert ok.fingerprint.startswith("sha256:")
