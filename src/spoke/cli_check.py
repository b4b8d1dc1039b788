"""``spoke check NEW_DIR --against OLD_DIR``: the registry's breaking-change check, offline.

A push to the registry is refused when it breaks the module's previous version; CI wants the same
verdict before anything is pushed, from two checkouts and without a running server. This command
compiles both directories in process (as a push does) and runs the same checker with the same
modes and rule categories, so a change that passes here passes the registry's check too.

Exit codes: 0 compatible; 1 breaking changes found; 2 the check could not run (a usage error, a
missing directory, no ``.proto`` files, a file that is not UTF-8 or too large, a symbolic link
leading out of its directory, or a schema that does not compile). Errors are one line each on
stderr, never a traceback: CI logs are read by people who did not write the tool.
"""

from __future__ import annotations

import json
import os
import stat
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, NoReturn

import click

from spoke.settings import Settings

# The checker and the compiler (grpc_tools) are imported when the command runs: `spoke` imports
# this module for every command, and they would add ~50 ms to each one's start-up.
if TYPE_CHECKING:
    from spoke.compat import Comparison, Schema, Violation
    from spoke.protobuf import Diagnostic

__all__ = ["check"]

EXIT_BREAKING = 1
EXIT_INPUT = 2

# A .proto file larger than the largest push the server accepts could never be pushed anyway.
MAX_FILE_BYTES = Settings().max_body_bytes

# Two directories hold one earlier version only, so the *_TRANSITIVE modes mean nothing here.
# Both lists are spelled out for the help text (see above); a test keeps them equal to
# spoke.compat's MODES and CATEGORIES.
CHECK_MODES = ("NONE", "BACKWARD", "FORWARD", "FULL")
RULE_CATEGORIES = ("FILE", "PACKAGE", "WIRE_JSON", "WIRE", "CSR")
FORMATS = ("text", "json", "github")


class InputError(Exception):
    """The inputs cannot be checked; the message is shown as is, one line."""


@dataclass(frozen=True)
class Tree:
    """The ``.proto`` files found under one directory.

    ``root`` is the directory as the user wrote it, so that every path shown is one the user can
    open; ``files`` maps paths relative to it (``/``-separated) to their text.
    """

    root: str
    files: dict[str, str]

    def shown(self, path: str) -> str:
        """``path`` joined with the directory as given (``./a.proto`` becomes ``a.proto``)."""
        return os.path.normpath(os.path.join(self.root, path)).replace(os.sep, "/")


# ---------------------------------------------------------------------------------------------
# Reading a directory


def _inside(path: str, root: str) -> bool:
    return os.path.commonpath([path, root]) == root


def _read_proto(disk_path: str, shown: str) -> str:
    try:
        info = os.stat(disk_path)
        if not stat.S_ISREG(info.st_mode):
            raise InputError(f"{shown}: not a regular file")
        if info.st_size > MAX_FILE_BYTES:
            raise InputError(
                f"{shown}: {info.st_size} bytes, over the limit of {MAX_FILE_BYTES} bytes"
            )
        with open(disk_path, "rb") as f:
            data = f.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise InputError(f"{shown}: cannot read: {exc.strerror or exc}") from None
    if len(data) > MAX_FILE_BYTES:  # it grew after the stat
        raise InputError(f"{shown}: over the limit of {MAX_FILE_BYTES} bytes")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise InputError(
            f"{shown}:{line}:{column}: not valid UTF-8 (byte 0x{data[exc.start]:02x}); "
            ".proto files must be UTF-8"
        ) from None


def _walk(root: str, real_root: str) -> Iterator[tuple[str, str]]:
    """(relative path, disk path) of every ``*.proto`` under ``real_root``, hidden dirs skipped.

    Symbolic links are followed when they stay inside the directory (one leading out would make
    the check depend on files outside the checkout) and refused otherwise. A link back to one of
    its own ancestors is not followed again, so a loop ends.
    """
    pending: list[tuple[str, str, tuple[str, ...]]] = [(real_root, "", (real_root,))]
    while pending:
        directory, prefix, ancestors = pending.pop()
        try:
            entries = sorted(os.scandir(directory), key=lambda e: e.name)
        except OSError as exc:
            shown = os.path.join(root, prefix) if prefix else root
            raise InputError(f"{shown}: cannot list: {exc.strerror or exc}") from None
        for entry in entries:
            relative = prefix + entry.name
            try:
                is_dir = entry.is_dir()
            except OSError:
                is_dir = False
            if is_dir and entry.name.startswith("."):
                continue
            if not is_dir and not entry.name.endswith(".proto"):
                continue
            real = os.path.realpath(entry.path)
            if entry.is_symlink() and not _inside(real, real_root):
                raise InputError(
                    f"{os.path.join(root, relative)}: symbolic link to {real}, outside {root}: "
                    "refused"
                )
            if is_dir:
                if real not in ancestors:
                    pending.append((real, relative + "/", (*ancestors, real)))
            else:
                yield relative, entry.path


