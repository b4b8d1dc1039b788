"""Test helpers for Spoke and its plugins.

* :mod:`spoke.testing.builders`: :func:`make_module` and :func:`make_version`, short builders of
  valid domain records (importable without pytest).
* :mod:`spoke.testing.contract`: ``StorageContract``, ``BlobStoreContract`` and
  ``CacheContract``, the pytest suites every backend must pass, and ``ArtifactContract`` for a
  storage that implements the optional artifact index (imports pytest).
"""

from spoke.testing.builders import (
    DEFAULT_TIME,
    SEMVER_PRECEDENCE,
    default_files,
    descriptor_bytes,
    make_module,
    make_version,
)

__all__ = [
    "DEFAULT_TIME",
    "SEMVER_PRECEDENCE",
    "default_files",
    "descriptor_bytes",
    "make_module",
    "make_version",
]
