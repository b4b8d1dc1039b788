"""A backend whose optional extra is not installed: one line naming the extra, never a traceback.

The commands run in a child Python where the extra's modules cannot be imported: the child marks
them absent in ``sys.modules`` before Spoke is imported, which is what Python does for a module
that is not installed as far as ``import`` and ``importlib.util.find_spec`` can tell.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

from spoke.api.app import build_backends
from spoke.backup import create_backup
from spoke.plugins import (
    BackendNotInstalled,
    BlobBackend,
    StorageBackend,
    create_plugin_registry,
    hookimpl,
    missing_modules,
)
from spoke.settings import load_settings
from spoke_plugins.memory import MemoryBlobStore, MemoryStorage

POSTGRES_MODULES = ("sqlalchemy", "psycopg2", "alembic")
POSTGRES_HINT = "needs the postgres extra: pip install 'spoke[postgres]'"
POSTGRES_URL = "postgresql://spoke:pw@127.0.0.1:1/spoke"


def run_spoke_without(
    modules: Sequence[str], args: Sequence[str], env: dict[str, str], cwd: Path
) -> subprocess.CompletedProcess[str]:
    """``spoke ARGS`` in a child Python in which ``modules`` are not installed."""
    code = (
        "import sys\n"
        f"sys.modules.update(dict.fromkeys({list(modules)!r}))\n"
        "from spoke.cli import main\n"
        "main()\n"
    )
    environment = {k: v for k, v in os.environ.items() if not k.startswith("SPOKE_")}
    environment.update({"SPOKE_PORT": "18461", "SPOKE_HEALTH_PORT": "18462", **env})
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        env=environment,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


def assert_one_line_exit_2(result: subprocess.CompletedProcess[str], *expected: str) -> None:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    for text in expected:
        assert text in lines[0]


@pytest.fixture
def empty_archive(tmp_path: Path) -> Path:
    archive = tmp_path / "empty.tar.gz"
    with archive.open("wb") as target:
        create_backup(MemoryStorage(), MemoryBlobStore(), target, compress=True)
    return archive


@pytest.mark.parametrize(
    ("variable", "kind"), [("SPOKE_STORAGE_TYPE", "storage"), ("SPOKE_BLOB_TYPE", "blob")]
)
@pytest.mark.parametrize("command", ["serve", "backup", "restore"])
def test_selecting_postgres_without_its_extra_is_one_line_and_exit_2(
    tmp_path: Path, empty_archive: Path, variable: str, kind: str, command: str
) -> None:
    args = {
        "serve": ["serve"],
        "backup": ["backup", "--output", str(tmp_path / "out.tar.gz")],
        "restore": ["restore", str(empty_archive)],
    }[command]
    env = {variable: "postgres", "SPOKE_POSTGRES_URL": POSTGRES_URL}
    result = run_spoke_without(POSTGRES_MODULES, args, env, tmp_path)
    assert_one_line_exit_2(
        result,
        f"configuration error: {variable}: the postgres {kind} backend {POSTGRES_HINT}",
        "not installed: sqlalchemy, psycopg2, alembic",
    )
    # Refused before any backend was created: the default filesystem root was not made.
    assert not (tmp_path / "spoke-data").exists()
    assert not (tmp_path / "out.tar.gz").exists()


@pytest.mark.parametrize(
    ("args", "prefix"),
    [
        (["migrate"], "spoke: migrate "),
        (["migrate", "--check"], "spoke: migrate "),
        (["wait", "--timeout", "0"], "spoke wait: waiting for PostgreSQL "),
    ],
)
def test_migrate_and_wait_without_the_postgres_extra_say_so_in_the_same_words(
    tmp_path: Path, args: list[str], prefix: str
) -> None:
    env = {"SPOKE_STORAGE_TYPE": "postgres", "SPOKE_POSTGRES_URL": POSTGRES_URL}
    result = run_spoke_without(POSTGRES_MODULES, args, env, tmp_path)
    assert_one_line_exit_2(result, f"{prefix}{POSTGRES_HINT}", "not installed: sqlalchemy")


@pytest.mark.parametrize(
    ("modules", "env", "expected"),
    [
        (
            ["s3fs"],
            {"SPOKE_BLOB_TYPE": "s3", "SPOKE_S3_BUCKET": "spoke-blobs"},
            "SPOKE_BLOB_TYPE: the s3 blob backend needs the s3 extra: pip install 'spoke[s3]'",
        ),
        (
            ["redis"],
            {"SPOKE_STORAGE_TYPE": "memory", "SPOKE_REDIS_URL": "redis://127.0.0.1:1/0"},
            "SPOKE_CACHE_TYPE: the redis cache backend needs the redis extra: "
            "pip install 'spoke[redis]'",
        ),
    ],
)
def test_every_builtin_optional_backend_is_refused_the_same_way(
    tmp_path: Path, modules: list[str], env: dict[str, str], expected: str
) -> None:
    result = run_spoke_without(modules, ["serve"], env, tmp_path)
    assert_one_line_exit_2(result, f"spoke: configuration error: {expected}")


def test_plugins_lists_a_backend_whose_extra_is_missing_as_unusable(tmp_path: Path) -> None:
    result = run_spoke_without([*POSTGRES_MODULES, "s3fs", "redis"], ["plugins"], {}, tmp_path)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    for kind, name, hint in (
        ("storage", "postgres", POSTGRES_HINT),
        ("blob", "postgres", POSTGRES_HINT),
        ("blob", "s3", "needs the s3 extra: pip install 'spoke[s3]'"),
        ("cache", "redis", "needs the redis extra: pip install 'spoke[redis]'"),
    ):
        section = lines[lines.index(f"{kind} backends:") + 1 :]
        listed = next(i for i, line in enumerate(section) if line.split()[0] == name)
        assert section[listed + 1].split()[0] == "unusable:", result.stdout
        assert f"the {name} {kind} backend {hint}" in section[listed + 1]
    memory = next(i for i, line in enumerate(lines) if line.split()[0] == "memory")
    assert "unusable" not in lines[memory + 1]


def test_installed_extras_leave_every_builtin_backend_usable() -> None:
    catalog = create_plugin_registry().catalog()
    for descriptor in (*catalog.storage, *catalog.blob, *catalog.cache):
        assert descriptor.unusable_reason() is None, descriptor.name
    by_name = {d.name: d for d in catalog.blob}
    assert by_name["postgres"].extra == "postgres"
    assert set(by_name["postgres"].requires) == set(POSTGRES_MODULES)


class _NeedsADriver:
    """A third-party plugin whose blob backend needs a driver nobody installed."""

    def __init__(self) -> None:
        self.created: list[str] = []

    @hookimpl
    def spoke_storage_backends(self) -> list[StorageBackend]:
        return [StorageBackend("plain", "needs nothing", self._storage)]

    @hookimpl
    def spoke_blob_backends(self) -> list[BlobBackend]:
        return [
            BlobBackend(
                "exotic",
                "needs a driver",
                lambda settings: MemoryBlobStore(),
                requires=("spoke_test_no_such_driver",),
            )
        ]

    def _storage(self, settings: object) -> MemoryStorage:
        self.created.append("plain")
        return MemoryStorage()


def test_a_backend_with_a_missing_module_is_refused_before_anything_is_created() -> None:
    plugin = _NeedsADriver()
    registry = create_plugin_registry()
    registry.register(plugin, name="needs-a-driver")
    settings = load_settings({"SPOKE_STORAGE_TYPE": "plain", "SPOKE_BLOB_TYPE": "exotic"})
    with pytest.raises(BackendNotInstalled) as caught:
        build_backends(settings, registry)
    assert caught.value.variable == "SPOKE_BLOB_TYPE"
    assert str(caught.value) == (
        "SPOKE_BLOB_TYPE: the exotic blob backend needs modules that are not installed: "
        "spoke_test_no_such_driver"
    )
    assert plugin.created == []
    # The plugin's name is filled in and what it requires is kept.
    exotic = next(d for d in registry.catalog().blob if d.name == "exotic")
    assert (exotic.plugin, exotic.requires) == ("needs-a-driver", ("spoke_test_no_such_driver",))


def test_missing_modules_finds_without_importing() -> None:
    assert missing_modules(["json", "spoke_test_no_such_driver"]) == ("spoke_test_no_such_driver",)
    assert "tabnanny" not in sys.modules
    assert missing_modules(["tabnanny"]) == ()
    assert "tabnanny" not in sys.modules