def collect(directory: str, *, skipped: list[str]) -> Tree:
    """Every ``*.proto`` under ``directory``; well-known types found there are left out (they
    are built in, and compiling a second copy would clash) and listed in ``skipped``."""
    from spoke.protobuf import well_known_paths

    files: dict[str, str] = {}
    for relative, disk_path in _walk(directory, os.path.realpath(directory)):
        shown = os.path.join(directory, relative)
        try:
            relative.encode("utf-8")
        except UnicodeEncodeError:
            raise InputError(f"{shown!r}: the file name is not valid UTF-8") from None
        if relative in well_known_paths():
            skipped.append(shown)
            continue
        files[relative] = _read_proto(disk_path, shown)
    return Tree(directory, dict(sorted(files.items())))


# ---------------------------------------------------------------------------------------------
# Compiling one side


@dataclass(frozen=True)
class Side:
    """One compiled directory: ``name`` is ``new`` or ``old`` in messages."""

    name: str
    tree: Tree
    schema: Schema


def _diagnostic_line(side: str, diagnostic: Diagnostic, trees: Sequence[Tree]) -> str:
    where = diagnostic.file
    if where is not None:
        owner = next((t for t in trees if where in t.files), None)
        if owner is not None:
            where = owner.shown(where)
    position = "".join(f":{n}" for n in (diagnostic.line, diagnostic.column) if n is not None)
    prefix = f"{where}{position}: " if where is not None else ""
    return f"{side}: {prefix}{diagnostic.message}"


def compile_side(name: str, tree: Tree, includes: Sequence[Tree]) -> Side:
    """Compile ``tree`` with the include directories' files importable; the targets are the
    tree's own files. Raises InputError with one line per compiler error."""
    from spoke.compat import Schema
    from spoke.protobuf import CompilationFailed, compile_files

    imports: dict[str, str] = {}
    for include in includes:  # the first directory that has a path provides it, as with -I
        for path, text in include.files.items():
            if path not in tree.files:
                imports.setdefault(path, text)
    try:
        result = compile_files(files=tree.files, include_files=imports)
    except CompilationFailed as exc:
        providers = (tree, *includes)
        lines = [_diagnostic_line(name, d, providers) for d in exc.errors]
        omitted = exc.diagnostics.errors_omitted
        if omitted or exc.diagnostics.truncated:
            more = f"{omitted}{'+' if exc.diagnostics.truncated else ''}"
            lines.append(f"{name}: ... and {more} more errors not shown")
        lines += [
            f"{name}: {tree.shown(u.file)} imports {u.import_path}, which neither {tree.root} "
            "nor an --include directory provides"
            for u in exc.unresolved_imports
        ]
        raise InputError("\n".join(lines)) from None
    except ValueError as exc:  # a file name protoc cannot take (backslash, control character)
        raise InputError(f"{name}: {tree.root}: {exc}") from None
    schema = Schema(tree.root, result.descriptor_set, frozenset(tree.files))
    return Side(name, tree, schema)


# ---------------------------------------------------------------------------------------------
# Output


def _escape_data(text: str) -> str:
    # GitHub decodes these three in a workflow command's message.
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    # ...and in property values also ':' and ',', which separate the properties.
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


@dataclass(frozen=True)
class Located:
    """A violation with the path (directory as given included) of the file it points into."""

    violation: Violation
    path: str

    def text(self) -> str:
        v = self.violation
        position = "".join(f":{n}" for n in (v.line, v.column) if n is not None)
        return f"{self.path}{position}: {v.message} ({v.rule})"

    def github(self) -> str:
        v = self.violation
        properties = [f"file={_escape_property(self.path)}"]
        if v.line is not None:
            properties.append(f"line={v.line}")
        if v.column is not None:
            properties.append(f"col={v.column}")
        properties.append(f"title={_escape_property(v.rule)}")
        return f"::error {','.join(properties)}::{_escape_data(v.message)}"


def locate(
    comparison: Comparison, new: Side, old: Side, backward: frozenset[Violation]
) -> list[Located]:
    """Point each violation at the directory its file is in.

    A BACKWARD violation is about the new side's file, a FORWARD one about the old side's (there
    the old side plays "new"); ``backward`` holds the violations a BACKWARD check finds, which
    tells the two apart under FULL. A deleted file exists on the other side only.
    """
    found = []
    for v in comparison.violations:
        on_new = comparison.mode == "BACKWARD" or (comparison.mode == "FULL" and v in backward)
        first, second = (new.tree, old.tree) if on_new else (old.tree, new.tree)
        tree = second if v.file not in first.files and v.file in second.files else first
        found.append(Located(v, tree.shown(v.file)))
    return found


