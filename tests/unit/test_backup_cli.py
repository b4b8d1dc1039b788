"""``spoke backup`` and ``spoke restore`` through click's runner, on filesystem roots."""

from __future__ import annotations

import io
import tarfile
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result

from spoke.api.app import Backends, create_app
from spoke.cli_backup import backup, restore
from spoke.domain import CompatibilityPolicy, DependencyRef, ModuleName, VersionString
from spoke.service import PushRequest
from spoke.settings import load_settings
from spoke_plugins.filesystem import FilesystemBlobStore, FilesystemStorage
from spoke_plugins.memory import LRUCache
from worker_pool import shared_work


@click.group()
def cli() -> None:
    """Stands in for ``spoke`` until cli.py registers the commands."""


cli.add_command(backup)
cli.add_command(restore)


def env_for(root: Path, **extra: str) -> dict[str, str]:
    return {"SPOKE_STORAGE_TYPE": "filesystem", "SPOKE_FILESYSTEM_ROOT": str(root), **extra}


def run(root: Path, *args: str, **extra: str) -> Result:
    return CliRunner().invoke(cli, list(args), env=env_for(root, **extra))


def where(root: Path) -> str:
    """How backup and restore name filesystem backends at ``root``."""
    absolute = root.resolve()
    return f"storage filesystem at {absolute}, blobs filesystem at {absolute}"


def assert_clean_failure(result: Result, code: int = 1) -> None:
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def populate(root: Path) -> None:
    backends = Backends(
        FilesystemStorage(root=root), FilesystemBlobStore(root=root), LRUCache(max_bytes=1 << 20)
    )
    app = create_app(load_settings({}), backends=backends, work=shared_work())
    policy = CompatibilityPolicy()
    app.service.create_module(name="acme.common", description="c", compatibility=policy)
    app.service.create_module(name="acme.app", description="a", compatibility=policy)
    common = {
        "acme/common/v1/c.proto": 'syntax = "proto3";\npackage acme.common.v1;\nmessage C {}\n'
    }
    app.service.push_version(
        module="acme.common",
        request=PushRequest(VersionString("1.0.0"), common, (), None),
    )
    uses = (
        'syntax = "proto3";\npackage acme.app.v1;\nimport "acme/common/v1/c.proto";\n'
        "message A { acme.common.v1.C c = 1; }\n"
    )
    pin = DependencyRef(ModuleName("acme.common"), VersionString("1.0.0"))
    app.service.push_version(
        module="acme.app",
        request=PushRequest(
            VersionString("0.1.0-rc.1"), {"acme/app/v1/a.proto": uses}, (pin,), None
        ),
    )
    app.close()


@pytest.fixture
def source(tmp_path: Path) -> Path:
    root = tmp_path / "source"
    populate(root)
    return root


@pytest.fixture
def archive(source: Path, tmp_path: Path) -> Path:
    path = tmp_path / "backup.tar.gz"
    result = run(source, "backup", "--output", str(path))
    assert result.exit_code == 0, result.output
    return path


def test_backup_writes_the_archive_and_prints_a_summary(source: Path, tmp_path: Path) -> None:
    path = tmp_path / "out" / "registry.tar.gz"
    path.parent.mkdir()
    result = run(source, "backup", "--output", str(path))
    assert result.exit_code == 0, result.output
    reading, summary = result.output.splitlines()  # no warning: the registry is not empty
    assert reading == f"backup: reading {where(source)}"
    assert summary.startswith("backup: 2 modules, 2 versions, 4 blobs, ")
    assert f"-> {path}" in summary and "sha256 " in summary
    assert [p.name for p in path.parent.iterdir()] == ["registry.tar.gz"]  # no temp left


def test_a_tar_name_gives_an_uncompressed_archive(source: Path, tmp_path: Path) -> None:
    path = tmp_path / "registry.tar"
    assert run(source, "backup", "-o", str(path)).exit_code == 0
    assert path.read_bytes()[:2] != b"\x1f\x8b"
    assert run(source, "backup", "--verify", str(path)).exit_code == 0


