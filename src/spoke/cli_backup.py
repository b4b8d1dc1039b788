"""``spoke backup`` and ``spoke restore``: portable archives of a whole registry.

Both say first which backends they read or write, and where (a filesystem root as an absolute
path, so a relative ``SPOKE_FILESYSTEM_ROOT`` read from the wrong directory shows); a backup of
an empty registry warns. Neither creates anything to read: a backup, or a dry run, of a data
directory that does not exist leaves it not existing.

Exit codes: 0 success; 1 the backup, verification or restore failed (one line per problem on
stderr, nothing written on refusal); 2 a configuration or usage error.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, NoReturn

import click

from spoke.backup import (
    BackupError,
    BackupSummary,
    RestoreRefused,
    create_backup,
    restore_archive,
    verify_archive,
)
from spoke.errors import SpokeError
from spoke.plugins import missing_extra, missing_modules
from spoke.settings import Settings, SettingsError, load_settings

if TYPE_CHECKING:
    from spoke.api.app import Backends

__all__ = ["backup", "restore"]

EXIT_FAILED = 1
EXIT_CONFIG = 2
MAX_PROBLEMS_SHOWN = 50


def _fail(message: str, code: int = EXIT_FAILED) -> NoReturn:
    click.echo(f"spoke: {message}", err=True)
    sys.exit(code)


def _settings() -> Settings:
    try:
        return load_settings()
    except SettingsError as exc:
        _fail(f"configuration error: {exc}", EXIT_CONFIG)


def _report(problems: list[str]) -> None:
    for problem in problems[:MAX_PROBLEMS_SHOWN]:
        click.echo(f"spoke: {problem}", err=True)
    if len(problems) > MAX_PROBLEMS_SHOWN:
        click.echo(f"spoke: ... and {len(problems) - MAX_PROBLEMS_SHOWN} more problems", err=True)


# ---------------------------------------------------------------------------------------------
# Where archives live: a local path or s3://bucket/key


def _is_s3(location: str) -> bool:
    return location.startswith("s3://")


def _s3_filesystem(settings: Settings) -> Any:
    try:
        s3fs = importlib.import_module("s3fs")
    except ImportError:
        _fail(missing_extra("s3:// archives", "s3", missing_modules(["s3fs"])), EXIT_CONFIG)
    client_kwargs: dict[str, Any] = {"region_name": settings.s3_region}
    if settings.s3_endpoint:
        client_kwargs["endpoint_url"] = settings.s3_endpoint
    config: dict[str, Any] = {}
    if settings.s3_use_path_style:
        config["s3"] = {"addressing_style": "path"}
    return s3fs.S3FileSystem(
        key=settings.s3_access_key,
        secret=settings.s3_secret_key,
        client_kwargs=client_kwargs,
        config_kwargs=config,
        skip_instance_cache=True,
    )


def _s3_path(location: str) -> str:
    path = location.removeprefix("s3://")
    bucket, _, key = path.partition("/")
    if not bucket or not key or key.endswith("/"):
        _fail(f"{location!r}: expected s3://bucket/key", EXIT_CONFIG)
    return path


@contextlib.contextmanager
def _local_copy(location: str, settings: Settings) -> Iterator[Path]:
    """A local file holding the archive (downloaded first when it is on S3)."""
    if not _is_s3(location):
        path = Path(location)
        if not path.is_file():
            _fail(f"{location}: no such archive")
        yield path
        return
    path_in_bucket = _s3_path(location)
    with tempfile.TemporaryDirectory(prefix="spoke-restore-") as tmp:
        local = Path(tmp) / "archive"
        try:
            _s3_filesystem(settings).get_file(path_in_bucket, str(local))
        except FileNotFoundError:
            _fail(f"{location}: no such archive")
        except Exception as exc:  # botocore/aiohttp errors: report, never a traceback
            _fail(f"{location}: cannot download ({type(exc).__name__}: {exc})")
        yield local


def _opener(path: Path) -> Any:
    def open_archive() -> contextlib.AbstractContextManager[IO[bytes]]:
        return path.open("rb")

    return open_archive


def _where(backend: str, settings: Settings) -> str:
    """``<backend> at <where it keeps its data>`` for a built-in backend (never a password)."""
    if backend == "filesystem":
        where = str(settings.filesystem_root.resolve())
    elif backend == "s3":
        where = f"s3://{settings.s3_bucket}/{settings.s3_prefix}"
    elif backend == "postgres" and settings.postgres_url:
        from spoke_plugins.postgres.engine import redact_url

        where = redact_url(settings.postgres_url)
    elif backend == "memory":
        where = "this process's memory (empty at every start)"
    else:
        return backend
    return f"{backend} at {where}"


def _describe(backends: Backends, settings: Settings) -> str:
    storage = _where(backends.storage_name, settings)
    blobs = _where(backends.blob_name, settings)
    return f"storage {storage}, blobs {blobs}"


def _warn_if_empty(summary: BackupSummary, backends: Backends, settings: Settings) -> None:
    if summary.modules or summary.versions:
        return
    if backends.storage_name == "filesystem":
        root = settings.filesystem_root.resolve()
        hint = f"nothing is stored under {root}" if root.exists() else f"{root} does not exist"
        hint += (
            f"; is SPOKE_FILESYSTEM_ROOT ({settings.filesystem_root}) right? A relative one is "
            f"taken from the working directory, {Path.cwd()}"
        )
    else:
        hint = "is SPOKE_STORAGE_TYPE, and its settings, the registry you meant?"
    click.echo(f"spoke: warning: the registry read is empty (no modules): {hint}", err=True)


def _backends(settings: Settings) -> Backends:
    from spoke.api.app import build_backends
    from spoke.plugins import UnknownBackend, create_plugin_registry

    try:
        return build_backends(settings, create_plugin_registry())
    except UnknownBackend as exc:
        _fail(f"configuration error: {exc.variable}: {exc.message}", EXIT_CONFIG)
    except SettingsError as exc:
        _fail(f"configuration error: {exc}", EXIT_CONFIG)
    except SpokeError as exc:
        _fail(f"cannot open the backends: {exc.message}")


# ---------------------------------------------------------------------------------------------
# Commands


@click.command()
@click.option(
    "--output",
    "-o",
    metavar="PATH|s3://BUCKET/KEY",
    help="Where to write the archive (.tar.gz; a name ending in .tar is not compressed).",
)
@click.option(
    "--verify",
    "verify_location",
    metavar="ARCHIVE",
    help="Check an existing archive (path or s3://) instead of writing one.",
)
def backup(output: str | None, verify_location: str | None) -> None:
    """Write a portable archive of every module, version and blob, or --verify one.

    The archive is written under a temporary name and only appears under its final name once
    complete and verified. Backends come from SPOKE_* settings, as for `spoke serve`.
    """
    if (output is None) == (verify_location is None):
        _fail("give exactly one of --output PATH or --verify ARCHIVE", EXIT_CONFIG)
    settings = _settings()
    if verify_location is not None:
        _verify(verify_location, settings)
        return
    assert output is not None
    _backup(output, settings)


def _verify(location: str, settings: Settings) -> None:
    with _local_copy(location, settings) as path, path.open("rb") as source:
        result = verify_archive(source)
    if not result.ok:
        _report(result.problems)
        _fail(f"{location}: NOT OK, {len(result.problems)} problem(s)")
    click.echo(
        f"{location}: OK ({len(result.modules)} modules, {len(result.versions)} versions, "
        f"{result.blobs} blobs)"
    )


def _backup(output: str, settings: Settings) -> None:
    compress = not output.endswith(".tar")
    s3_path = _s3_path(output) if _is_s3(output) else None
    s3 = _s3_filesystem(settings) if s3_path is not None else None  # fail fast without s3fs
    final = Path(output)
    if s3_path is None and not final.parent.is_dir():
        _fail(f"{output}: directory {final.parent} does not exist")
    backends = _backends(settings)
    click.echo(f"backup: reading {_describe(backends, settings)}")
    try:
        with contextlib.ExitStack() as cleanup:
            directory = final.parent
            if s3_path is not None:
                directory = Path(cleanup.enter_context(tempfile.TemporaryDirectory()))
            fd, temp_name = tempfile.mkstemp(
                prefix=".spoke-backup-", suffix=".partial", dir=directory
            )
            temp = Path(temp_name)
            cleanup.callback(temp.unlink, missing_ok=True)
            with os.fdopen(fd, "wb") as target:
                summary = create_backup(backends.storage, backends.blobs, target, compress=compress)
                target.flush()
                os.fsync(target.fileno())
            with temp.open("rb") as source:
                check = verify_archive(source)
            if not check.ok:
                _report(check.problems)
                _fail("the archive just written does not verify; nothing kept")
            if s3 is not None:
                try:  # one PUT: the object appears complete or not at all
                    s3.put_file(str(temp), s3_path)
                except Exception as exc:
                    _fail(f"{output}: upload failed ({type(exc).__name__}: {exc})")
            else:
                os.replace(temp, final)
    except BackupError as exc:
        _fail(f"backup failed: {exc}")
    except SpokeError as exc:
        _fail(f"backup failed: {exc.message}")
    except OSError as exc:
        _fail(f"backup failed: {output}: {exc.strerror or exc}")
    finally:
        backends.close()
    click.echo(
        f"backup: {summary.modules} modules, {summary.versions} versions, {summary.blobs} blobs, "
        f"{summary.bytes} bytes, sha256 {summary.sha256} -> {output}"
    )
    _warn_if_empty(summary, backends, settings)


@click.command()
@click.argument("archive", metavar="ARCHIVE")
@click.option("--dry-run", is_flag=True, help="Verify and plan only; write nothing.")
def restore(archive: str, dry_run: bool) -> None:
    """Load ARCHIVE (path or s3://) into the configured backends.

    Verifies the archive and checks the target first: a corrupt archive, or a version already
    stored with different content, refuses the restore and nothing is written. Existing modules
    and identical versions are kept, so restoring twice is harmless.
    """
    settings = _settings()
    with _local_copy(archive, settings) as path:
        backends = _backends(settings)
        click.echo(f"restore: into {_describe(backends, settings)}")
        try:
            summary = restore_archive(
                _opener(path), backends.storage, backends.blobs, dry_run=dry_run
            )
        except RestoreRefused as exc:
            _report(exc.problems)
            _fail(f"restore refused: {len(exc.problems)} problem(s)")
        except SpokeError as exc:
            _fail(f"restore failed: {exc.message}")
        finally:
            backends.close()
    prefix = "restore (dry run, nothing written)" if dry_run else "restore"
    click.echo(
        f"{prefix}: modules {summary.modules_created} created, {summary.modules_kept} kept; "
        f"versions {summary.versions_created} created, {summary.versions_skipped} skipped "
        f"(identical); blobs {summary.blobs_written} written, {summary.blobs_present} present"
    )
