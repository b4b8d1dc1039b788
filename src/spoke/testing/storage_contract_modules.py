"""The module half of the storage contract: create, get, update and list modules.

:class:`spoke.testing.contract.StorageContract` inherits it; use that class, not this one.
"""

from __future__ import annotations

import contextlib
import random
from dataclasses import replace
from datetime import timedelta

import pytest

from spoke.domain import (
    CompatibilityPolicy,
    Module,
)
from spoke.errors import ModuleExists, ModuleNotFound
from spoke.interfaces import Storage
from spoke.testing.builders import DEFAULT_TIME, make_module, make_version

__all__ = ["ModuleContract"]

_LATER = DEFAULT_TIME + timedelta(hours=1, microseconds=7)
# Names that share prefixes, to catch prefix scans that stop too early or too late.
_PREFIX_NAMES = ("a", "a.b", "a.b.c", "a-b", "a_b", "ab", "abc", "b", "ba")


def _names(modules: tuple[Module, ...]) -> list[str]:
    return [m.name for m in modules]


class ModuleContract:
    """Module methods of :class:`spoke.interfaces.Storage`; needs a ``storage`` fixture."""

    # -- fixtures' helpers -----------------------------------------------------------------

    @staticmethod
    def add_versions(storage: Storage, module: str, versions: list[str] | tuple[str, ...]) -> None:
        """Create ``module`` if needed and store ``versions`` in the given order."""
        with contextlib.suppress(ModuleExists):
            storage.create_module(module=make_module(module))
        for number in versions:
            storage.create_version(version=make_version(module, number))

    # -- create_module / get_module --------------------------------------------------------

    def test_storage_satisfies_the_protocol(self, storage: Storage) -> None:
        assert isinstance(storage, Storage)

    def test_create_module_returns_the_module(self, storage: Storage) -> None:
        module = make_module("acme.billing", description="Invoices")
        assert storage.create_module(module=module) == module

    def test_get_module_round_trips(self, storage: Storage) -> None:
        module = make_module(
            "acme.billing",
            description="Invoices and payments — ünïcode",
            compatibility=CompatibilityPolicy(mode="FULL_TRANSITIVE", rules="WIRE_JSON"),
            updated_at=_LATER,
        )
        storage.create_module(module=module)
        got = storage.get_module(name="acme.billing")
        assert got == module
        assert got.latest_version is None
        assert got.created_at.utcoffset() == timedelta(0)
        assert got.created_at.microsecond == DEFAULT_TIME.microsecond

    def test_create_module_twice_raises_module_exists(self, storage: Storage) -> None:
        first = make_module("acme.billing", description="first")
        storage.create_module(module=first)
        with pytest.raises(ModuleExists) as caught:
            storage.create_module(module=make_module("acme.billing", description="second"))
        assert caught.value.details == {"module": "acme.billing"}
        assert storage.get_module(name="acme.billing") == first

    def test_get_unknown_module_raises_module_not_found(self, storage: Storage) -> None:
        with pytest.raises(ModuleNotFound) as caught:
            storage.get_module(name="acme.nothing")
        assert caught.value.details == {"module": "acme.nothing"}

    def test_modules_are_independent(self, storage: Storage) -> None:
        storage.create_module(module=make_module("acme.one", description="1"))
        storage.create_module(module=make_module("acme.two", description="2"))
        assert storage.get_module(name="acme.one").description == "1"
        assert storage.get_module(name="acme.two").description == "2"

    # -- update_module ---------------------------------------------------------------------

    def test_update_module_description_only(self, storage: Storage) -> None:
        original = make_module("acme.billing", description="old")
        storage.create_module(module=original)
        updated = storage.update_module(
            name="acme.billing", description="new", compatibility=None, updated_at=_LATER
        )
        assert updated.description == "new"
        assert updated.compatibility == original.compatibility
        assert updated.created_at == original.created_at
        assert updated.updated_at == _LATER
        assert storage.get_module(name="acme.billing") == updated

    def test_update_module_compatibility_only(self, storage: Storage) -> None:
        storage.create_module(module=make_module("acme.billing", description="keep"))
        policy = CompatibilityPolicy(mode="NONE", rules="WIRE")
        updated = storage.update_module(
            name="acme.billing", description=None, compatibility=policy, updated_at=_LATER
        )
        assert updated.description == "keep"
        assert updated.compatibility == policy
        assert storage.get_module(name="acme.billing") == updated

    def test_update_module_both_fields(self, storage: Storage) -> None:
        storage.create_module(module=make_module("acme.billing", description="old"))
        policy = CompatibilityPolicy(mode="FORWARD", rules="PACKAGE")
        updated = storage.update_module(
            name="acme.billing", description="", compatibility=policy, updated_at=_LATER
        )
        assert (updated.description, updated.compatibility) == ("", policy)
        assert storage.get_module(name="acme.billing") == updated

    def test_update_module_with_nothing_changes_only_updated_at(self, storage: Storage) -> None:
        original = make_module("acme.billing", description="same")
        storage.create_module(module=original)
        updated = storage.update_module(
            name="acme.billing", description=None, compatibility=None, updated_at=_LATER
        )
        assert updated == replace(original, updated_at=_LATER)
        assert storage.get_module(name="acme.billing").updated_at == _LATER

    def test_update_module_keeps_latest_version(self, storage: Storage) -> None:
        self.add_versions(storage, "acme.billing", ["1.0.0"])
        updated = storage.update_module(
            name="acme.billing", description="x", compatibility=None, updated_at=_LATER
        )
        assert updated.latest_version == "1.0.0"
        assert storage.get_module(name="acme.billing") == updated

    def test_update_unknown_module_raises_module_not_found(self, storage: Storage) -> None:
        with pytest.raises(ModuleNotFound):
            storage.update_module(
                name="acme.nothing", description="x", compatibility=None, updated_at=_LATER
            )
        with pytest.raises(ModuleNotFound):
            storage.get_module(name="acme.nothing")

    # -- list_modules ----------------------------------------------------------------------

    def test_list_modules_of_an_empty_store(self, storage: Storage) -> None:
        page = storage.list_modules(prefix="", limit=10, offset=0)
        assert (page.items, page.total) == ((), 0)

    def test_list_modules_sorted_by_name(self, storage: Storage) -> None:
        names = list(_PREFIX_NAMES)
        random.Random(7).shuffle(names)
        for name in names:
            storage.create_module(module=make_module(name, description=name))
        page = storage.list_modules(prefix="", limit=100, offset=0)
        assert _names(page.items) == sorted(_PREFIX_NAMES)
        assert page.total == len(_PREFIX_NAMES)
        assert all(m.description == m.name for m in page.items)

    @pytest.mark.parametrize(
        ("prefix", "expected"),
        [
            ("a", ["a", "a-b", "a.b", "a.b.c", "a_b", "ab", "abc"]),
            ("a.", ["a.b", "a.b.c"]),
            ("a.b", ["a.b", "a.b.c"]),
            ("ab", ["ab", "abc"]),
            ("abc", ["abc"]),
            ("b", ["b", "ba"]),
            ("a-", ["a-b"]),
            ("c", []),
            ("abcd", []),
            ("A", []),
        ],
    )
    def test_list_modules_prefix(self, storage: Storage, prefix: str, expected: list[str]) -> None:
        for name in _PREFIX_NAMES:
            storage.create_module(module=make_module(name))
        page = storage.list_modules(prefix=prefix, limit=100, offset=0)
        assert _names(page.items) == expected
        assert page.total == len(expected)

    def test_list_modules_pages(self, storage: Storage) -> None:
        names = [f"mod{i:02d}" for i in range(7)]
        for name in reversed(names):
            storage.create_module(module=make_module(name))
        seen: list[str] = []
        for offset in range(0, 7, 3):
            page = storage.list_modules(prefix="", limit=3, offset=offset)
            assert page.total == 7
            assert len(page.items) == min(3, 7 - offset)
            seen += _names(page.items)
        assert seen == names
        beyond = storage.list_modules(prefix="", limit=3, offset=7)
        assert (beyond.items, beyond.total) == ((), 7)
        far = storage.list_modules(prefix="", limit=3, offset=100)
        assert (far.items, far.total) == ((), 7)

    def test_list_modules_pages_within_a_prefix(self, storage: Storage) -> None:
        for name in ("x.a", "x.b", "x.c", "xa", "y.a", "w.z"):
            storage.create_module(module=make_module(name))
        page = storage.list_modules(prefix="x.", limit=2, offset=1)
        assert _names(page.items) == ["x.b", "x.c"]
        assert page.total == 3

    def test_list_modules_fills_latest_version(self, storage: Storage) -> None:
        self.add_versions(storage, "acme.a", ["1.0.0", "1.10.0", "1.9.0"])
        self.add_versions(storage, "acme.b", ["1.0.0-rc.1"])
        storage.create_module(module=make_module("acme.c"))
        page = storage.list_modules(prefix="acme.", limit=10, offset=0)
        assert [(m.name, m.latest_version) for m in page.items] == [
            ("acme.a", "1.10.0"),
            ("acme.b", "1.0.0-rc.1"),
            ("acme.c", None),
        ]