def test_verify_accepts_a_sound_archive(source: Path, archive: Path) -> None:
    result = run(source, "backup", "--verify", str(archive))
    assert result.exit_code == 0, result.output
    assert result.output == f"{archive}: OK (2 modules, 2 versions, 4 blobs)\n"


def test_verify_reports_each_problem_on_one_line_and_exits_1(source: Path, archive: Path) -> None:
    data = bytearray(archive.read_bytes())
    cut = archive.with_name("cut.tar.gz")
    cut.write_bytes(bytes(data[: len(data) // 2]))
    result = run(source, "backup", "--verify", str(cut))
    assert_clean_failure(result)
    lines = result.output.strip().splitlines()
    assert lines[-1] == f"spoke: {cut}: NOT OK, {len(lines) - 1} problem(s)"
    assert all(line.startswith("spoke: ") for line in lines)


def test_backup_needs_exactly_one_of_output_and_verify(source: Path, archive: Path) -> None:
    assert_clean_failure(run(source, "backup"), 2)
    assert_clean_failure(run(source, "backup", "-o", "x.tar.gz", "--verify", str(archive)), 2)


def test_a_bad_setting_exits_2_naming_the_variable(source: Path, tmp_path: Path) -> None:
    result = run(source, "backup", "-o", str(tmp_path / "a.tar.gz"), SPOKE_THREADS="lots")
    assert_clean_failure(result, 2)
    assert "SPOKE_THREADS" in result.output
    result = run(source, "backup", "-o", str(tmp_path / "a.tar.gz"), SPOKE_STORAGE_TYPE="nope")
    assert_clean_failure(result, 2)
    assert "SPOKE_STORAGE_TYPE" in result.output


def test_a_missing_blob_fails_the_backup_and_leaves_no_archive(
    source: Path, tmp_path: Path
) -> None:
    blob = next(p for p in (source / "blobs" / "sha256").rglob("*") if p.is_file())
    blob.unlink()
    out = tmp_path / "out"
    out.mkdir()
    result = run(source, "backup", "-o", str(out / "b.tar.gz"))
    assert_clean_failure(result)
    reading, failure = result.output.splitlines()
    assert reading == f"backup: reading {where(source)}"
    assert failure == (
        f"spoke: backup failed: blob {blob.name} of "
        + failure.split(" of ", 1)[1].split(" is ", 1)[0]
        + " is missing from the blob store"
    )
    assert list(out.iterdir()) == []


def test_backup_into_a_missing_directory_fails_in_one_line(source: Path, tmp_path: Path) -> None:
    result = run(source, "backup", "-o", str(tmp_path / "nope" / "b.tar.gz"))
    assert_clean_failure(result)
    assert len(result.output.splitlines()) == 1


def test_restore_loads_the_archive_and_a_second_restore_skips_everything(
    archive: Path, tmp_path: Path
) -> None:
    target = tmp_path / "target"
    result = run(target, "restore", str(archive))
    assert result.exit_code == 0, result.output
    assert result.output == (
        f"restore: into {where(target)}\n"
        "restore: modules 2 created, 0 kept; versions 2 created, 0 skipped (identical); "
        "blobs 4 written, 0 present\n"
    )
    again = run(target, "restore", str(archive))
    assert again.exit_code == 0, again.output
    assert "modules 0 created, 2 kept; versions 0 created, 2 skipped" in again.output
    # What was restored backs up to the same entries.
    second = tmp_path / "second.tar.gz"
    assert run(target, "backup", "-o", str(second)).exit_code == 0
    assert manifest_entries(second) == manifest_entries(archive)


def manifest_entries(path: Path) -> object:
    import json

    with tarfile.open(path) as tar:
        handle = tar.extractfile("manifest.json")
        assert handle is not None
        return json.loads(handle.read())["entries"]


def snapshot(directory: Path) -> dict[str, tuple[int, int, int]]:
    """Every path under ``directory`` with its mode, size and modification time."""
    return {
        str(path): (info.st_mode, info.st_size, info.st_mtime_ns)
        for path in [directory, *directory.rglob("*")]
        for info in [path.lstat()]
    }


def counts(result: Result) -> str:
    """The counts of a restore's last line, without its dry-run prefix."""
    return result.output.splitlines()[-1].partition(": ")[2]


def test_a_dry_run_reports_what_the_real_run_writes_and_touches_nothing(
    archive: Path, tmp_path: Path
) -> None:
    target = tmp_path / "target"
    for expected_written in (4, 0):  # into an empty root, then into the restored one
        before = snapshot(tmp_path)
        dry = run(target, "restore", "--dry-run", str(archive))
        assert dry.exit_code == 0, dry.output
        assert snapshot(tmp_path) == before  # not even the target's directory
        assert dry.output.splitlines()[-1].startswith("restore (dry run, nothing written): ")
        real = run(target, "restore", str(archive))
        assert real.exit_code == 0, real.output
        assert counts(dry) == counts(real)
        assert f"blobs {expected_written} written" in counts(real)


def test_restore_refuses_a_conflicting_version_and_writes_nothing(
    archive: Path, tmp_path: Path
) -> None:
    target = tmp_path / "target"
    storage = FilesystemStorage(root=target)
    backends = Backends(storage, FilesystemBlobStore(root=target), LRUCache(max_bytes=1 << 20))
    app = create_app(load_settings({}), backends=backends, work=shared_work())
    app.service.create_module(
        name="acme.common", description="x", compatibility=CompatibilityPolicy()
    )
    other = {
        "acme/common/v1/c.proto": 'syntax = "proto3";\npackage acme.common.v1;\nmessage D {}\n'
    }
    app.service.push_version(
        module="acme.common", request=PushRequest(VersionString("1.0.0"), other, (), None)
    )
    result = run(target, "restore", str(archive))
    assert_clean_failure(result)
    assert result.output.splitlines() == [
        f"restore: into {where(target)}",
        "spoke: acme.common@1.0.0: already stored with different content; refusing to overwrite it",
        "spoke: restore refused: 1 problem(s)",
    ]
    assert [m.name for m in storage.list_modules(prefix="", limit=10, offset=0).items] == [
        "acme.common"
    ]


def test_restore_refuses_a_corrupt_archive(archive: Path, tmp_path: Path) -> None:
    data = bytearray(archive.read_bytes())
    data[len(data) // 2] ^= 0xFF
    archive.write_bytes(bytes(data))
    target = tmp_path / "target"
    result = run(target, "restore", str(archive))
    assert_clean_failure(result)
    assert result.output.splitlines()[-1].startswith("spoke: restore refused: ")
    assert FilesystemStorage(root=target).statistics().modules == 0


def test_restore_of_a_hostile_archive_is_refused(tmp_path: Path) -> None:
    evil = tmp_path / "evil.tar"
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        info = tarfile.TarInfo("../../escaped")
        info.size = 3
        tar.addfile(info, io.BytesIO(b"bad"))
    evil.write_bytes(out.getvalue())
    result = run(tmp_path / "target", "restore", str(evil))
    assert_clean_failure(result)
    assert "refused, not a name a spoke backup contains" in result.output
    assert not (tmp_path.parent / "escaped").exists()


def test_restore_of_a_missing_archive_fails_in_one_line(tmp_path: Path) -> None:
    result = run(tmp_path / "target", "restore", str(tmp_path / "nothing.tar.gz"))
    assert_clean_failure(result)
    assert result.output == f"spoke: {tmp_path / 'nothing.tar.gz'}: no such archive\n"


# ---------------------------------------------------------------------------------------------
# s3:// archives, against moto's server over real HTTP


@pytest.fixture
def s3_env() -> Iterator[dict[str, str]]:
    server_module = pytest.importorskip("moto.server")
    boto3 = pytest.importorskip("boto3")
    pytest.importorskip("s3fs")
    server = server_module.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        boto3.client(
            "s3",
            endpoint_url=endpoint,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            region_name="us-east-1",
        ).create_bucket(Bucket="backups")
        yield {
            "SPOKE_S3_ENDPOINT": endpoint,
            "SPOKE_S3_ACCESS_KEY": "testing",
            "SPOKE_S3_SECRET_KEY": "testing",
            "SPOKE_S3_USE_PATH_STYLE": "true",
        }
    finally:
        server.stop()


def test_backup_verify_and_restore_through_s3(
    source: Path, tmp_path: Path, s3_env: dict[str, str]
) -> None:
    url = "s3://backups/spoke/nightly.tar.gz"
    result = run(source, "backup", "--output", url, **s3_env)
    assert result.exit_code == 0, result.output
    assert result.output.endswith(f"-> {url}\n")
    verified = run(source, "backup", "--verify", url, **s3_env)
    assert verified.exit_code == 0, verified.output
    restored = run(tmp_path / "target", "restore", url, **s3_env)
    assert restored.exit_code == 0, restored.output
    assert "versions 2 created" in restored.output
    missing = run(tmp_path / "target", "restore", "s3://backups/nope.tar.gz", **s3_env)
    assert_clean_failure(missing)
    assert missing.output == "spoke: s3://backups/nope.tar.gz: no such archive\n"


def test_backends_that_cannot_start_fail_in_one_line_and_leave_nothing(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    out = tmp_path / "out"
    out.mkdir()
    result = run(blocker / "data", "backup", "-o", str(out / "b.tar.gz"))
    assert_clean_failure(result)
    assert result.output.startswith("spoke: cannot open the backends: ")
    assert len(result.output.splitlines()) == 1
    assert list(out.iterdir()) == []


# ---------------------------------------------------------------------------------------------
# Reading from the wrong place


def test_a_backup_from_the_wrong_directory_says_where_it_read_warns_and_creates_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    env = {"SPOKE_STORAGE_TYPE": "filesystem", "SPOKE_FILESYSTEM_ROOT": None}  # the default
    result = CliRunner().invoke(cli, ["backup", "-o", "b.tar.gz"], env=env)
    assert result.exit_code == 0, result.output
    default_root = elsewhere / "spoke-data"
    lines = result.output.splitlines()
    assert lines[0] == f"backup: reading {where(default_root)}"
    assert lines[1].startswith("backup: 0 modules, 0 versions, 0 blobs, ")
    assert lines[2] == (
        f"spoke: warning: the registry read is empty (no modules): {default_root} does not "
        "exist; is SPOKE_FILESYSTEM_ROOT (spoke-data) right? A relative one is taken from the "
        f"working directory, {elsewhere}"
    )
    assert sorted(p.name for p in elsewhere.iterdir()) == ["b.tar.gz"]  # no ./spoke-data


def test_a_backup_of_an_empty_data_directory_warns(tmp_path: Path) -> None:
    root = tmp_path / "data"
    root.mkdir()
    result = run(root, "backup", "-o", str(tmp_path / "b.tar.gz"))
    assert result.exit_code == 0, result.output
    warning = result.output.splitlines()[-1]
    assert warning.startswith(
        f"spoke: warning: the registry read is empty (no modules): nothing is stored under {root}"
    )
    assert list(root.iterdir()) == []


def test_a_backup_of_another_backend_says_which_and_warns_when_empty(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli, ["backup", "-o", str(tmp_path / "b.tar.gz")], env={"SPOKE_STORAGE_TYPE": "memory"}
    )
    assert result.exit_code == 0, result.output
    memory = "memory at this process's memory (empty at every start)"
    assert result.output.splitlines()[0] == f"backup: reading storage {memory}, blobs {memory}"
    assert result.output.splitlines()[-1] == (
        "spoke: warning: the registry read is empty (no modules): is SPOKE_STORAGE_TYPE, and its "
        "settings, the registry you meant?"
    )
