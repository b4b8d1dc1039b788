"""Generating code: one protoc run in a private directory, as a child process with a timeout.

protoc runs as a subprocess even when it is the one bundled with grpcio-tools, which Spoke
also calls in process to compile pushes: in process it holds the GIL for the whole run and
cannot be stopped, so one slow generation would stall every request of the server. A child
can be killed, and its plugins with it.

The directory holds ``src/`` (every file the targets need: the version's own files and its
transitive dependencies, at their import paths) and ``out/``. The well-known types come from
grpcio-tools' include directory, the same files a push was compiled against.
"""

from __future__ import annotations

import importlib.util
import os
import re
import signal
import stat
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from spoke.codegen.languages import Invocation, LanguageStatus
from spoke.codegen.process import minimal_env, run, trim

__all__ = ["GeneratedCode", "GenerationFailed", "generate", "well_known_include"]

# Comments and strings, matched so that "go_package" inside a comment does not count.
_GO_PACKAGE_SCAN = re.compile(
    r"""
      //[^\n]*
    | /\*.*?(?:\*/|\Z)
    | "(?:[^"\\\n]|\\.)*"?
    | '(?:[^'\\\n]|\\.)*'?
    | (\boption\s+go_package\s*=)
    """,
    re.VERBOSE | re.DOTALL,
)


