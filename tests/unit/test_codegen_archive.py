"""Deterministic archives: the same files give the same bytes, in this process and another one,
whatever the order they come in; and the README that says what the archive holds."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from spoke.codegen import LanguageRegistry, build_zip, generate, readme_text
from spoke.codegen.archive import FIXED_TIMESTAMP
from spoke.plugins import create_plugin_registry

FILES = {
    "payments/v1/payment_pb2.py": b"# generated\nimport sys\n" * 50,
    "common/v1/money_pb2.py": b"# money\n",
    "empty.txt": b"",
    "caf\u00e9/unicode_pb2.py": "# caf\u00e9\n".encode(),
}
PROTO_FILES = {
    "common/v1/money.proto": 'syntax = "proto3";\npackage common.v1;\nmessage Money { int64 u = 1; }\n',
    "payments/v1/payment.proto": (
        'syntax = "proto3";\npackage payments.v1;\nimport "common/v1/money.proto";\n'
        'import "google/protobuf/timestamp.proto";\n'
        "message Payment { common.v1.Money m = 1; google.protobuf.Timestamp at = 2; }\n"
    ),
}

BUILD_ELSEWHERE = """\
import json, sys
from spoke.codegen import build_zip
spec = json.load(open(sys.argv[1]))
files = {path: bytes.fromhex(data) for path, data in spec["files"].items()}
sys.stdout.buffer.write(build_zip(files, readme=spec["readme"]))
"""


def test_the_same_files_give_the_same_bytes_in_any_order() -> None:
    first = build_zip(FILES, readme="# hello\n")
    again = build_zip(dict(reversed(list(FILES.items()))), readme="# hello\n")
    assert first == again
    assert build_zip(FILES) != first  # the README is part of the content


def test_another_process_builds_byte_identical_archives(tmp_path: Path) -> None:
    spec = tmp_path / "spec.json"
    spec.write_text(
        json.dumps({"files": {p: d.hex() for p, d in FILES.items()}, "readme": "# hello\n"})
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONHASHSEED"}
    env["PYTHONHASHSEED"] = "12345"  # a different hash order must not matter either
    elsewhere = subprocess.run(
        [sys.executable, "-c", BUILD_ELSEWHERE, str(spec)],
        capture_output=True,
        env=env,
        check=True,
        timeout=60,
    ).stdout
    assert elsewhere == build_zip(FILES, readme="# hello\n")


def test_entries_are_sorted_with_fixed_metadata() -> None:
    data = build_zip(FILES, readme="# hello\n")
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        infos = archive.infolist()
        assert [i.filename for i in infos] == sorted([*FILES, "README.md"])
        for info in infos:
            assert info.date_time == FIXED_TIMESTAMP
            assert info.external_attr >> 16 == 0o100644
            assert info.create_system == 3
            assert info.compress_type == zipfile.ZIP_DEFLATED
            assert info.extra == b""
            assert not info.is_dir()
        assert archive.comment == b""
        assert archive.read("README.md") == b"# hello\n"
        for path, content in FILES.items():
            assert archive.read(path) == content
        assert archive.testzip() is None


def test_an_empty_archive_is_still_a_valid_zip() -> None:
    with zipfile.ZipFile(io.BytesIO(build_zip({}))) as archive:
        assert archive.namelist() == []


@pytest.mark.parametrize(
    "name", ["/abs.py", "../up.py", "a/../b.py", "a//b.py", "a\\b.py", "", "dir/", "./a.py"]
)
def test_unsafe_entry_names_are_refused(name: str) -> None:
    with pytest.raises(ValueError, match="invalid archive entry name"):
        build_zip({name: b"x"})


def test_a_generated_readme_is_not_overwritten() -> None:
    with pytest.raises(ValueError, match=r"already called README\.md"):
        build_zip({"README.md": b"mine"}, readme="# ours\n")
    assert zipfile.ZipFile(io.BytesIO(build_zip({"README.md": b"mine"}))).read("README.md") == (
        b"mine"
    )


def test_generated_code_zips_are_byte_identical_run_after_run() -> None:
    registry = LanguageRegistry.load(create_plugin_registry())
    archives = []
    for language_id in ("python", "java"):
        status = registry.get(language_id)
        if not status.enabled:
            continue
        for _ in range(2):
            code = generate(
                status, files=PROTO_FILES, targets=sorted(PROTO_FILES), grpc=False, options=[],
                timeout=60,
            )  # fmt: skip
            archives.append((language_id, build_zip(code.files, readme="r")))
    by_language: dict[str, set[bytes]] = {}
    for language_id, data in archives:
        by_language.setdefault(language_id, set()).add(data)
    assert "python" in by_language
    assert all(len(variants) == 1 for variants in by_language.values())


def test_the_readme_names_what_the_archive_was_made_from() -> None:
    registry = LanguageRegistry.load(create_plugin_registry())
    status = registry.get("python")
    text = readme_text(
        status=status,
        module="payments",
        version="1.2.0",
        fingerprint="sha256:abc",
        generator_versions={"protoc": "35.1", "grpcio-tools": "1.85.1"},
        grpc=True,
        dependencies=("common@1.0.0",),
        include_dependencies=False,
    )
    assert text.startswith("# payments 1.2.0: Python code\n")
    for expected in (
        "- fingerprint: sha256:abc",
        "- language: python with gRPC stubs",
        "- generator versions: grpcio-tools 1.85.1, protoc 35.1",
        "- dependencies: common@1.0.0 (not included)",
        "PEP 420 namespace packages",
        "no `__init__.py`",
    ):
        assert expected in text
    assert text == readme_text(
        status=status,
        module="payments",
        version="1.2.0",
        fingerprint="sha256:abc",
        generator_versions={"grpcio-tools": "1.85.1", "protoc": "35.1"},
        grpc=True,
        dependencies=("common@1.0.0",),
    )
    go = readme_text(
        status=registry.get("go"),
        module="m",
        version="1.0.0",
        fingerprint="sha256:0",
        generator_versions={},
    )
    assert "go_package" in go and "namespace" not in go
