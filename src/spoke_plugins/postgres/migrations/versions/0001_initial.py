"""The initial schema: modules, versions, dependencies, blobs.

Revision ID: 0001
Revises:
Create Date: 2026-11-27
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _c_text() -> sa.Text:
    return sa.Text(collation="C")


def upgrade() -> None:
    op.create_table(
        "modules",
        sa.Column("name", _c_text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("compatibility", JSONB(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name="modules_pkey"),
    )
    op.create_table(
        "versions",
        sa.Column("module", _c_text(), nullable=False),
        sa.Column("version", _c_text(), nullable=False),
        sa.Column("sort_key", _c_text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("fingerprint", sa.Text(), nullable=False),
        sa.Column("descriptor_sha256", sa.Text(), nullable=False),
        sa.Column("files", JSONB(), nullable=False),
        sa.Column("source_info", JSONB(), nullable=True),
        sa.PrimaryKeyConstraint("module", "version", name="versions_pkey"),
        sa.ForeignKeyConstraint(
            ["module"], ["modules.name"], name="versions_module_fkey", ondelete="CASCADE"
        ),
    )
    op.create_index(
        "versions_newest_first",
        "versions",
        ["module", sa.text("sort_key DESC"), sa.text("version DESC")],
    )
    op.create_table(
        "dependencies",
        sa.Column("module", _c_text(), nullable=False),
        sa.Column("version", _c_text(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("dep_module", _c_text(), nullable=False),
        sa.Column("dep_version", _c_text(), nullable=False),
        sa.PrimaryKeyConstraint(
            "module", "version", "dep_module", "dep_version", name="dependencies_pkey"
        ),
        sa.ForeignKeyConstraint(
            ["module", "version"],
            ["versions.module", "versions.version"],
            name="dependencies_dependent_fkey",
            ondelete="CASCADE",
        ),
    )
    op.create_index("dependencies_by_dependency", "dependencies", ["dep_module", "dep_version"])
    op.create_table(
        "blobs",
        sa.Column("digest", sa.Text(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("digest", name="blobs_pkey"),
    )


def downgrade() -> None:
    op.drop_table("blobs")
    op.drop_index("dependencies_by_dependency", table_name="dependencies")
    op.drop_table("dependencies")
    op.drop_index("versions_newest_first", table_name="versions")
    op.drop_table("versions")
    op.drop_table("modules")