class GenerationFailed(Exception):
    """The generator did not produce code: it failed, crashed, timed out or wrote nothing.

    ``stderr`` is what it said (trimmed to about 4 KiB, with the server's directories replaced
    by placeholders); ``exit_code`` is its exit status, negative for a signal, ``None`` when it
    never ran to the end (timeout).
    """

    def __init__(
        self,
        message: str,
        *,
        stderr: str = "",
        timed_out: bool = False,
        exit_code: int | None = None,
        language: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.stderr = trim(stderr)
        self.timed_out = timed_out
        self.exit_code = exit_code
        self.language = language

    def __reduce__(self) -> tuple[object, ...]:
        # Keyword arguments are lost by the default reduction (a job result crossing processes).
        state = {
            "stderr": self.stderr,
            "timed_out": self.timed_out,
            "exit_code": self.exit_code,
            "language": self.language,
        }
        return (_rebuild_failure, (self.message, state))


def _rebuild_failure(message: str, state: dict[str, object]) -> GenerationFailed:
    failure = GenerationFailed(message)
    failure.__dict__.update(state)
    return failure


@dataclass(frozen=True, slots=True)
class GeneratedCode:
    """The generator's files (relative path -> bytes, sorted by path) and the version of every
    tool that produced them (``{"protoc": "36.2", "protoc-gen-go": "1.28.1"}``)."""

    files: Mapping[str, bytes]
    generator_versions: Mapping[str, str] = field(default_factory=dict)


def well_known_include() -> str:
    """grpcio-tools' directory of the well-known types (``google/protobuf/*.proto``).

    Found without importing grpc_tools, whose native module is not needed to generate code.
    """
    spec = importlib.util.find_spec("grpc_tools")
    locations = list(spec.submodule_search_locations or ()) if spec else []
    for location in locations:
        candidate = os.path.join(location, "_proto")
        if os.path.isdir(candidate):
            return candidate
    raise RuntimeError("grpcio-tools is not installed: it provides the well-known types")


def _well_known_paths(root: str) -> set[str]:
    """The import paths of the well-known types (a file there would hide the real one)."""
    return {
        os.path.relpath(os.path.join(directory, name), root).replace(os.sep, "/")
        for directory, _, names in os.walk(root)
        for name in names
        if name.endswith(".proto")
    }


def generate(
    status: LanguageStatus,
    *,
    files: Mapping[str, str],
    targets: Sequence[str],
    grpc: bool,
    options: Sequence[str],
    timeout: float,
) -> GeneratedCode:
    """Generate ``status``'s language for ``targets``, importing from ``files``.

    ``files`` maps every ``.proto`` path the targets need (their own and their transitive
    dependencies, but not the well-known types) to its text. Raises ValueError for a request
    that cannot be run (a disabled language, gRPC for a language without it, an option outside
    the language's allow-list, a malformed path, a target missing from ``files``): nothing is
    started then. Raises :class:`GenerationFailed` when the generator fails, is killed, times
    out or writes no file.
    """
    language = status.language
    invocation = status.invocation
    if not status.enabled or invocation is None:
        raise ValueError(f"language {language.id!r} is disabled: {status.reason}")
    if grpc and not language.supports_grpc:
        raise ValueError(f"language {language.id!r} does not generate gRPC code")
    refused = sorted(set(options) - set(language.options))
    if refused:
        allowed = ", ".join(language.options) or "none"
        raise ValueError(f"options not allowed for {language.id!r}: {refused} (allowed: {allowed})")
    if not timeout > 0:
        raise ValueError("timeout must be positive")
    _check_files(files, targets)
    well_known = well_known_include()
    shadowing = sorted(set(files) & _well_known_paths(well_known))
    if shadowing:
        raise ValueError(f"files at the paths of well-known types: {shadowing}")

    with tempfile.TemporaryDirectory(prefix="spoke-codegen-") as tmp:
        src, out, home = (os.path.join(tmp, d) for d in ("src", "out", "home"))
        for directory in (src, out, home):
            os.mkdir(directory)
        for path, text in files.items():
            target = os.path.join(src, *path.split("/"))
            os.makedirs(os.path.dirname(target), exist_ok=True)
            Path(target).write_bytes(text.encode("utf-8"))
        argv = _argv(invocation, well_known, out, files, targets, grpc=grpc, options=options)
        env = minimal_env(
            search_path=invocation.search_path, home=home, python_path=invocation.python_path
        )
        # Run in src/, the include directory: each target's path on disk is then its import
        # path, and protoc's messages name the files as the client did.
        label = f"{language.id} generator ({status.generator})"
        try:
            done = run(argv, cwd=src, env=env, timeout=timeout)
        except OSError as exc:  # uninstalled since it was detected, or no longer executable
            raise GenerationFailed(
                f"{label} could not be started: {exc.strerror or exc}", language=language.id
            ) from exc
        said = _sanitize((done.stderr or done.stdout).decode("utf-8", "replace"), tmp, well_known)
        if done.timed_out:
            raise GenerationFailed(
                f"{label} timed out after {timeout:g}s and was killed",
                stderr=said,
                timed_out=True,
                language=language.id,
            )
        code = done.returncode if done.returncode is not None else -1
        if code != 0:
            raise GenerationFailed(
                f"{label} {_describe_exit(code)}", stderr=said, exit_code=code, language=language.id
            )
        generated = _collect(out)
    if not generated:
        raise GenerationFailed(
            f"{label} wrote no file", stderr=said, exit_code=0, language=language.id
        )
    return GeneratedCode(files=generated, generator_versions=dict(status.versions))


def _describe_exit(code: int) -> str:
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"was killed by {name}"
    return f"failed with exit status {code}"


def _check_files(files: Mapping[str, str], targets: Sequence[str]) -> None:
    if not targets:
        raise ValueError("no target to generate code for")
    for path in files:
        _check_path(path)
        if not isinstance(files[path], str):
            raise ValueError(f"content of {path!r} must be text")
    missing = sorted(set(targets) - set(files))
    if missing:
        raise ValueError(f"targets missing from files: {missing}")
    paths = set(files)
    for path in paths:
        parts = path.split("/")
        for i in range(1, len(parts)):
            if "/".join(parts[:i]) in paths:
                raise ValueError(f"path {'/'.join(parts[:i])!r} is a file and a directory")


def _check_path(path: str) -> None:
    """A relative '/'-separated path that stays inside ``src/`` and means one thing to protoc."""
    if (
        not isinstance(path, str)
        or not path.endswith(".proto")
        or path.startswith("/")
        or "\\" in path
        or any(ord(c) < 0x20 or c == "\x7f" for c in path)
        or any(part in ("", ".", "..") for part in path.split("/"))
    ):
        raise ValueError(f"invalid .proto path {path!r}")


def _argv(
    invocation: Invocation,
    well_known: str,
    out: str,
    files: Mapping[str, str],
    targets: Sequence[str],
    *,
    grpc: bool,
    options: Sequence[str],
) -> list[str]:
    """protoc's arguments, each one argv element: no shell ever sees them."""
    argv = [*invocation.protoc, "-I.", f"-I{well_known}"]
    plugin_paths = dict(invocation.plugins)
    for output in invocation.generator.all_outputs(grpc=grpc):
        if output.plugin is not None:
            # protoc runs protoc-gen-<output name> for --<output name>_out: pin it to the path
            # found at detection.
            argv.append(f"--plugin=protoc-gen-{output.name}={plugin_paths[output.plugin]}")
        argv.append(f"--{output.name}_out={out}")
        accepted = output.accepts if output.accepts is not None else tuple(options)
        chosen = [*output.options, *(o for o in sorted(set(options)) if o in accepted)]
        if output.go_import_mapping:
            chosen += go_import_mappings(files)
        argv += [f"--{output.name}_opt={option}" for option in chosen]
    # "./": a file named "-a.proto" would otherwise be read as a flag ("Unknown flag: -a"), and
    # protoc has no "--" to end its options. It maps "./x" to the import path "x" as before.
    argv += [f"./{target}" for target in sorted(set(targets))]
    return argv


def sets_go_package(text: str) -> bool:
    """Whether a file declares ``option go_package`` (outside comments and strings)."""
    return any(match.group(1) for match in _GO_PACKAGE_SCAN.finditer(text))


def go_import_mappings(files: Mapping[str, str]) -> list[str]:
    """``M<path>=<import path>`` for every file without ``go_package``.

    protoc-gen-go refuses a file whose Go import path it cannot tell, and files pushed to a
    registry often do not say. The import path is the file's directory (``payments/v1``); a
    file at the root gets its own name without ``.proto``. A file that sets ``go_package`` keeps
    it: an ``M`` option would override it.
    """
    mappings = []
    for path in sorted(files):
        if sets_go_package(files[path]):
            continue
        if "," in path or "=" in path:
            raise ValueError(f"path {path!r} cannot be mapped to a Go import path (',' or '=')")
        directory, _, name = path.rpartition("/")
        mappings.append(f"M{path}={directory or name.removesuffix('.proto')}")
    return mappings


def _sanitize(text: str, tmp: str, well_known: str) -> str:
    """The generator's message without the server's directories."""
    text = text.replace(os.path.join(tmp, "src") + os.sep, "")
    text = text.replace(os.path.join(tmp, "out"), "<out>")
    text = text.replace(tmp, "<tmp>")
    return text.replace(well_known, "<well-known>")


def _collect(out: str) -> dict[str, bytes]:
    """Every regular file under ``out``, by '/'-separated relative path, sorted.

    Symbolic links are not followed: only what the generator wrote in ``out`` is returned.
    """
    found: dict[str, bytes] = {}
    for root, directories, names in os.walk(out, followlinks=False):
        directories.sort()
        for name in names:
            full = os.path.join(root, name)
            if not stat.S_ISREG(os.lstat(full).st_mode):
                continue
            relative = os.path.relpath(full, out).replace(os.sep, "/")
            found[relative] = Path(full).read_bytes()
    return dict(sorted(found.items()))
