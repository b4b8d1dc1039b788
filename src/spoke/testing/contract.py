"""The backend contract suites: subclass one per backend and provide its fixture.

::

    import pytest
    from spoke.testing.contract import (
        ArtifactContract, BlobStoreContract, CacheContract, StorageContract,
    )

    class TestMyStorage(StorageContract):
        @pytest.fixture
        def storage(self, tmp_path):
            backend = MyStorage(root=tmp_path)
            yield backend
            backend.close()

    class TestMyBlobs(BlobStoreContract):
        @pytest.fixture
        def blob_store(self): ...

    class TestMyCache(CacheContract):
        @pytest.fixture
        def cache(self): ...

    class TestMyStorageArtifacts(ArtifactContract):  # only if it implements StoresArtifacts
        @pytest.fixture
        def storage(self, tmp_path): ...

The classes have no ``Test`` prefix, so pytest collects only the subclasses. Each fixture must
return a fresh, empty backend for every test. Builders for the records the tests store are in
:mod:`spoke.testing.builders`.
"""

from __future__ import annotations

import pytest

# The suites' plain ``assert`` statements get pytest's detailed failure messages.
pytest.register_assert_rewrite(
    "spoke.testing.storage_contract",
    "spoke.testing.blob_contract",
    "spoke.testing.cache_contract",
    "spoke.testing.artifact_contract",
)

from spoke.testing.artifact_contract import ArtifactContract, make_artifact  # noqa: E402
from spoke.testing.blob_contract import BlobStoreContract  # noqa: E402
from spoke.testing.builders import make_module, make_version  # noqa: E402
from spoke.testing.cache_contract import CacheContract  # noqa: E402
from spoke.testing.storage_contract import StorageContract, run_concurrently  # noqa: E402

__all__ = [
    "ArtifactContract",
    "BlobStoreContract",
    "CacheContract",
    "StorageContract",
    "make_artifact",
    "make_module",
    "make_version",
    "run_concurrently",
]
