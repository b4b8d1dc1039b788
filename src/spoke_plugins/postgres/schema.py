"""The tables of the ``postgres`` backends, as SQLAlchemy Core :class:`~sqlalchemy.Table` objects.

The migrations in :mod:`spoke_plugins.postgres.migrations` create exactly these; the code never
calls ``metadata.create_all``. Names, versions and sort keys use the ``"C"`` collation so that
the database orders them bytewise, as :attr:`spoke.semver.SemVer.sort_key` and the storage
contract expect (``a-b`` < ``a.b`` < ``a_b`` < ``ab``), whatever the database's locale.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    Table,
    Text,
)
from sqlalchemy.dialects.postgresql import JSONB

__all__ = [
    "ALEMBIC_VERSION_TABLE",
    "artifacts",
    "blobs",
    "dependencies",
    "metadata",
    "modules",
    "versions",
]

#: Alembic's bookkeeping table (not the default ``alembic_version``, to share a database safely).
ALEMBIC_VERSION_TABLE = "spoke_alembic_version"

metadata = MetaData()


def _c_text() -> Text:
    return Text(collation="C")


modules = Table(
    "modules",
    metadata,
    Column("name", _c_text(), primary_key=True),
    Column("description", Text, nullable=False),
    Column("compatibility", JSONB, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

versions = Table(
    "versions",
    metadata,
    Column("module", _c_text(), nullable=False),
    Column("version", _c_text(), nullable=False),
    Column("sort_key", _c_text(), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("fingerprint", Text, nullable=False),
    Column("descriptor_sha256", Text, nullable=False),
    Column("files", JSONB, nullable=False),
    Column("source_info", JSONB, nullable=True),
    PrimaryKeyConstraint("module", "version", name="versions_pkey"),
    ForeignKeyConstraint(
        ["module"], ["modules.name"], name="versions_module_fkey", ondelete="CASCADE"
    ),
)
# Newest first per module: list_versions and latest are index scans.
Index(
    "versions_newest_first",
    versions.c.module,
    versions.c.sort_key.desc(),
    versions.c.version.desc(),
)

dependencies = Table(
    "dependencies",
    metadata,
    Column("module", _c_text(), nullable=False),
    Column("version", _c_text(), nullable=False),
    Column("position", Integer, nullable=False),
    Column("dep_module", _c_text(), nullable=False),
    Column("dep_version", _c_text(), nullable=False),
    PrimaryKeyConstraint(
        "module", "version", "dep_module", "dep_version", name="dependencies_pkey"
    ),
    ForeignKeyConstraint(
        ["module", "version"],
        ["versions.module", "versions.version"],
        name="dependencies_dependent_fkey",
        ondelete="CASCADE",
    ),
    Index("dependencies_by_dependency", "dep_module", "dep_version"),
)

blobs = Table(
    "blobs",
    metadata,
    Column("digest", Text, primary_key=True),
    Column("size", BigInteger, nullable=False),
    Column("data", LargeBinary, nullable=False),
)

# The artifact index (revision 0002): a generated archive's key to its blob in the blob store.
artifacts = Table(
    "artifacts",
    metadata,
    Column("key", _c_text(), nullable=False),
    Column("digest", Text, nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("media_type", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("metadata", JSONB, nullable=False),
    PrimaryKeyConstraint("key", name="artifacts_pkey"),
)
