"""Run ``buf breaking`` (PyPI ``buf-bin``, offline) on two compiled descriptor sets."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from spoke.testing.buf import buf_executable, parse_findings

BUF = buf_executable()


def breaking(old: bytes, new: bytes, tmp: Path) -> set[tuple[str, str]]:
    """(rule, file) pairs buf reports for ``new`` against ``old`` with every rule of every
    category enabled; a rule means the same in every category, so a category's result is
    this set filtered by its rules. ``file`` is "" where buf names none."""
    (tmp / "old.binpb").write_bytes(old)
    (tmp / "new.binpb").write_bytes(new)
    assert BUF is not None
    proc = subprocess.run(
        [
            BUF,
            "breaking",
            "new.binpb",
            "--against",
            "old.binpb",
            "--error-format=json",
            "--exclude-imports",
            "--config",
            CONFIG,
        ],
        cwd=tmp,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode in (0, 100), proc.stderr
    return parse_findings(proc.stdout)


CONFIG = json.dumps(
    {"version": "v2", "breaking": {"use": ["FILE", "PACKAGE", "WIRE_JSON", "WIRE", "CSR"]}}
)
