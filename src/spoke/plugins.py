"""Plugins: the hook specifications, backend descriptors and the plugin manager.

A plugin is a Python module with ``@hookimpl`` functions, registered under the entry point group
``spoke``. The built-in backends in :mod:`spoke_plugins` register exactly the way a third-party
package does::

    # setup.cfg of a plugin
    [options.entry_points]
    spoke =
        mybackend = my_package.spoke_plugin

Each backend hook returns a list of small descriptors (name, description, factory). Spoke calls a
factory only for the backend selected by the settings, so an installed plugin whose driver is
missing costs nothing until it is chosen. A descriptor names the modules its factory needs
(``requires``) and the Spoke extra that installs them (``extra``): a backend whose modules are
missing is listed as unusable, with the install hint, and selecting it is refused with that hint
(:class:`BackendNotInstalled`) before any backend is created.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, ClassVar, Generic, TypeVar, cast

import pluggy

from spoke.interfaces import BlobStore, Cache, Storage
from spoke.settings import Settings, SettingsError

if TYPE_CHECKING:
    # spoke.codegen builds on this module (its built-in languages are a plugin): it is imported
    # only when languages are collected, which keeps the dependency one-way at import time.
    from spoke.codegen.languages import Language

__all__ = [
    "ENTRY_POINT_GROUP",
    "BackendCatalog",
    "BackendNotInstalled",
    "BlobBackend",
    "CacheBackend",
    "PluginFailure",
    "PluginRegistry",
    "StorageBackend",
    "UnknownBackend",
    "create_plugin_registry",
    "hookimpl",
    "hookspec",
    "missing_extra",
    "missing_modules",
]

ENTRY_POINT_GROUP = "spoke"
hookspec = pluggy.HookspecMarker("spoke")
hookimpl = pluggy.HookimplMarker("spoke")

B = TypeVar("B")


def missing_extra(what: str, extra: str, missing: Iterable[str] = ()) -> str:
    """``<what> needs the <extra> extra: pip install 'spoke[<extra>]'``, followed by
    ``(not installed: a, b)`` when the missing modules are given: the one wording Spoke uses for
    an optional extra that is not installed."""
    message = f"{what} needs the {extra} extra: pip install 'spoke[{extra}]'"
    absent = ", ".join(missing)
    return f"{message} (not installed: {absent})" if absent else message


def missing_modules(modules: Iterable[str]) -> tuple[str, ...]:
    """The top-level ``modules`` that cannot be found. Nothing is imported to find out."""
    return tuple(module for module in modules if not _findable(module))


def _findable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a broken parent package, or a module without a spec
        return False


@dataclass(frozen=True, slots=True)
class _BackendDescriptor(Generic[B]):
    kind: ClassVar[str] = "backend"

    name: str
    description: str
    factory: Callable[[Settings], B]
    plugin: str = field(default="", compare=False)
    # Top-level modules the factory imports, looked up (never imported) to tell whether the
    # backend can be used; and the Spoke extra that installs them ("" for a third-party plugin).
    requires: tuple[str, ...] = field(default=(), compare=False)
    extra: str = field(default="", compare=False)

    def unusable_reason(self) -> str | None:
        """Why this backend cannot be used in this environment, with the install hint; ``None``
        when everything it ``requires`` is installed (found without importing it)."""
        missing = missing_modules(self.requires)
        if not missing:
            return None
        what = f"the {self.name} {self.kind} backend"
        if self.extra:
            return missing_extra(what, self.extra, missing)
        return f"{what} needs modules that are not installed: {', '.join(missing)}"


@dataclass(frozen=True, slots=True)
class StorageBackend(_BackendDescriptor[Storage]):
    """A storage backend: ``factory(settings)`` returns a :class:`spoke.interfaces.Storage`."""

    kind: ClassVar[str] = "storage"


@dataclass(frozen=True, slots=True)
class BlobBackend(_BackendDescriptor[BlobStore]):
    """A blob backend: ``factory(settings)`` returns a :class:`spoke.interfaces.BlobStore`."""

    kind: ClassVar[str] = "blob"


@dataclass(frozen=True, slots=True)
class CacheBackend(_BackendDescriptor[Cache]):
    """A cache backend: ``factory(settings)`` returns a :class:`spoke.interfaces.Cache`."""

    kind: ClassVar[str] = "cache"


D = TypeVar("D", "StorageBackend", "BlobBackend", "CacheBackend")


class HookSpecs:
    """The hooks a Spoke plugin may implement. Every hook is optional."""

    @hookspec
    def spoke_storage_backends(self) -> Sequence[StorageBackend]:  # type: ignore[empty-body]
        """Return the storage backends this plugin provides.

        Called whenever Spoke lists backends (at startup, by ``spoke plugins``), so it must be
        cheap and free of side effects. Return a list of :class:`StorageBackend`; do not connect
        to anything here: the factory does that when the backend is selected
        (``SPOKE_STORAGE_TYPE=<name>``).

        Example::

            @hookimpl
            def spoke_storage_backends():
                return [StorageBackend("sqlite", "SQLite file", SqliteStorage.from_settings)]
        """

    @hookspec
    def spoke_blob_backends(self) -> Sequence[BlobBackend]:  # type: ignore[empty-body]
        """Return the blob backends this plugin provides (selected by ``SPOKE_BLOB_TYPE``)."""

    @hookspec
    def spoke_cache_backends(self) -> Sequence[CacheBackend]:  # type: ignore[empty-body]
        """Return the cache backends this plugin provides (selected by ``SPOKE_CACHE_TYPE``)."""

    @hookspec
    def spoke_languages(self) -> Sequence[Language]:  # type: ignore[empty-body]
        """Return the code generation languages this plugin provides.

        Each :class:`spoke.codegen.Language` says how to run its generator (which protoc, the
        outputs, the plugin executables it needs on PATH, the options a request may pass). Like
        the backend hooks it must be cheap: run nothing here. Spoke detects each generator once,
        later, and lists a language whose generator is missing as disabled, with the reason.
        """


@dataclass(frozen=True, slots=True)
class PluginFailure:
    """A plugin that could not be loaded or whose hook failed: its name and the reason."""

    plugin: str
    error: str


class BackendNotInstalled(SettingsError):
    """The settings select a backend whose required modules (its extra) are not installed."""

    def __init__(self, variable: str, reason: str) -> None:
        super().__init__(variable, reason)
        self.message = reason


class UnknownBackend(LookupError):
    """The settings name a backend no loaded plugin provides."""

    def __init__(self, kind: str, name: str, variable: str, catalog: BackendCatalog) -> None:
        available = ", ".join(catalog.names(kind)) or "none"
        message = f"unknown {kind} backend {name!r}; installed: {available}"
        if catalog.failures:
            broken = "; ".join(f"{f.plugin} ({f.error})" for f in catalog.failures)
            message += f"; failed to load: {broken}"
        super().__init__(message)
        self.variable = variable
        self.message = message


@dataclass(frozen=True, slots=True)
class BackendCatalog:
    """Every backend the loaded plugins provide, and the plugins that failed."""

    storage: tuple[StorageBackend, ...]
    blob: tuple[BlobBackend, ...]
    cache: tuple[CacheBackend, ...]
    failures: tuple[PluginFailure, ...]

    def names(self, kind: str) -> list[str]:
        return sorted(d.name for d in self._of(kind))

    def _of(self, kind: str) -> tuple[_BackendDescriptor[object], ...]:
        return {"storage": self.storage, "blob": self.blob, "cache": self.cache}[kind]  # type: ignore[return-value]

    def storage_backend(self, name: str) -> StorageBackend:
        """The storage backend called ``name``.

        Raises :class:`UnknownBackend`, or :class:`BackendNotInstalled` when it is provided but
        what it requires is not installed (the same for the two methods below).
        """
        for descriptor in self.storage:
            if descriptor.name == name:
                return _usable(descriptor, "SPOKE_STORAGE_TYPE")
        raise UnknownBackend("storage", name, "SPOKE_STORAGE_TYPE", self)

    def blob_backend(self, name: str) -> BlobBackend:
        """The blob backend called ``name``. Raises :class:`UnknownBackend`,
        :class:`BackendNotInstalled`."""
        for descriptor in self.blob:
            if descriptor.name == name:
                return _usable(descriptor, "SPOKE_BLOB_TYPE")
        error = UnknownBackend("blob", name, "SPOKE_BLOB_TYPE", self)
        if any(d.name == name for d in self.storage):
            # SPOKE_BLOB_TYPE unset follows the storage type; a storage-only plugin needs it set.
            error.message += "; set SPOKE_BLOB_TYPE to one of the installed blob backends"
        raise error

    def cache_backend(self, name: str) -> CacheBackend:
        """The cache backend called ``name``. Raises :class:`UnknownBackend`,
        :class:`BackendNotInstalled`."""
        for descriptor in self.cache:
            if descriptor.name == name:
                return _usable(descriptor, "SPOKE_CACHE_TYPE")
        raise UnknownBackend("cache", name, "SPOKE_CACHE_TYPE", self)


def _usable(descriptor: D, variable: str) -> D:
    reason = descriptor.unusable_reason()
    if reason is not None:
        raise BackendNotInstalled(variable, reason)
    return descriptor


class PluginRegistry:
    """A pluggy ``PluginManager("spoke")`` with the hooks above, and the load failures."""

    def __init__(self) -> None:
        self.manager = pluggy.PluginManager("spoke")
        self.manager.add_hookspecs(HookSpecs)
        self.failures: list[PluginFailure] = []

    def register(self, plugin: object, name: str | None = None) -> None:
        """Register a plugin object (a module or any object with ``@hookimpl`` methods).

        A name clash, a hook with a wrong signature or a hook name Spoke does not define is
        recorded as a :class:`PluginFailure` and the plugin is left out; it never stops Spoke.
        """
        label = name or repr(plugin)
        try:
            self.manager.register(plugin, name=name)
        except (ValueError, pluggy.PluginValidationError) as exc:
            self.failures.append(PluginFailure(label, str(exc)))
            return
        # A misspelt hook (spoke_storage_backend without the s) would otherwise be ignored.
        unknown = [
            impl.function.__name__
            for hook in self.manager.hook.__dict__.values()
            if isinstance(hook, pluggy.HookCaller) and not hook.has_spec()
            for impl in hook.get_hookimpls()
            if impl.plugin is plugin
        ]
        if unknown:
            self.manager.unregister(plugin)
            self.failures.append(
                PluginFailure(label, f"unknown hook(s): {', '.join(sorted(unknown))}")
            )

    def load_entry_points(self, group: str = ENTRY_POINT_GROUP) -> None:
        """Import and register every entry point of ``group``; a failing one is recorded.

        Two entry points with one name (two distributions both calling theirs ``memory``) are
        a failure of the second: which one would win must never depend on install order.
        """
        seen: dict[str, str] = {}
        for entry_point in importlib.metadata.entry_points(group=group):
            distribution = entry_point.dist.name if entry_point.dist else "?"
            if entry_point.name in seen:
                if seen[entry_point.name] != entry_point.value:
                    self.failures.append(
                        PluginFailure(
                            entry_point.name,
                            f"entry point name already used by {seen[entry_point.name]} "
                            f"(ignored {entry_point.value} from {distribution})",
                        )
                    )
                continue
            seen[entry_point.name] = entry_point.value
            if self.manager.get_plugin(entry_point.name) is not None:
                continue
            try:
                plugin = entry_point.load()
            except Exception as exc:  # any import error of third-party code is reported
                self.failures.append(
                    PluginFailure(entry_point.name, f"{type(exc).__name__}: {exc}")
                )
                continue
            self.register(plugin, name=entry_point.name)

    def catalog(self) -> BackendCatalog:
        """Ask every plugin for its backends. A hook that raises is recorded as a failure."""
        failures = list(self.failures)
        storage = self._collect("spoke_storage_backends", StorageBackend, failures)
        blob = self._collect("spoke_blob_backends", BlobBackend, failures)
        cache = self._collect("spoke_cache_backends", CacheBackend, failures)
        return BackendCatalog(
            storage=tuple(storage),
            blob=tuple(blob),
            cache=tuple(cache),
            failures=tuple(failures),
        )

    def _collect(self, hook_name: str, kind: type[D], failures: list[PluginFailure]) -> list[D]:
        found: dict[str, D] = {}
        for impl in getattr(self.manager.hook, hook_name).get_hookimpls():
            plugin_name = impl.plugin_name
            try:
                result: Iterable[object] = impl.function() or ()
                descriptors = list(result)
            except Exception as exc:  # a plugin's bug must not hide the other plugins
                failures.append(PluginFailure(plugin_name, f"{hook_name}: {exc}"))
                continue
            for descriptor in descriptors:
                if not isinstance(descriptor, kind):
                    failures.append(
                        PluginFailure(
                            plugin_name,
                            f"{hook_name} returned {type(descriptor).__name__}, "
                            f"expected {kind.__name__}",
                        )
                    )
                    continue
                if descriptor.name in found:
                    failures.append(
                        PluginFailure(
                            plugin_name,
                            f"{kind.__name__} {descriptor.name!r} is already provided by "
                            f"{found[descriptor.name].plugin}",
                        )
                    )
                    continue
                found[descriptor.name] = replace(descriptor, plugin=plugin_name)
        return sorted(found.values(), key=lambda d: d.name)

    def languages(self) -> tuple[list[Language], list[PluginFailure]]:
        """Every plugin's code generation languages (sorted by id) and the plugins that failed.

        Like backends: a hook that raises or returns something else is a failure of its plugin,
        and a language id offered twice is kept from the first plugin found.
        """
        return _collect_languages(self)


def _collect_languages(registry: PluginRegistry) -> tuple[list[Language], list[PluginFailure]]:
    from spoke.codegen.languages import Language

    failures = list(registry.failures)
    found: dict[str, Language] = {}
    for impl in registry.manager.hook.spoke_languages.get_hookimpls():
        plugin_name = impl.plugin_name
        try:
            result = impl.function()
            languages = list(cast("Iterable[object]", result or ()))
        except Exception as exc:  # an invalid Language raises in its constructor, here
            failures.append(PluginFailure(plugin_name, f"spoke_languages: {exc}"))
            continue
        for language in languages:
            if not isinstance(language, Language):
                failures.append(
                    PluginFailure(
                        plugin_name,
                        f"spoke_languages returned {type(language).__name__}, expected Language",
                    )
                )
            elif language.id in found:
                failures.append(
                    PluginFailure(
                        plugin_name,
                        f"Language {language.id!r} is already provided by "
                        f"{found[language.id].plugin}",
                    )
                )
            else:
                found[language.id] = replace(language, plugin=plugin_name)
    return sorted(found.values(), key=lambda language: language.id), failures


def create_plugin_registry(*, load_entry_points: bool = True) -> PluginRegistry:
    """A registry with every installed plugin (entry point group ``spoke``) loaded."""
    registry = PluginRegistry()
    if load_entry_points:
        registry.load_entry_points()
    return registry
