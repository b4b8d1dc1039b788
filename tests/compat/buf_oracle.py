"""Run ``buf breaking`` (PyPI ``buf-bin``, offline) on two compiled descriptor sets."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from google.protobuf import descriptor_pb2

# buf-bin installs `buf` beside the interpreter; the venv may not be on PATH.
BUF = shutil.which("buf") or shutil.which("buf", path=os.path.dirname(sys.executable))


def varint(n: int) -> bytes:
    out = bytearray()
    while True:
        low, n = n & 0x7F, n >> 7
        out.append(low | (0x80 if n else 0))
        if not n:
            return bytes(out)


# buf's Image is a FileDescriptorSet whose files may carry an extension at field 8042
# (ImageFileExtension, whose field 1 is is_import); with --exclude-imports buf then skips them.
_IS_IMPORT = varint((8042 << 3) | 2) + varint(2) + b"\x08\x01"


def image(data: bytes, targets: set[str]) -> bytes:
    fds = descriptor_pb2.FileDescriptorSet()
    fds.ParseFromString(data)
    out = bytearray()
    for f in fds.file:
        raw = f.SerializeToString() + (b"" if f.name in targets else _IS_IMPORT)
        out += b"\x0a" + varint(len(raw)) + raw
    return bytes(out)


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
    found = set()
    for line in proc.stdout.splitlines():
        if line.strip():
            item = json.loads(line)
            path = item.get("path", "")
            if not path and item["type"] == "FILE_NO_DELETE":
                # buf gives a deleted file no path; its name is in the message.
                match = re.search(r'file "([^"]+)"', item["message"])
                assert match is not None
                path = match.group(1)
            found.add((item["type"], path))
    return found


CONFIG = json.dumps(
    {"version": "v2", "breaking": {"use": ["FILE", "PACKAGE", "WIRE_JSON", "WIRE", "CSR"]}}
)
