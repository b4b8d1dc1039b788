"""The plugin registry: entry points, descriptors, selection by name, and failures reported."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest

from spoke.api.app import build_backends
from spoke.plugins import (
    BlobBackend,
    CacheBackend,
    PluginRegistry,
    StorageBackend,
    UnknownBackend,
    create_plugin_registry,
    hookimpl,
)
from spoke.settings import load_settings
from spoke_plugins.memory import MemoryBlobStore, MemoryStorage, NullCache


class _TinyStorage(MemoryStorage):
    """A storage that is a memory storage under another name."""


class _TinyPlugin:
    @hookimpl
    def spoke_storage_backends(self) -> list[StorageBackend]:
        return [StorageBackend("tiny", "A test backend.", lambda settings: _TinyStorage())]


def test_builtin_backends_register_through_entry_points() -> None:
    catalog = create_plugin_registry().catalog()
    assert {"memory", "filesystem"} <= set(catalog.names("storage"))
    assert {"memory", "filesystem"} <= set(catalog.names("blob"))
    assert {"memory", "none"} <= set(catalog.names("cache"))
    by_name = {d.name: d for d in catalog.storage}
    assert by_name["filesystem"].plugin == "filesystem"
    assert by_name["memory"].plugin == "memory"


def test_a_registered_plugin_backend_is_selected_by_storage_type() -> None:
    registry = create_plugin_registry()
    registry.register(_TinyPlugin(), name="tiny-plugin")
    settings = load_settings({"SPOKE_STORAGE_TYPE": "tiny", "SPOKE_BLOB_TYPE": "memory"})
    backends = build_backends(settings, registry)
    assert isinstance(backends.storage, _TinyStorage)
    assert isinstance(backends.blobs, MemoryBlobStore)
    assert backends.storage_name == "tiny"


def test_cache_disabled_selects_the_null_cache() -> None:
    settings = load_settings({"SPOKE_STORAGE_TYPE": "memory", "SPOKE_CACHE_ENABLED": "no"})
    backends = build_backends(settings, create_plugin_registry())
    assert isinstance(backends.cache, NullCache)


def test_unknown_storage_type_lists_installed_backends() -> None:
    settings = load_settings({"SPOKE_STORAGE_TYPE": "cassandra"})
    with pytest.raises(UnknownBackend) as caught:
        build_backends(settings, create_plugin_registry())
    assert caught.value.variable == "SPOKE_STORAGE_TYPE"
    assert "unknown storage backend 'cassandra'" in caught.value.message
    assert "filesystem, memory" in caught.value.message


def test_a_hook_returning_the_wrong_type_is_reported_and_others_still_load() -> None:
    class WrongType:
        @hookimpl
        def spoke_blob_backends(self) -> list[object]:
            return [StorageBackend("oops", "storage in the blob hook", lambda s: MemoryStorage())]

    registry = create_plugin_registry()
    registry.register(WrongType(), name="wrong-type")
    catalog = registry.catalog()
    assert "oops" not in catalog.names("blob")
    assert "memory" in catalog.names("blob")
    failure = next(f for f in catalog.failures if f.plugin == "wrong-type")
    assert "expected BlobBackend" in failure.error


def test_a_hook_that_raises_is_reported_by_plugin_name() -> None:
    class Raising:
        @hookimpl
        def spoke_cache_backends(self) -> list[CacheBackend]:
            raise RuntimeError("driver missing")

    registry = create_plugin_registry()
    registry.register(Raising(), name="raising")
    catalog = registry.catalog()
    assert any(f.plugin == "raising" and "driver missing" in f.error for f in catalog.failures)
    assert "memory" in catalog.names("cache")


def test_two_plugins_claiming_one_name_is_reported() -> None:
    class Clash:
        @hookimpl
        def spoke_storage_backends(self) -> list[StorageBackend]:
            return [StorageBackend("memory", "an impostor", lambda s: _TinyStorage())]

    registry = create_plugin_registry()
    registry.register(Clash(), name="clash")
    catalog = registry.catalog()
    chosen = [d for d in catalog.storage if d.name == "memory"]
    assert len(chosen) == 1
    assert any("already provided" in f.error for f in catalog.failures)


def test_a_factory_that_fails_closes_what_was_already_opened() -> None:
    closed: list[str] = []

    class Closing(MemoryStorage):
        def close(self) -> None:
            closed.append("storage")

    class BadBlob:
        @hookimpl
        def spoke_storage_backends(self) -> list[StorageBackend]:
            return [StorageBackend("closing", "records close", lambda s: Closing())]

        @hookimpl
        def spoke_blob_backends(self) -> list[BlobBackend]:
            def fail(settings: object) -> MemoryBlobStore:
                raise ConnectionError("bucket unreachable")

            return [BlobBackend("broken", "fails", fail)]

    registry = create_plugin_registry()
    registry.register(BadBlob(), name="bad-blob")
    settings = load_settings({"SPOKE_STORAGE_TYPE": "closing", "SPOKE_BLOB_TYPE": "broken"})
    with pytest.raises(ConnectionError):
        build_backends(settings, registry)
    assert closed == ["storage"]


@pytest.fixture
def fake_distribution(tmp_path: Path) -> Iterator[Path]:
    """An installed distribution (a dist-info on sys.path) declaring entry points."""
    package = tmp_path / "broken_spoke_plugin.py"
    package.write_text("raise ImportError('needs the frobnicator driver')\n")
    good = tmp_path / "good_spoke_plugin.py"
    good.write_text(
        textwrap.dedent(
            """
            from spoke.plugins import StorageBackend, hookimpl
            from spoke_plugins.memory import MemoryStorage

            @hookimpl
            def spoke_storage_backends():
                return [StorageBackend("good", "from an entry point", lambda s: MemoryStorage())]
            """
        )
    )
    dist = tmp_path / "fake_spoke_plugins-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: fake-spoke-plugins\nVersion: 1.0\n"
    )
    (dist / "entry_points.txt").write_text(
        "[spoke-test]\nbroken = broken_spoke_plugin\ngood = good_spoke_plugin\n"
    )
    sys.path.insert(0, str(tmp_path))
    try:
        yield tmp_path
    finally:
        sys.path.remove(str(tmp_path))
        for name in ("broken_spoke_plugin", "good_spoke_plugin"):
            sys.modules.pop(name, None)


def test_an_entry_point_that_fails_to_import_is_named_in_the_error(
    fake_distribution: Path,
) -> None:
    registry = PluginRegistry()
    registry.load_entry_points(group="spoke-test")
    catalog = registry.catalog()
    assert catalog.names("storage") == ["good"]
    failure = next(f for f in catalog.failures if f.plugin == "broken")
    assert "needs the frobnicator driver" in failure.error
    with pytest.raises(UnknownBackend) as caught:
        catalog.storage_backend("frob")
    assert "installed: good" in caught.value.message
    assert "failed to load: broken (ImportError: needs the frobnicator driver)" in (
        caught.value.message
    )


def test_descriptors_are_small_frozen_records() -> None:
    descriptor = StorageBackend("x", "y", lambda s: MemoryStorage())
    with pytest.raises(AttributeError):
        descriptor.name = "z"  # type: ignore[misc]
    assert SimpleNamespace(name=descriptor.name, description=descriptor.description) == (
        SimpleNamespace(name="x", description="y")
    )


def test_a_hook_with_a_wrong_signature_is_reported_not_fatal() -> None:
    class WrongSignature:
        @hookimpl
        def spoke_storage_backends(self, settings: object) -> list[StorageBackend]:
            return []

    registry = create_plugin_registry()
    registry.register(WrongSignature(), name="wrong-signature")
    catalog = registry.catalog()
    assert any(f.plugin == "wrong-signature" for f in catalog.failures)
    assert "memory" in catalog.names("storage")


def test_a_misspelt_hook_is_reported_and_the_plugin_left_out() -> None:
    class Misspelt:
        @hookimpl
        def spoke_storage_backend(self) -> list[StorageBackend]:
            return [StorageBackend("typo", "never offered", lambda s: MemoryStorage())]

    registry = create_plugin_registry()
    registry.register(Misspelt(), name="misspelt")
    catalog = registry.catalog()
    failure = next(f for f in catalog.failures if f.plugin == "misspelt")
    assert failure.error == "unknown hook(s): spoke_storage_backend"
    assert registry.manager.get_plugin("misspelt") is None


def test_a_storage_only_plugin_gets_a_hint_to_set_the_blob_type() -> None:
    registry = create_plugin_registry()
    registry.register(_TinyPlugin(), name="tiny-plugin")
    with pytest.raises(UnknownBackend) as caught:
        build_backends(load_settings({"SPOKE_STORAGE_TYPE": "tiny"}), registry)
    assert caught.value.variable == "SPOKE_BLOB_TYPE"
    assert "set SPOKE_BLOB_TYPE" in caught.value.message


def test_two_distributions_using_one_entry_point_name_is_reported(tmp_path: Path) -> None:
    for dist_name, module in (("first", "first_spoke_plugin"), ("second", "second_spoke_plugin")):
        (tmp_path / f"{module}.py").write_text("")
        dist = tmp_path / f"{dist_name}-1.0.dist-info"
        dist.mkdir()
        (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist_name}\nVersion: 1.0\n")
        (dist / "entry_points.txt").write_text(f"[spoke-dup]\nsame = {module}\n")
    sys.path.insert(0, str(tmp_path))
    try:
        registry = PluginRegistry()
        registry.load_entry_points(group="spoke-dup")
    finally:
        sys.path.remove(str(tmp_path))
        for name in ("first_spoke_plugin", "second_spoke_plugin"):
            sys.modules.pop(name, None)
    assert len(registry.failures) == 1
    assert "entry point name already used" in registry.failures[0].error