def _summary(comparison: Comparison, against: str) -> str:
    count = len(comparison.violations)
    amount = "no breaking changes" if count == 0 else f"{count} breaking change"
    if count > 1:
        amount += "s"
    return f"{amount} against {against} ({comparison.mode}, {comparison.rules})"


# ---------------------------------------------------------------------------------------------
# The command


def _fail(message: str) -> NoReturn:
    for line in message.splitlines():
        click.echo(f"spoke: {line}", err=True)
    sys.exit(EXIT_INPUT)


def _mode(ctx: click.Context, param: click.Parameter, value: str) -> str:
    from spoke.compat import MODES

    mode = value.upper()
    if mode in MODES and mode not in CHECK_MODES:
        base = mode.removesuffix("_TRANSITIVE")
        raise click.BadParameter(
            f"{mode} compares a version with every earlier version of a module, but two "
            f"directories are one version and one earlier version: use {base}"
        )
    if mode not in CHECK_MODES:
        raise click.BadParameter(f"{value!r} is not one of {', '.join(CHECK_MODES)}")
    return mode


def _rules(ctx: click.Context, param: click.Parameter, value: str) -> str:
    from spoke.compat import CATEGORIES

    rules = value.upper()
    if rules not in CATEGORIES:
        raise click.BadParameter(f"{value!r} is not one of {', '.join(CATEGORIES)}")
    return rules


_DIRECTORY = click.Path(exists=True, file_okay=False, dir_okay=True)


@click.command(name="check")
@click.argument("new_dir", type=_DIRECTORY)
@click.option(
    "--against", "old_dir", type=_DIRECTORY, required=True, help="The directory to compare with."
)
@click.option(
    "--mode",
    default="BACKWARD",
    show_default=True,
    callback=_mode,
    metavar="|".join(CHECK_MODES),
    help="BACKWARD: NEW_DIR against OLD_DIR, as a push is checked; FORWARD: OLD_DIR against "
    "NEW_DIR; FULL: both; NONE: nothing.",
)
@click.option(
    "--rules",
    default="FILE",
    show_default=True,
    callback=_rules,
    metavar="|".join(RULE_CATEGORIES),
    help="Buf's rule category: which rules apply.",
)
@click.option(
    "--format",
    "output_format",
    type=click.Choice(FORMATS),
    default="text",
    show_default=True,
    help="text: file:line:column lines; json: the comparison; github: workflow annotations.",
)
@click.option(
    "--include",
    "-I",
    "include_dirs",
    type=_DIRECTORY,
    multiple=True,
    help="A directory of imported files that belong to neither side (e.g. vendored). Repeatable.",
)
def check(
    new_dir: str,
    old_dir: str,
    mode: str,
    rules: str,
    output_format: str,
    include_dirs: tuple[str, ...],
) -> None:
    """Check NEW_DIR for breaking changes against OLD_DIR, offline, as a push would.

    Every *.proto under each directory (hidden directories skipped) is compiled in process;
    well-known types are built in. Exit 0 when compatible, 1 on breaking changes, 2 when the
    check cannot run.
    """
    skipped: list[str] = []
    try:
        new_tree = collect(new_dir, skipped=skipped)
        old_tree = collect(old_dir, skipped=skipped)
        includes = [collect(directory, skipped=skipped) for directory in include_dirs]
    except InputError as exc:
        _fail(str(exc))
    for shown in skipped:
        click.echo(f"spoke: {shown}: a well-known type, built in: not read", err=True)
    for tree, role in ((new_tree, "NEW_DIR"), (old_tree, "OLD_DIR")):
        if not tree.files:
            _fail(f"{tree.root}: no .proto files in {role}")

    errors = []
    sides = []
    for name, tree in (("new", new_tree), ("old", old_tree)):
        try:
            sides.append(compile_side(name, tree, includes))
        except InputError as exc:
            errors.append(str(exc))
        except Exception as exc:  # e.g. no space left for protoc's temporary files
            errors.append(f"{name}: cannot compile: {type(exc).__name__}: {exc}")
    if errors:
        _fail("\n".join(errors))
    new, old = sides

    from spoke.compat import compare

    try:
        comparison = compare(new.schema, [old.schema], mode=mode, rules=rules)
        backward: frozenset[Violation] = frozenset()
        if mode == "FULL":
            backward = frozenset(
                compare(new.schema, [old.schema], mode="BACKWARD", rules=rules).violations
            )
    except Exception as exc:  # a checker bug must not pass for a verdict, nor be a traceback
        _fail(f"internal error in the checker: {type(exc).__name__}: {exc}")

    if output_format == "json":
        click.echo(json.dumps(comparison.to_dict(), indent=2))
    else:
        for item in locate(comparison, new, old, backward):
            click.echo(item.github() if output_format == "github" else item.text())
    click.echo(_summary(comparison, old_dir), err=True)
    sys.exit(EXIT_BREAKING if comparison.violations else 0)
