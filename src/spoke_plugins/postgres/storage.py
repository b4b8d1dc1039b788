"""The ``postgres`` storage backend: modules, versions and dependencies in PostgreSQL.

Writes go to the primary. Reads go to a healthy replica (round-robin) when replicas are
configured, and are retried on the primary when the replica misses (``ModuleNotFound``,
``VersionNotFound``, a module without its latest version: the replica may lag behind a push that
just returned) or fails (the replica is then taken out of rotation until the background probe of
:class:`~spoke_plugins.postgres.engine.PostgresEngines` finds it answering).

It implements the optional artifact index (:class:`spoke.interfaces.StoresArtifacts`) on the table
``artifacts`` (revision ``0002``): puts on the primary with ``INSERT ... ON CONFLICT DO NOTHING``
(first writer wins), gets on a replica with a miss asked again of the primary.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

from prometheus_client.registry import Collector
from sqlalchemy import ColumnElement, Connection, Row, func, select, update
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects.postgresql import insert as pg_insert

from spoke.domain import (
    CompatibilityPolicy,
    DependencyRef,
    FileRef,
    Module,
    ModuleName,
    Page,
    SourceInfo,
    Version,
    VersionString,
)
from spoke.errors import BackendUnavailable, ModuleExists, ModuleNotFound, NotFound, VersionNotFound
from spoke.interfaces import (
    Artifact,
    HealthReport,
    RegistryStats,
    VersionAlreadyStored,
    check_artifact,
    check_artifact_key,
)
from spoke.settings import Settings, SettingsError
from spoke_plugins.postgres.artifacts import delete_artifact_row, insert_artifact, read_artifact
from spoke_plugins.postgres.engine import (
    NOT_A_SERVER_FAILURE,
    DbPool,
    PoolCollector,
    PostgresEngines,
    translate_errors,
)
from spoke_plugins.postgres.migrate import require_current
from spoke_plugins.postgres.schema import dependencies, modules, versions

__all__ = ["PostgresStorage", "engines_from_settings"]

log = logging.getLogger(__name__)
T = TypeVar("T")

_FOREIGN_KEY_VIOLATION = "23503"


def engines_from_settings(settings: Settings, *, replicas: bool = True) -> PostgresEngines:
    """Pools for the primary (and the replicas) sized and timed by the ``SPOKE_POSTGRES_*``."""
    if not settings.postgres_url:
        raise SettingsError("SPOKE_POSTGRES_URL", "must be set for the postgres backends")
    try:
        return PostgresEngines(
            settings.postgres_url,
            settings.postgres_replica_urls if replicas else (),
            min_conns=settings.postgres_min_conns,
            max_conns=settings.postgres_max_conns,
            timeout=settings.postgres_timeout,
        )
    except ValueError as exc:
        raise SettingsError("SPOKE_POSTGRES_URL", str(exc)) from None


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)


def _latest_expression(module_name: Any) -> ColumnElement[Any]:
    """The latest version of ``module_name``: the highest release, else the highest version."""

    def highest(*, releases_only: bool) -> Any:
        query = select(versions.c.version).where(versions.c.module == module_name)
        if releases_only:
            query = query.where(func.strpos(versions.c.sort_key, "-") == 0)
        return (
            query.order_by(versions.c.sort_key.desc(), versions.c.version.desc())
            .limit(1)
            .scalar_subquery()
        )

    return func.coalesce(highest(releases_only=True), highest(releases_only=False))


def _module_query() -> Any:
    return select(
        modules.c.name,
        modules.c.description,
        modules.c.compatibility,
        modules.c.created_at,
        modules.c.updated_at,
        _latest_expression(modules.c.name).label("latest"),
    )


def _module(row: Row[Any]) -> Module:
    return Module(
        name=ModuleName(row.name),
        description=row.description,
        compatibility=CompatibilityPolicy.from_dict(row.compatibility),
        created_at=_utc(row.created_at),
        updated_at=_utc(row.updated_at),
        latest_version=VersionString(row.latest) if row.latest else None,
    )


def _version(row: Row[Any], deps: Sequence[DependencyRef]) -> Version:
    return Version(
        module_name=ModuleName(row.module),
        version=VersionString(row.version),
        created_at=_utc(row.created_at),
        fingerprint=row.fingerprint,
        descriptor_sha256=row.descriptor_sha256,
        files=tuple(FileRef.from_dict(f) for f in row.files),
        dependencies=tuple(deps),
        source_info=SourceInfo.from_dict(row.source_info) if row.source_info else None,
        sort_key=row.sort_key,
    )


def _dependencies_of(
    connection: Connection, module: str, numbers: Sequence[str]
) -> dict[str, list[DependencyRef]]:
    found: dict[str, list[DependencyRef]] = {number: [] for number in numbers}
    if not numbers:
        return found
    rows = connection.execute(
        select(dependencies.c.version, dependencies.c.dep_module, dependencies.c.dep_version)
        .where(dependencies.c.module == module, dependencies.c.version.in_(list(numbers)))
        .order_by(dependencies.c.version, dependencies.c.position)
    )
    for row in rows:
        found[row.version].append(
            DependencyRef(ModuleName(row.dep_module), VersionString(row.dep_version))
        )
    return found


def _require_module(connection: Connection, name: str) -> None:
    exists = connection.execute(select(modules.c.name).where(modules.c.name == name)).first()
    if exists is None:
        raise ModuleNotFound(name)


def _read_version(connection: Connection, module: str, number: str) -> Version:
    row = connection.execute(
        select(versions).where(versions.c.module == module, versions.c.version == number)
    ).first()
    if row is None:
        _require_module(connection, module)
        raise VersionNotFound(module, number)
    return _version(row, _dependencies_of(connection, module, [number])[number])


class PostgresStorage:
    """Metadata in PostgreSQL through SQLAlchemy Core; thread-safe (pooled connections)."""

    def __init__(self, engines: PostgresEngines, *, check_schema: bool = True) -> None:
        self._engines = engines
        if check_schema:
            try:
                with translate_errors(), engines.primary.connect() as connection:
                    require_current(connection)
            except BaseException:
                engines.close()
                raise

    @classmethod
    def from_settings(cls, settings: Settings) -> PostgresStorage:
        """The factory of the ``postgres`` storage backend; refuses a schema that is behind."""
        return cls(engines_from_settings(settings))

    @property
    def engines(self) -> PostgresEngines:
        return self._engines

    # -- routing ---------------------------------------------------------------------------

    def _write(self, work: Callable[[Connection], T]) -> T:
        with translate_errors(), self._engines.primary.connect() as connection:
            return work(connection)

    def _read(
        self,
        work: Callable[[Connection], T],
        *,
        incomplete: Callable[[T], bool] | None = None,
    ) -> T:
        replica = self._engines.pick_replica()
        if replica is not None:
            try:
                result = self._on(replica, work)
            except NotFound:
                pass  # the replica may lag behind a write that already returned: ask the primary
            except BackendUnavailable as exc:
                if exc.message not in NOT_A_SERVER_FAILURE:
                    self._engines.mark_unhealthy(replica, exc.message)
            else:
                if incomplete is None or not incomplete(result):
                    return result
        return self._on(self._engines.primary, work)

    @staticmethod
    def _on(pool: DbPool, work: Callable[[Connection], T]) -> T:
        with translate_errors(), pool.connect() as connection:
            return work(connection)

    # -- modules ---------------------------------------------------------------------------

    def create_module(self, *, module: Module) -> Module:
        def work(connection: Connection) -> Module:
            inserted = connection.execute(
                pg_insert(modules)
                .values(
                    name=module.name,
                    description=module.description,
                    compatibility=module.compatibility.to_dict(),
                    created_at=module.created_at,
                    updated_at=module.updated_at,
                )
                .on_conflict_do_nothing(index_elements=[modules.c.name])
                .returning(modules.c.name)
            ).first()
            connection.commit()
            if inserted is None:
                raise ModuleExists(module.name)
            return module

        return self._write(work)

    def get_module(self, *, name: str) -> Module:
        def work(connection: Connection) -> Module:
            row = connection.execute(_module_query().where(modules.c.name == name)).first()
            if row is None:
                raise ModuleNotFound(name)
            return _module(row)

        return self._read(work, incomplete=lambda module: module.latest_version is None)

    def update_module(
        self,
        *,
        name: str,
        description: str | None,
        compatibility: CompatibilityPolicy | None,
        updated_at: datetime,
    ) -> Module:
        values: dict[str, Any] = {"updated_at": updated_at}
        if description is not None:
            values["description"] = description
        if compatibility is not None:
            values["compatibility"] = compatibility.to_dict()

        def work(connection: Connection) -> Module:
            with connection.begin():
                changed = connection.execute(
                    update(modules).where(modules.c.name == name).values(**values)
                ).rowcount
                if not changed:
                    raise ModuleNotFound(name)
                row = connection.execute(_module_query().where(modules.c.name == name)).one()
            return _module(row)

        return self._write(work)

    def list_modules(self, *, prefix: str, limit: int, offset: int) -> Page[Module]:
        condition = modules.c.name.startswith(prefix, autoescape=True) if prefix else None

        def work(connection: Connection) -> Page[Module]:
            count = select(func.count()).select_from(modules)
            query = _module_query().order_by(modules.c.name).limit(limit).offset(offset)
            if condition is not None:
                count = count.where(condition)
                query = query.where(condition)
            total = connection.execute(count).scalar_one()
            rows = connection.execute(query).all() if total > offset else []
            return Page(tuple(_module(row) for row in rows), total)

        return self._read(work)

    # -- versions --------------------------------------------------------------------------

    def create_version(self, *, version: Version) -> None:
        def work(connection: Connection) -> None:
            try:
                with connection.begin():
                    inserted = connection.execute(
                        pg_insert(versions)
                        .values(
                            module=version.module_name,
                            version=version.version,
                            sort_key=version.sort_key,
                            created_at=version.created_at,
                            fingerprint=version.fingerprint,
                            descriptor_sha256=version.descriptor_sha256,
                            files=[f.to_dict() for f in version.files],
                            source_info=(
                                version.source_info.to_dict() if version.source_info else None
                            ),
                        )
                        .on_conflict_do_nothing(
                            index_elements=[versions.c.module, versions.c.version]
                        )
                        .returning(versions.c.version)
                    ).first()
                    if inserted is not None and version.dependencies:
                        connection.execute(
                            pg_insert(dependencies).on_conflict_do_nothing(),
                            [
                                {
                                    "module": version.module_name,
                                    "version": version.version,
                                    "position": position,
                                    "dep_module": dep.module,
                                    "dep_version": dep.version,
                                }
                                for position, dep in enumerate(version.dependencies)
                            ],
                        )
            except sa_exc.IntegrityError as exc:
                if getattr(exc.orig, "pgcode", None) == _FOREIGN_KEY_VIOLATION:
                    raise ModuleNotFound(version.module_name) from None
                raise
            if inserted is None:
                # Another push won (ON CONFLICT waited for it to commit): report the stored one.
                raise VersionAlreadyStored(
                    _read_version(connection, version.module_name, version.version)
                )

        self._write(work)

    def get_version(self, *, module: str, version: str) -> Version:
        return self._read(lambda connection: _read_version(connection, module, version))

    def get_latest_version(self, *, module: str) -> Version:
        def work(connection: Connection) -> Version:
            latest = connection.execute(
                select(_latest_expression(modules.c.name)).where(modules.c.name == module)
            ).first()
            if latest is None:
                raise ModuleNotFound(module)
            if latest[0] is None:
                raise VersionNotFound(module, "latest")
            return _read_version(connection, module, latest[0])

        return self._read(work)

    def list_versions(self, *, module: str, limit: int, offset: int) -> Page[Version]:
        def work(connection: Connection) -> Page[Version]:
            _require_module(connection, module)
            total = connection.execute(
                select(func.count()).select_from(versions).where(versions.c.module == module)
            ).scalar_one()
            if total <= offset:
                return Page((), total)
            rows = connection.execute(
                select(versions)
                .where(versions.c.module == module)
                .order_by(versions.c.sort_key.desc(), versions.c.version.desc())
                .limit(limit)
                .offset(offset)
            ).all()
            deps = _dependencies_of(connection, module, [row.version for row in rows])
            return Page(tuple(_version(row, deps[row.version]) for row in rows), total)

        return self._read(work)

    def list_dependents(self, *, module: str, version: str) -> tuple[DependencyRef, ...]:
        def work(connection: Connection) -> tuple[DependencyRef, ...]:
            rows = connection.execute(
                select(dependencies.c.module, dependencies.c.version)
                .where(dependencies.c.dep_module == module, dependencies.c.dep_version == version)
                .distinct()
                .order_by(dependencies.c.module, dependencies.c.version)
            )
            return tuple(
                DependencyRef(ModuleName(row.module), VersionString(row.version)) for row in rows
            )

        return self._read(work)

    def statistics(self) -> RegistryStats:
        def work(connection: Connection) -> RegistryStats:
            row = connection.execute(
                select(
                    select(func.count()).select_from(modules).scalar_subquery(),
                    select(func.count()).select_from(versions).scalar_subquery(),
                )
            ).one()
            return RegistryStats(modules=int(row[0]), versions=int(row[1]))

        return self._read(work)

    # -- artifact index (optional StoresArtifacts) ----------------------------------------

    def get_artifact(self, *, key: str) -> Artifact | None:
        check_artifact_key(key)
        # A replica may lag behind a put that already returned: a miss is asked of the primary.
        return self._read(
            lambda connection: read_artifact(connection, key),
            incomplete=lambda found: found is None,
        )

    def put_artifact(self, *, artifact: Artifact) -> Artifact:
        stored = check_artifact(artifact)
        return self._write(lambda connection: insert_artifact(connection, stored))

    def delete_artifact(self, *, key: str) -> bool:
        check_artifact_key(key)
        return self._write(lambda connection: delete_artifact_row(connection, key))

    # -- health, metrics, close ------------------------------------------------------------

    def check(self) -> None:
        self._engines.primary.probe()

    def health(self) -> HealthReport:
        """Probe the primary (raises ``BackendUnavailable`` when down) and every replica."""
        primary = self._engines.primary
        primary.probe()
        pool = primary.pool_status()
        degraded = primary.exhausted()
        details: dict[str, object] = {"pool": pool}
        sub_checks: dict[str, dict[str, object]] = {}
        if self._engines.replicas:
            entries: list[dict[str, object]] = []
            for replica in self._engines.replicas:
                entry: dict[str, object] = {"name": replica.name, "url": replica.url}
                try:
                    entry["latency_ms"] = replica.probe()
                except BackendUnavailable as exc:
                    self._engines.mark_unhealthy(replica, exc.message)
                    entry.update(status="unavailable", message=exc.message, latency_ms=None)
                else:
                    self._engines.mark_healthy(replica)
                    entry["status"] = "ok"
                entry["pool"] = replica.pool_status()
                entries.append(entry)
            down = sum(entry["status"] != "ok" for entry in entries)
            degraded = degraded or down > 0
            sub_checks["replicas"] = {
                "status": "ok" if not down else "degraded",
                "healthy": len(entries) - down,
                "replicas": entries,
            }
        return HealthReport(
            status="degraded" if degraded else "ok", details=details, sub_checks=sub_checks
        )

    def metrics_collectors(self) -> list[Collector]:
        """Pool gauges and the pool wait histogram of this backend's pools."""
        return [PoolCollector(self._engines), self._engines.wait_histogram]

    def close(self) -> None:
        self._engines.close()
