"""The contract of :class:`spoke.interfaces.StoresArtifacts`, as a pytest class to subclass.

The artifact index is optional for storage backends; a backend that implements it should pass
this suite. Use it through :mod:`spoke.testing.contract`. The subclass provides a ``storage``
fixture returning a fresh, empty backend, the same fixture :class:`StorageContract` uses, so the
two suites can share it::

    class TestMyStorageArtifacts(ArtifactContract):
        @pytest.fixture
        def storage(self, tmp_path):
            backend = MyStorage(...)
            yield backend
            backend.close()
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from spoke.interfaces import (
    MAX_ARTIFACT_METADATA_BYTES,
    Artifact,
    Storage,
    StoresArtifacts,
    VersionAlreadyStored,
)
from spoke.testing.builders import DEFAULT_TIME, make_module, make_version
from spoke.testing.storage_contract import run_concurrently

__all__ = ["ArtifactContract", "make_artifact"]

_KEY = "codegen:" + "0" * 64
_ZIP = "application/zip"


def make_artifact(
    key: str = _KEY,
    *,
    data: bytes = b"PK\x05\x06" + bytes(18),
    media_type: str = _ZIP,
    created_at: datetime = DEFAULT_TIME,
    metadata: dict[str, str] | None = None,
) -> Artifact:
    """An artifact entry for ``data`` (digest and size are the real ones), with defaults."""
    return Artifact(
        key=key,
        digest=hashlib.sha256(data).hexdigest(),
        size=len(data),
        media_type=media_type,
        created_at=created_at,
        metadata=(
            {"language": "python", "module": "acme.billing", "version": "1.0.0"}
            if metadata is None
            else metadata
        ),
    )


_BAD_KEYS: tuple[Any, ...] = (
    "",
    "Codegen:abc",  # upper case
    "codegen/abc",
    "../../etc/passwd",
    "codegen abc",
    "codegen:abc\n",
    "clé",
    "a" * 201,
    None,
    42,
    b"codegen:abc",
)
_GOOD_KEYS = (
    "a",
    "0",
    ".",
    "..",
    ".tmp-1-abc",  # looks like a filesystem backend's temporary file
    "-",
    ":",
    "codegen:" + "f" * 64,
    "a-b.c_d:e-0.9",
    "z" * 200,
)


class ArtifactContract:
    """Every method and documented error of :class:`spoke.interfaces.StoresArtifacts`.

    Subclass it as ``TestSomething`` and provide a ``storage`` fixture returning a fresh, empty
    backend that implements the optional protocol.
    """

    def test_storage_has_the_optional_protocol(self, storage: Any) -> None:
        assert isinstance(storage, StoresArtifacts)
        assert isinstance(storage, Storage)

    # -- get / put -------------------------------------------------------------------------

    def test_absent_key_is_none(self, storage: StoresArtifacts) -> None:
        assert storage.get_artifact(key=_KEY) is None
        storage.put_artifact(artifact=make_artifact("codegen:other"))
        assert storage.get_artifact(key=_KEY) is None

    def test_put_then_get_round_trips_every_field(self, storage: StoresArtifacts) -> None:
        artifact = make_artifact(
            created_at=DEFAULT_TIME.replace(microsecond=999999),
            metadata={
                "language": "python",
                "generator": "grpcio-tools 1.68.1",
                "module": "acme.billing",
                "version": "1.2.3-beta.4+build.5",
                "fingerprint": "sha256:" + "ab" * 32,
                "empty": "",
            },
        )
        returned = storage.put_artifact(artifact=artifact)
        assert returned == artifact
        got = storage.get_artifact(key=artifact.key)
        assert got == artifact
        assert got is not None
        assert (got.key, got.digest, got.size, got.media_type) == (
            artifact.key,
            artifact.digest,
            artifact.size,
            artifact.media_type,
        )
        assert dict(got.metadata) == dict(artifact.metadata)
        assert got.created_at == artifact.created_at
        assert got.created_at.microsecond == 999999
        assert got.created_at.utcoffset() == timedelta(0)

    def test_created_at_in_another_zone_comes_back_in_utc(self, storage: StoresArtifacts) -> None:
        zone = timezone(timedelta(hours=-7, minutes=-30))
        moment = datetime(2026, 11, 27, 23, 59, 58, 5, tzinfo=zone)
        storage.put_artifact(artifact=make_artifact(created_at=moment))
        got = storage.get_artifact(key=_KEY)
        assert got is not None
        assert got.created_at == moment
        assert got.created_at.utcoffset() == timedelta(0)
        assert got.created_at == moment.astimezone(UTC)

    def test_large_size_and_empty_metadata(self, storage: StoresArtifacts) -> None:
        artifact = replace(make_artifact(metadata={}), size=5 * 1024**4)  # beyond 32 bits
        storage.put_artifact(artifact=artifact)
        got = storage.get_artifact(key=_KEY)
        assert got == artifact
        assert got is not None and dict(got.metadata) == {}

    def test_metadata_with_unicode(self, storage: StoresArtifacts) -> None:
        metadata = {
            "description": "Überweisungen — 支付 — платежи — 💸",
            "ключ": "значение",
            "emoji🔑": "\U0010fffd",
            "quotes": "\"'\\\t\n",
        }
        artifact = make_artifact(metadata=metadata)
        assert storage.put_artifact(artifact=artifact) == artifact
        got = storage.get_artifact(key=_KEY)
        assert got is not None
        assert dict(got.metadata) == metadata

    def test_metadata_up_to_the_limit(self, storage: StoresArtifacts) -> None:
        # {"m":"xx...x"} is exactly the limit as compact JSON.
        metadata = {"m": "x" * (MAX_ARTIFACT_METADATA_BYTES - len('{"m":""}'))}
        artifact = make_artifact(metadata=metadata)
        assert storage.put_artifact(artifact=artifact) == artifact
        assert storage.get_artifact(key=_KEY) == artifact

    def test_the_stored_metadata_is_a_copy(self, storage: StoresArtifacts) -> None:
        metadata = {"language": "python"}
        storage.put_artifact(artifact=make_artifact(metadata=metadata))
        metadata["language"] = "changed after the put"
        got = storage.get_artifact(key=_KEY)
        assert got is not None and dict(got.metadata) == {"language": "python"}

    def test_keys_are_independent(self, storage: StoresArtifacts) -> None:
        stored = {}
        for index, key in enumerate(_GOOD_KEYS):
            artifact = make_artifact(key, data=f"archive {index}".encode())
            assert storage.put_artifact(artifact=artifact) == artifact
            stored[key] = artifact
        for key, artifact in stored.items():
            assert storage.get_artifact(key=key) == artifact

    def test_artifacts_are_not_modules_or_versions(self, storage: Any) -> None:
        storage.put_artifact(artifact=make_artifact())
        stats = storage.statistics()
        assert (stats.modules, stats.versions) == (0, 0)
        assert storage.list_modules(prefix="", limit=10, offset=0).total == 0

    # -- first writer wins -----------------------------------------------------------------

    def test_first_writer_wins(self, storage: StoresArtifacts) -> None:
        first = make_artifact(data=b"first archive", metadata={"writer": "first"})
        second = make_artifact(
            data=b"second archive, longer",
            media_type="application/octet-stream",
            created_at=DEFAULT_TIME + timedelta(minutes=5),
            metadata={"writer": "second", "extra": "yes"},
        )
        assert storage.put_artifact(artifact=first) == first
        returned = storage.put_artifact(artifact=second)
        assert returned == first
        assert storage.get_artifact(key=_KEY) == first

    def test_putting_the_same_entry_again_is_harmless(self, storage: StoresArtifacts) -> None:
        artifact = make_artifact()
        assert storage.put_artifact(artifact=artifact) == artifact
        assert storage.put_artifact(artifact=artifact) == artifact
        assert storage.get_artifact(key=_KEY) == artifact

    def test_concurrent_puts_of_one_key_have_one_winner(self, storage: StoresArtifacts) -> None:
        candidates = [
            make_artifact(data=f"archive of writer {i}".encode(), metadata={"writer": str(i)})
            for i in range(8)
        ]
        results = run_concurrently(8, lambda i: storage.put_artifact(artifact=candidates[i]))
        for result in results:
            assert isinstance(result, Artifact), result
        winner = results[0]
        assert all(result == winner for result in results), results
        assert winner in candidates
        assert storage.get_artifact(key=_KEY) == winner

    def test_concurrent_puts_of_many_keys(self, storage: StoresArtifacts) -> None:
        def work(index: int) -> Artifact:
            return storage.put_artifact(
                artifact=make_artifact(f"codegen:{index}", data=f"archive {index}".encode())
            )

        results = run_concurrently(16, work)
        for index, result in enumerate(results):
            assert result == make_artifact(f"codegen:{index}", data=f"archive {index}".encode())
            assert storage.get_artifact(key=f"codegen:{index}") == result

    # -- delete ----------------------------------------------------------------------------

    def test_delete(self, storage: StoresArtifacts) -> None:
        assert storage.delete_artifact(key=_KEY) is False
        storage.put_artifact(artifact=make_artifact())
        storage.put_artifact(artifact=make_artifact("codegen:kept"))
        assert storage.delete_artifact(key=_KEY) is True
        assert storage.get_artifact(key=_KEY) is None
        assert storage.delete_artifact(key=_KEY) is False
        assert storage.get_artifact(key="codegen:kept") == make_artifact("codegen:kept")

    def test_put_after_delete_stores_the_new_entry(self, storage: StoresArtifacts) -> None:
        storage.put_artifact(artifact=make_artifact(data=b"lost blob"))
        storage.delete_artifact(key=_KEY)
        regenerated = make_artifact(data=b"regenerated", created_at=DEFAULT_TIME + timedelta(1))
        assert storage.put_artifact(artifact=regenerated) == regenerated
        assert storage.get_artifact(key=_KEY) == regenerated

    # -- refusals --------------------------------------------------------------------------

    @pytest.mark.parametrize("key", _BAD_KEYS, ids=repr)
    def test_bad_keys_are_refused(self, storage: StoresArtifacts, key: Any) -> None:
        with pytest.raises(ValueError):
            storage.get_artifact(key=key)
        with pytest.raises(ValueError):
            storage.put_artifact(artifact=replace(make_artifact(), key=key))
        with pytest.raises(ValueError):
            storage.delete_artifact(key=key)
        assert storage.get_artifact(key=_KEY) is None

    @pytest.mark.parametrize(
        "change",
        [
            {"digest": "A" * 64},
            {"digest": "0" * 63},
            {"digest": "sha256:" + "0" * 64},
            {"size": -1},
            {"size": 1.5},
            {"size": True},
            {"media_type": ""},
            {"media_type": "application/zip\n"},
            {"created_at": datetime(2026, 1, 2, 3, 4, 5)},  # naive
            {"metadata": {"language": 3}},
            {"metadata": {3: "language"}},
            {"metadata": {"nested": {"a": "b"}}},
            {"metadata": {"nul": "a\x00b"}},
            {"metadata": {"surrogate": "\udc80"}},
            {"metadata": {"m": "x" * MAX_ARTIFACT_METADATA_BYTES}},
            {"metadata": ["language", "python"]},
        ],
        ids=repr,
    )
    def test_bad_artifacts_are_refused(
        self, storage: StoresArtifacts, change: dict[str, Any]
    ) -> None:
        with pytest.raises(ValueError):
            storage.put_artifact(artifact=replace(make_artifact(), **change))
        assert storage.get_artifact(key=_KEY) is None

    def test_a_refused_put_leaves_the_stored_entry_alone(self, storage: StoresArtifacts) -> None:
        artifact = make_artifact()
        storage.put_artifact(artifact=artifact)
        with pytest.raises(ValueError):
            storage.put_artifact(artifact=replace(artifact, digest="nope"))
        assert storage.get_artifact(key=_KEY) == artifact

    def test_artifacts_do_not_touch_versions(self, storage: Any) -> None:
        storage.create_module(module=make_module("acme.billing"))
        version = make_version("acme.billing", "1.0.0")
        storage.create_version(version=version)
        storage.put_artifact(artifact=make_artifact())
        storage.delete_artifact(key=_KEY)
        assert storage.get_version(module="acme.billing", version="1.0.0") == version
        with pytest.raises(VersionAlreadyStored):
            storage.create_version(version=version)
