"""Dependency graphs between versions.

A version pins exact versions of other modules. Pins must exist when the version is pushed and
versions never change afterwards, so every edge points at something older: the graph is acyclic
by construction and no cycle check is needed.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence

from spoke.domain import DependencyRef, FileRef, ModuleName, Version, VersionString
from spoke.errors import ModuleNotFound, Unprocessable, VersionNotFound
from spoke.interfaces import Storage
from spoke.validation import find_path_clash

__all__ = ["DependencyResolver"]

# Far above any real tree; it bounds the work one request can cause.
MAX_TRANSITIVE_VERSIONS = 10_000


class DependencyResolver:
    """Walks dependency pins forwards (what a version needs) and backwards (who needs it)."""

    def __init__(self, *, storage: Storage, get_version: Callable[..., Version]) -> None:
        self._storage = storage
        self._get_version = get_version

    def resolve_pins(self, pins: Sequence[DependencyRef]) -> list[Version]:
        """The pinned versions themselves. A pin that does not exist is a 422."""
        seen_modules: dict[str, DependencyRef] = {}
        versions = []
        for pin in pins:
            other = seen_modules.get(pin.module)
            if other is not None:
                raise Unprocessable(
                    f"dependencies pin module {pin.module!r} twice ({other} and {pin})",
                    code="invalid_dependency",
                    details={"dependency": str(pin)},
                )
            seen_modules[pin.module] = pin
            try:
                versions.append(self._get_version(module=pin.module, version=pin.version))
            except (ModuleNotFound, VersionNotFound):
                raise Unprocessable(
                    f"dependency {pin} does not exist; push it before the versions that use it",
                    code="dependency_not_found",
                    details={"dependency": str(pin)},
                ) from None
        return versions

    def transitive(self, pins: Sequence[DependencyRef]) -> list[Version]:
        """Every version reachable from ``pins``, dependencies before their dependents.

        The order is a depth-first post-order following each version's pins in sorted order, so
        it is the same on every call.
        """
        ordered: list[Version] = []
        done: set[DependencyRef] = set()
        # An explicit stack instead of recursion: a long chain must not hit Python's limit.
        stack: list[tuple[Version, int]] = [(v, 0) for v in reversed(self.resolve_pins(pins))]
        while stack:
            version, index = stack.pop()
            key = DependencyRef(version.module_name, version.version)
            if key in done:
                continue
            deps = sorted(version.dependencies)
            if index < len(deps):
                stack.append((version, index + 1))
                child = deps[index]
                # A version may sit lower on the stack already (pinned directly as well);
                # processing it here first keeps dependencies ahead of dependents.
                if child not in done:
                    stack.append((self._get_version(module=child.module, version=child.version), 0))
                continue
            done.add(key)
            ordered.append(version)
            if len(ordered) > MAX_TRANSITIVE_VERSIONS:
                raise Unprocessable(
                    f"more than {MAX_TRANSITIVE_VERSIONS} transitive dependencies",
                    code="invalid_dependency",
                )
        return ordered

    def files_of(self, pins: Sequence[DependencyRef]) -> dict[str, tuple[FileRef, DependencyRef]]:
        """Every file the pins provide, transitively: path -> (file, the version holding it).

        Two versions providing one path with different content is a 422 ``dependency_conflict``;
        the same content twice (a shared dependency, a vendored copy) is fine.
        """
        provided: dict[str, tuple[FileRef, DependencyRef]] = {}
        for version in self.transitive(pins):
            owner = DependencyRef(version.module_name, version.version)
            for ref in version.files:
                existing = provided.get(ref.path)
                if existing is None:
                    provided[ref.path] = (ref, owner)
                elif existing[0].sha256 != ref.sha256:
                    raise Unprocessable(
                        f"dependencies {existing[1]} and {owner} both provide {ref.path!r} "
                        "with different content",
                        code="dependency_conflict",
                        details={
                            "path": ref.path,
                            "dependencies": [str(existing[1]), str(owner)],
                        },
                    )
        clash = find_path_clash(provided)
        if clash is not None:
            raise Unprocessable(
                f"dependencies {provided[clash[0]][1]} and {provided[clash[1]][1]} provide "
                f"{clash[0]!r} both as a file and as a directory",
                code="dependency_conflict",
                details={
                    "path": clash[1],
                    "dependencies": [str(provided[clash[0]][1]), str(provided[clash[1]][1])],
                },
            )
        return provided

    def dependents(self, *, module: str, version: str, direct: bool) -> list[DependencyRef]:
        """Stored versions depending on ``module@version``: directly, or through others too."""
        start = DependencyRef(ModuleName(module), VersionString(version))
        found: set[DependencyRef] = set()
        queue = deque([start])
        while queue:
            current = queue.popleft()
            for dependent in self._storage.list_dependents(
                module=current.module, version=current.version
            ):
                if dependent not in found:
                    found.add(dependent)
                    if not direct:
                        queue.append(dependent)
            if len(found) > MAX_TRANSITIVE_VERSIONS:
                break
        return sorted(found)
