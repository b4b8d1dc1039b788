"""The filesystem backends against the contract suites, each test in a fresh directory."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from spoke.testing.contract import ArtifactContract, BlobStoreContract, StorageContract
from spoke_plugins.filesystem import FilesystemBlobStore, FilesystemStorage


class TestFilesystemStorage(StorageContract):
    @pytest.fixture
    def storage(self, tmp_path: Path) -> Iterator[FilesystemStorage]:
        backend = FilesystemStorage(root=tmp_path / "data")
        yield backend
        backend.close()


class TestFilesystemStorageArtifacts(ArtifactContract):
    @pytest.fixture
    def storage(self, tmp_path: Path) -> Iterator[FilesystemStorage]:
        backend = FilesystemStorage(root=tmp_path / "data")
        yield backend
        backend.close()


class TestFilesystemBlobStore(BlobStoreContract):
    @pytest.fixture
    def blob_store(self, tmp_path: Path) -> Iterator[FilesystemBlobStore]:
        backend = FilesystemBlobStore(root=tmp_path / "data")
        yield backend
        backend.close()
