"""The isolation benchmark runs end to end on a tiny load and reports every figure.

It never measures anything here (tests do not depend on timing); it only keeps the script from
breaking unnoticed between benchmark runs.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"

pytestmark = pytest.mark.slow


def test_the_isolation_benchmark_runs_both_modes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sys.path.insert(0, str(BENCHMARKS))
    try:
        import bench_isolation
    finally:
        sys.path.remove(str(BENCHMARKS))
    out = tmp_path / "result.json"
    argv = ["--duration", "0.5", "--messages", "300", "--flood-requests", "2", "--pushes", "3"]
    argv += ["--json", str(out)]
    assert bench_isolation.main(argv) == 0
    result = json.loads(out.read_text())
    for mode in ("pool", "inprocess"):
        figures = result["modes"][mode]
        assert figures["pushes"]["1 file"]["n"] == 3
        assert figures["pushes"]["50 files"]["n"] == 1
        assert figures["stall"]["health"]["n"] > 0
        assert figures["stall"]["failures"] == []
        assert figures["flood"]["requests"] == 2
        assert figures["flood"]["answer_bytes_max"] < 64 * 1024
    assert result["modes"]["pool"]["flood"]["after"]["workers"] == 2
    assert result["modes"]["inprocess"]["flood"]["after"]["workers"] == 0
    assert "health probe p99_ms" in capsys.readouterr().out
