"""The contract of :class:`spoke.interfaces.Storage`, as a pytest class to subclass.

Use it through :mod:`spoke.testing.contract`. The subclass provides a ``storage`` fixture that
returns a fresh, empty backend (and closes it afterwards)::

    class TestMyStorage(StorageContract):
        @pytest.fixture
        def storage(self, tmp_path):
            backend = MyStorage(...)
            yield backend
            backend.close()
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Any, TypeVar

import pytest

from spoke.domain import (
    DependencyRef,
    Module,
    ModuleName,
    SourceInfo,
    Version,
    VersionString,
)
from spoke.errors import ModuleExists, ModuleNotFound, VersionNotFound
from spoke.interfaces import RegistryStats, Storage, VersionAlreadyStored
from spoke.testing.builders import DEFAULT_TIME, SEMVER_PRECEDENCE, make_module, make_version
from spoke.testing.storage_contract_modules import ModuleContract

__all__ = ["StorageContract", "run_concurrently"]

T = TypeVar("T")

_LATER = DEFAULT_TIME + timedelta(hours=1, microseconds=7)
# Names that share prefixes, to catch prefix scans that stop too early or too late.
_PREFIX_NAMES = ("a", "a.b", "a.b.c", "a-b", "a_b", "ab", "abc", "b", "ba")


def run_concurrently(count: int, work: Callable[[int], T]) -> list[T | BaseException]:
    """Run ``work(i)`` in ``count`` threads released together; each result or exception."""
    barrier = threading.Barrier(count)
    results: list[T | BaseException] = [RuntimeError("did not run")] * count

    def run(index: int) -> None:
        barrier.wait()
        try:
            results[index] = work(index)
        except BaseException as exc:  # collected and examined by the test
            results[index] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def _names(modules: tuple[Module, ...]) -> list[str]:
    return [m.name for m in modules]


def _numbers(versions: tuple[Version, ...]) -> list[str]:
    return [v.version for v in versions]


class StorageContract(ModuleContract):
    """Every method and documented error of :class:`spoke.interfaces.Storage`.

    Subclass it as ``TestSomething`` and provide a ``storage`` fixture returning a fresh,
    empty backend.
    """

    # -- create_version / get_version ------------------------------------------------------

    def test_create_version_of_unknown_module_raises_module_not_found(
        self, storage: Storage
    ) -> None:
        with pytest.raises(ModuleNotFound):
            storage.create_version(version=make_version("acme.nothing", "1.0.0"))
        assert storage.statistics() == RegistryStats(modules=0, versions=0)

    def test_get_version_round_trips_every_field(self, storage: Storage) -> None:
        self.add_versions(storage, "acme.common", ["1.0.0", "2.1.0-rc.1"])
        storage.create_module(module=make_module("acme.billing"))
        version = make_version(
            "acme.billing",
            "1.2.3-beta.4+build.5",
            deps=["acme.common@1.0.0", "acme.common@2.1.0-rc.1"],
            files={
                "acme/billing/v1/a.proto": b'syntax = "proto3";\n',
                "acme/billing/v1/b.proto": b"",
                "acme/billing/v1/c d.proto": "// ünïcode\n".encode(),
            },
            source_info=SourceInfo(
                repository="https://git.example/acme/billing", commit_sha="ab" * 20, branch="main"
            ),
            created_at=DEFAULT_TIME.replace(microsecond=999999),
        )
        storage.create_version(version=version)
        got = storage.get_version(module="acme.billing", version="1.2.3-beta.4+build.5")
        assert got == version
        assert got.sort_key == version.sort_key
        assert got.dependencies == version.dependencies
        assert got.files == version.files
        assert got.created_at.microsecond == 999999
        assert got.created_at.utcoffset() == timedelta(0)

    def test_get_version_round_trips_without_source_info(self, storage: Storage) -> None:
        self.add_versions(storage, "acme.billing", [])
        version = make_version("acme.billing", "0.0.1", source_info=None)
        storage.create_version(version=version)
        got = storage.get_version(module="acme.billing", version="0.0.1")
        assert got == version
        assert got.source_info is None
        assert got.dependencies == ()

    def test_get_version_with_partial_source_info(self, storage: Storage) -> None:
        self.add_versions(storage, "acme.billing", [])
        version = make_version("acme.billing", "0.1.0", source_info=SourceInfo(branch="dev"))
        storage.create_version(version=version)
        assert storage.get_version(module="acme.billing", version="0.1.0") == version

    def test_get_version_of_unknown_module_raises_module_not_found(self, storage: Storage) -> None:
        with pytest.raises(ModuleNotFound):
            storage.get_version(module="acme.nothing", version="1.0.0")

    def test_get_unknown_version_raises_version_not_found(self, storage: Storage) -> None:
        self.add_versions(storage, "acme.billing", ["1.0.0"])
        with pytest.raises(VersionNotFound) as caught:
            storage.get_version(module="acme.billing", version="1.0.1")
        assert caught.value.details == {"module": "acme.billing", "version": "1.0.1"}
        with pytest.raises(VersionNotFound):
            storage.get_version(module="acme.billing", version="1.0.0+build")

    def test_versions_belong_to_their_module(self, storage: Storage) -> None:
        self.add_versions(storage, "acme.a", ["1.0.0"])
        self.add_versions(storage, "acme.b", [])
        with pytest.raises(VersionNotFound):
            storage.get_version(module="acme.b", version="1.0.0")

    def test_second_create_version_raises_with_the_first(self, storage: Storage) -> None:
        self.add_versions(storage, "acme.billing", [])
        first = make_version("acme.billing", "1.0.0", files={"a.proto": b"first"})
        second = make_version(
            "acme.billing",
            "1.0.0",
            files={"a.proto": b"second"},
            deps=["acme.billing@0.9.0"],
            created_at=_LATER,
        )
        storage.create_version(version=first)
        with pytest.raises(VersionAlreadyStored) as caught:
            storage.create_version(version=second)
        assert caught.value.existing == first
        assert storage.get_version(module="acme.billing", version="1.0.0") == first
        assert storage.list_dependents(module="acme.billing", version="0.9.0") == ()
        assert storage.statistics().versions == 1

    def test_identical_create_version_also_raises(self, storage: Storage) -> None:
        self.add_versions(storage, "acme.billing", [])
        version = make_version("acme.billing", "1.0.0")
        storage.create_version(version=version)
        with pytest.raises(VersionAlreadyStored) as caught:
            storage.create_version(version=version)
        assert caught.value.existing == version
        assert caught.value.existing.same_content(version)

    def test_build_metadata_makes_a_different_version(self, storage: Storage) -> None:
        self.add_versions(storage, "acme.billing", ["1.0.0", "1.0.0+build.1"])
        assert storage.statistics().versions == 2
        got = storage.get_version(module="acme.billing", version="1.0.0+build.1")
        assert got.version == "1.0.0+build.1"

    # -- list_versions ---------------------------------------------------------------------

    def test_list_versions_newest_first_by_semver_precedence(self, storage: Storage) -> None:
        shuffled = list(SEMVER_PRECEDENCE)
        random.Random(11).shuffle(shuffled)
        self.add_versions(storage, "acme.billing", shuffled)
        page = storage.list_versions(module="acme.billing", limit=100, offset=0)
        assert _numbers(page.items) == list(reversed(SEMVER_PRECEDENCE))
        assert page.total == len(SEMVER_PRECEDENCE)

    def test_list_versions_orders_numbers_numerically(self, storage: Storage) -> None:
        numbers = ["0.9.0", "0.10.0", "0.10.1", "9.0.0", "10.0.0", "1.0.0-rc.9", "1.0.0-rc.10"]
        self.add_versions(storage, "acme.billing", numbers)
        page = storage.list_versions(module="acme.billing", limit=100, offset=0)
        assert _numbers(page.items) == [
            "10.0.0",
            "9.0.0",
            "1.0.0-rc.10",
            "1.0.0-rc.9",
            "0.10.1",
            "0.10.0",
            "0.9.0",
        ]

    def test_build_metadata_ties_break_by_descending_version_string(self, storage: Storage) -> None:
        numbers = ["1.0.0+b.2", "1.0.0", "1.0.0+b.10", "1.0.0-rc.1+z", "1.0.0-rc.1", "1.0.1"]
        self.add_versions(storage, "acme.billing", numbers)
        page = storage.list_versions(module="acme.billing", limit=100, offset=0)
        # Equal precedence; "1.0.0+b.2" > "1.0.0+b.10" > "1.0.0" as strings.
        assert _numbers(page.items) == [
            "1.0.1",
            "1.0.0+b.2",
            "1.0.0+b.10",
            "1.0.0",
            "1.0.0-rc.1+z",
            "1.0.0-rc.1",
        ]

    def test_list_versions_pages(self, storage: Storage) -> None:
        self.add_versions(storage, "acme.billing", SEMVER_PRECEDENCE)
        newest_first = list(reversed(SEMVER_PRECEDENCE))
        seen: list[str] = []
        for offset in range(0, len(newest_first), 4):
            page = storage.list_versions(module="acme.billing", limit=4, offset=offset)
            assert page.total == len(newest_first)
            seen += _numbers(page.items)
        assert seen == newest_first
        beyond = storage.list_versions(module="acme.billing", limit=4, offset=50)
        assert (beyond.items, beyond.total) == ((), len(newest_first))

    def test_list_versions_returns_full_records(self, storage: Storage) -> None:
        self.add_versions(storage, "acme.billing", [])
        version = make_version("acme.billing", "1.0.0", source_info=SourceInfo(branch="main"))
        storage.create_version(version=version)
        page = storage.list_versions(module="acme.billing", limit=1, offset=0)
        assert page.items == (version,)

    def test_list_versions_of_a_module_without_versions(self, storage: Storage) -> None:
        storage.create_module(module=make_module("acme.billing"))
        page = storage.list_versions(module="acme.billing", limit=10, offset=0)
        assert (page.items, page.total) == ((), 0)

    def test_list_versions_of_unknown_module_raises_module_not_found(
        self, storage: Storage
    ) -> None:
        with pytest.raises(ModuleNotFound):
            storage.list_versions(module="acme.nothing", limit=10, offset=0)

    # -- latest ----------------------------------------------------------------------------

    @pytest.mark.parametrize(
        ("numbers", "latest"),
        [
            (["1.0.0"], "1.0.0"),
            (list(SEMVER_PRECEDENCE), "2.0.0"),
            (["1.0.0", "2.0.0-rc.1", "3.0.0-alpha"], "1.0.0"),
            (["1.9.0", "1.10.0", "1.2.0"], "1.10.0"),
            (["1.0.0-alpha", "1.0.0-beta.2", "1.0.0-beta.11"], "1.0.0-beta.11"),
            (["0.1.0-rc.1", "0.0.1"], "0.0.1"),
            (["1.0.0", "1.0.0+build.7"], "1.0.0+build.7"),
        ],
    )
    def test_latest_version_rule(self, storage: Storage, numbers: list[str], latest: str) -> None:
        self.add_versions(storage, "acme.billing", numbers)
        assert storage.get_latest_version(module="acme.billing").version == latest
        assert storage.get_module(name="acme.billing").latest_version == latest
        (listed,) = storage.list_modules(prefix="acme.billing", limit=1, offset=0).items
        assert listed.latest_version == latest

    def test_latest_version_returns_the_full_record(self, storage: Storage) -> None:
        self.add_versions(storage, "acme.billing", ["0.9.0"])
        version = make_version("acme.billing", "1.0.0", deps=["acme.billing@0.9.0"])
        storage.create_version(version=version)
        assert storage.get_latest_version(module="acme.billing") == version

    def test_latest_version_moves_as_versions_arrive(self, storage: Storage) -> None:
        self.add_versions(storage, "acme.billing", ["1.0.0-rc.1"])
        assert storage.get_module(name="acme.billing").latest_version == "1.0.0-rc.1"
        self.add_versions(storage, "acme.billing", ["0.5.0"])
        assert storage.get_module(name="acme.billing").latest_version == "0.5.0"
        self.add_versions(storage, "acme.billing", ["2.0.0-rc.1", "1.1.0"])
        assert storage.get_module(name="acme.billing").latest_version == "1.1.0"

    def test_latest_version_without_versions_raises_version_not_found(
        self, storage: Storage
    ) -> None:
        storage.create_module(module=make_module("acme.billing"))
        with pytest.raises(VersionNotFound) as caught:
            storage.get_latest_version(module="acme.billing")
        assert caught.value.details == {"module": "acme.billing", "version": "latest"}

    def test_latest_version_of_unknown_module_raises_module_not_found(
        self, storage: Storage
    ) -> None:
        with pytest.raises(ModuleNotFound):
            storage.get_latest_version(module="acme.nothing")

    # -- list_dependents -------------------------------------------------------------------

    def test_list_dependents_direct_and_sorted(self, storage: Storage) -> None:
        self.add_versions(storage, "acme.common", ["1.0.0", "2.0.0"])
        storage.create_module(module=make_module("acme.billing"))
        storage.create_module(module=make_module("acme.app"))
        for module, number, deps in [
            ("acme.billing", "1.10.0", ["acme.common@1.0.0"]),
            ("acme.billing", "1.9.0", ["acme.common@1.0.0"]),
            ("acme.billing", "2.0.0", ["acme.common@2.0.0"]),
            ("acme.app", "0.1.0", ["acme.common@1.0.0", "acme.billing@1.9.0"]),
            ("acme.app", "0.2.0", ["acme.billing@1.9.0"]),
        ]:
            storage.create_version(version=make_version(module, number, deps=deps))

        def refs(*pairs: str) -> tuple[DependencyRef, ...]:
            return tuple(
                DependencyRef(ModuleName(m), VersionString(v))
                for m, v in (p.split("@") for p in pairs)
            )

        assert storage.list_dependents(module="acme.common", version="1.0.0") == refs(
            "acme.app@0.1.0", "acme.billing@1.10.0", "acme.billing@1.9.0"
        )
        assert storage.list_dependents(module="acme.common", version="2.0.0") == refs(
            "acme.billing@2.0.0"
        )
        # Direct only: acme.app@0.2.0 depends on acme.common@1.0.0 through acme.billing only.
        assert storage.list_dependents(module="acme.billing", version="1.9.0") == refs(
            "acme.app@0.1.0", "acme.app@0.2.0"
        )
        assert storage.list_dependents(module="acme.app", version="0.1.0") == ()

    def test_list_dependents_of_unknown_things_is_empty(self, storage: Storage) -> None:
        self.add_versions(storage, "acme.common", ["1.0.0"])
        assert storage.list_dependents(module="acme.nothing", version="1.0.0") == ()
        assert storage.list_dependents(module="acme.common", version="9.9.9") == ()
        assert storage.list_dependents(module="acme.common", version="1.0.0") == ()

    def test_dependency_need_not_be_stored(self, storage: Storage) -> None:
        # Storage does not check pins; the service does. The index still records them.
        self.add_versions(storage, "acme.billing", [])
        storage.create_version(version=make_version("acme.billing", "1.0.0", deps=["x.y@3.0.0"]))
        assert [str(r) for r in storage.list_dependents(module="x.y", version="3.0.0")] == [
            "acme.billing@1.0.0"
        ]

    # -- statistics, check, close ----------------------------------------------------------

    def test_statistics(self, storage: Storage) -> None:
        assert storage.statistics() == RegistryStats(modules=0, versions=0)
        self.add_versions(storage, "acme.a", ["1.0.0", "1.1.0", "2.0.0-rc.1"])
        self.add_versions(storage, "acme.b", ["0.1.0"])
        storage.create_module(module=make_module("acme.c"))
        assert storage.statistics() == RegistryStats(modules=3, versions=4)

    def test_check_passes(self, storage: Storage) -> None:
        storage.check()

    def test_close_is_idempotent(self, storage: Storage) -> None:
        storage.close()
        storage.close()

    # -- concurrency -----------------------------------------------------------------------

    def test_racing_create_version_has_exactly_one_winner(self, storage: Storage) -> None:
        storage.create_module(module=make_module("acme.billing"))
        candidates = [
            make_version("acme.billing", "1.0.0", files={"a.proto": f"racer {i}".encode()})
            for i in range(16)
        ]

        def push(index: int) -> Version:
            storage.create_version(version=candidates[index])
            return candidates[index]

        results = run_concurrently(16, push)
        winners = [r for r in results if isinstance(r, Version)]
        losers = [r for r in results if isinstance(r, VersionAlreadyStored)]
        assert len(winners) == 1, results
        assert len(losers) == 15, results
        assert all(loser.existing == winners[0] for loser in losers)
        assert storage.get_version(module="acme.billing", version="1.0.0") == winners[0]
        assert storage.statistics().versions == 1

    def test_racing_create_module_has_exactly_one_winner(self, storage: Storage) -> None:
        def create(index: int) -> Module:
            return storage.create_module(
                module=make_module("acme.billing", description=f"racer {index}")
            )

        results = run_concurrently(8, create)
        winners = [r for r in results if isinstance(r, Module)]
        assert len(winners) == 1, results
        assert sum(isinstance(r, ModuleExists) for r in results) == 7, results
        assert storage.get_module(name="acme.billing") == winners[0]

    def test_concurrent_distinct_versions_are_all_stored(self, storage: Storage) -> None:
        storage.create_module(module=make_module("acme.billing"))
        storage.create_module(module=make_module("acme.common"))

        def push(index: int) -> None:
            storage.create_version(
                version=make_version("acme.billing", f"1.{index}.0", deps=["acme.common@1.0.0"])
            )

        results = run_concurrently(8, push)
        assert results == [None] * 8
        page = storage.list_versions(module="acme.billing", limit=100, offset=0)
        assert _numbers(page.items) == [f"1.{i}.0" for i in reversed(range(8))]
        assert len(storage.list_dependents(module="acme.common", version="1.0.0")) == 8
        assert storage.get_module(name="acme.billing").latest_version == "1.7.0"

    def test_concurrent_updates_all_apply_to_a_valid_module(self, storage: Storage) -> None:
        storage.create_module(module=make_module("acme.billing"))

        def update(index: int) -> Any:
            return storage.update_module(
                name="acme.billing",
                description=f"writer {index}",
                compatibility=None,
                updated_at=_LATER + timedelta(seconds=index),
            )

        results = run_concurrently(8, update)
        assert all(isinstance(r, Module) for r in results), results
        final = storage.get_module(name="acme.billing")
        assert final.description in {f"writer {i}" for i in range(8)}
        index = int(final.description.split()[1])
        assert final.updated_at == _LATER + timedelta(seconds=index)
