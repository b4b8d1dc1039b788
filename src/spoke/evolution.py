"""Schema evolution: a version checked against the earlier versions of its module.

The checker in :mod:`spoke.compat` compares descriptor sets; this module decides which stored
versions take part (semver precedence, never push order), reads only the descriptor sets the
mode needs, enforces a module's policy on pushes, and answers the compatibility and diff
endpoints. It reads through the registry service, so cached records and blobs serve it too.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from spoke.compat import Comparison, Schema, versions_to_check
from spoke.compat.diff import Change
from spoke.domain import (
    COMPATIBILITY_MODES,
    COMPATIBILITY_RULES,
    CompatibilityPolicy,
    DependencyRef,
    Module,
    Version,
    VersionString,
)
from spoke.errors import IncompatibleSchema, InvalidRequest, Unprocessable
from spoke.interfaces import Storage
from spoke.metrics import Metrics
from spoke.protobuf import CompileResult
from spoke.semver import parse_semver
from spoke.workers import SchemaWork

__all__ = ["CANDIDATE_LABEL", "DiffResult", "SchemaEvolution", "check_policy", "resolve_policy"]

# The label of files checked without being stored. Violations name the stored side they were
# found against, so it never reaches an answer; it keeps a candidate from posing as a version.
CANDIDATE_LABEL = "candidate"
# Versions read per storage call while collecting a module's history.
_PAGE = 1000


def check_policy(raw: object) -> CompatibilityPolicy:
    """Parse a ``compatibility`` object: ``{"mode"?, "rules"?}`` with the defaults filled in."""
    if not isinstance(raw, dict):
        raise InvalidRequest("'compatibility' must be an object with 'mode' and 'rules'")
    unknown = set(raw) - {"mode", "rules"}
    if unknown:
        raise InvalidRequest(f"unknown field(s) in 'compatibility': {', '.join(sorted(unknown))}")
    return _policy(raw.get("mode", "BACKWARD"), raw.get("rules", "FILE"))


def resolve_policy(
    stored: CompatibilityPolicy, *, mode: object, rules: object
) -> CompatibilityPolicy:
    """``stored`` with the ``mode`` and ``rules`` a request gives (``None``: keep the stored one).

    Unknown values are refused exactly as in a module's ``compatibility`` object.
    """
    return _policy(stored.mode if mode is None else mode, stored.rules if rules is None else rules)


def _policy(mode: object, rules: object) -> CompatibilityPolicy:
    if mode not in COMPATIBILITY_MODES:
        raise Unprocessable(
            f"unknown compatibility mode {mode!r}; use one of {', '.join(COMPATIBILITY_MODES)}",
            code="invalid_compatibility",
            details={"mode": mode if isinstance(mode, str) else None},
        )
    if rules not in COMPATIBILITY_RULES:
        raise Unprocessable(
            f"unknown rule category {rules!r}; use one of {', '.join(COMPATIBILITY_RULES)}",
            code="invalid_compatibility",
            details={"rules": rules if isinstance(rules, str) else None},
        )
    assert isinstance(mode, str) and isinstance(rules, str)
    return CompatibilityPolicy(mode=mode, rules=rules)


class _GetVersion(Protocol):
    def __call__(self, *, module: str, version: str) -> Version: ...


@dataclass(frozen=True, slots=True)
class DiffResult:
    """The changes between two stored versions, named as stored (``latest`` resolved)."""

    from_version: VersionString
    to_version: VersionString
    changes: tuple[Change, ...]

    def to_dict(self) -> dict[str, object]:
        return {
            "from_version": self.from_version,
            "to_version": self.to_version,
            "changes": [change.to_dict() for change in self.changes],
        }


def _precedence(version: str) -> str:
    return parse_semver(version).sort_key


class SchemaEvolution:
    """Compatibility checks of pushes and stored versions, and diffs between versions."""

    def __init__(
        self,
        *,
        storage: Storage,
        metrics: Metrics,
        get_version: _GetVersion,
        descriptor_set: Callable[[Version], bytes],
        compile_files: Callable[[Mapping[str, str], Sequence[DependencyRef]], CompileResult],
        work: SchemaWork,
    ) -> None:
        self._storage = storage
        self._metrics = metrics
        self._get_version = get_version
        self._descriptor_set = descriptor_set
        self._compile = compile_files
        self._work = work

    # Pushes --------------------------------------------------------------------------------

    def enforce(
        self,
        *,
        module: Module,
        version: VersionString,
        compiled: CompileResult,
        paths: Iterable[str],
    ) -> None:
        """Refuse a compiled push that breaks ``module``'s policy against its earlier versions.

        Called before anything of the push is written. Raises ``IncompatibleSchema`` (409) with
        the comparison as details. ``NONE`` reads nothing at all.
        """
        policy = module.compatibility
        if policy.mode == "NONE":
            return
        candidate = Schema(
            label=version, descriptor_set=compiled.descriptor_set, targets=frozenset(paths)
        )
        comparison = self._run(
            policy,
            lambda: candidate,
            lambda: self._earlier(module.name, below=version, mode=policy.mode),
        )
        if not comparison.compatible:
            raise _incompatible(module.name, version, comparison)

    # Endpoints -----------------------------------------------------------------------------

    def check_stored(
        self,
        *,
        module: str,
        version: str,
        old_version: str | None = None,
        mode: object = None,
        rules: object = None,
    ) -> Comparison:
        """A stored version (``latest`` allowed) against ``old_version``, or else the versions
        of lower precedence the mode selects. ``mode``/``rules`` default to the module's policy.

        Raises ``ModuleNotFound``, ``VersionNotFound``, ``Unprocessable`` (``invalid_version``,
        ``invalid_compatibility``).
        """
        policy = resolve_policy(
            self._storage.get_module(name=module).compatibility, mode=mode, rules=rules
        )
        new = self._get_version(module=module, version=version)
        if old_version is not None:
            old = self._get_version(module=module, version=old_version)
            return self._run(policy, lambda: self._schema(new), lambda: [old])
        return self._run(
            policy,
            lambda: self._schema(new),
            lambda: self._earlier(module, below=new.version, mode=policy.mode),
        )

    def check_candidate(
        self,
        *,
        module: str,
        files: Mapping[str, str],
        dependencies: Sequence[DependencyRef],
        old_version: str | None = None,
        mode: object = None,
        rules: object = None,
    ) -> Comparison:
        """Files that are not stored, compiled with ``dependencies``, against ``old_version`` or
        else the versions the mode selects, every stored version counting as earlier.

        Raises what :meth:`check_stored` raises, and the compile errors of a push (422).
        """
        policy = resolve_policy(
            self._storage.get_module(name=module).compatibility, mode=mode, rules=rules
        )
        # A missing old version is a 404 before any compile work.
        pinned = (
            [] if old_version is None else [self._get_version(module=module, version=old_version)]
        )
        compiled = self._compile(files, dependencies)
        candidate = Schema(
            label=CANDIDATE_LABEL,
            descriptor_set=compiled.descriptor_set,
            targets=frozenset(files),
        )
        return self._run(
            policy,
            lambda: candidate,
            lambda: pinned or self._earlier(module, below=None, mode=policy.mode),
        )

    def diff(self, *, module: str, from_version: str, to_version: str) -> DiffResult:
        """The changes from one stored version to another, with the severity the module's
        policy gives them: a change is breaking when the policy's rules flag it between these
        two versions (``*_TRANSITIVE`` counts as its plain mode; ``NONE`` flags nothing).

        Raises ``ModuleNotFound``, ``VersionNotFound``, ``Unprocessable`` (``invalid_version``).
        """
        policy = self._storage.get_module(name=module).compatibility
        old = self._schema(self._get_version(module=module, version=from_version))
        new = self._schema(self._get_version(module=module, version=to_version))
        base = policy.mode.removesuffix("_TRANSITIVE")
        return DiffResult(
            from_version=VersionString(old.label),
            to_version=VersionString(new.label),
            changes=self._work.diff(old, new, mode=base, rules=policy.rules),
        )

    # Internals -----------------------------------------------------------------------------

    def _run(
        self,
        policy: CompatibilityPolicy,
        candidate: Callable[[], Schema],
        earlier: Callable[[], list[Version]],
    ) -> Comparison:
        """Compare, reading only the descriptor sets of the versions the mode looks at."""
        start = time.perf_counter()
        try:
            chosen: list[Schema] = []
            if policy.mode != "NONE":
                history = earlier()
                by_label: dict[str, Version] = {v.version: v for v in history}
                stand_ins = [
                    Schema(label=v.version, descriptor_set=b"", targets=frozenset())
                    for v in history
                ]
                chosen = versions_to_check(policy.mode, stand_ins)
            if chosen:
                comparison = self._work.compare(
                    candidate(),
                    [self._schema(by_label[s.label]) for s in chosen],
                    mode=policy.mode,
                    rules=policy.rules,
                )
            else:
                # Nothing to compare with (NONE, or no earlier version): no worker needed.
                comparison = Comparison(policy.mode, policy.rules, (), ())
        finally:
            self._metrics.compatibility_duration.observe(time.perf_counter() - start)
        result = "compatible" if comparison.compatible else "incompatible"
        self._metrics.compatibility_checks.labels(policy.mode, result).inc()
        return comparison

    def _earlier(self, module: str, *, below: str | None, mode: str) -> list[Version]:
        """Stored versions of lower precedence than ``below`` (all when ``None``), oldest first.

        Storage lists newest first, so a mode that needs only the highest of them stops at the
        first page holding one: every later page holds lower versions still.
        """
        limit = None if below is None else _precedence(below)
        only_latest = not mode.endswith("_TRANSITIVE")
        found: dict[str, Version] = {}
        offset = 0
        while True:
            page = self._storage.list_versions(module=module, limit=_PAGE, offset=offset)
            lower = [v for v in page.items if limit is None or _precedence(v.version) < limit]
            found.update((v.version, v) for v in lower)
            offset += len(page.items)
            if not page.items or offset >= page.total or (lower and only_latest):
                break
        return sorted(found.values(), key=lambda v: (_precedence(v.version), v.version))

    def _schema(self, version: Version) -> Schema:
        return Schema(
            label=version.version,
            descriptor_set=self._descriptor_set(version),
            targets=frozenset(ref.path for ref in version.files),
        )


def _incompatible(module: str, version: str, comparison: Comparison) -> IncompatibleSchema:
    against = ", ".join(dict.fromkeys(str(v.against) for v in comparison.violations))
    first = comparison.violations[0]
    where = ":".join(str(part) for part in (first.file, first.line, first.column) if part)
    more = len(comparison.violations) - 1
    return IncompatibleSchema(
        f"version {version} of module {module!r} has {len(comparison.violations)} breaking "
        f"change(s) against {against} under {comparison.mode}/{comparison.rules}: {first.rule} at "
        f"{where}: {first.message}" + (f" (and {more} more)" if more else ""),
        details=comparison.to_dict(),
    )
