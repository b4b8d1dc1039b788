"""Checks on ``.proto`` files before protoc sees them: paths, encoding and nesting depth.

protoc *aborts the process* (absl ``CHECK`` failure, SIGABRT) when an option value nests
messages about 100 levels deep, whether written as ``{ o { o { ... } } }`` or as
``option (opt).o.o.o... = 1``. Such input is rejected here (:func:`find_excessive_nesting`),
so that neither the server nor a worker process ever hands it to protoc.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from spoke.protobuf.diagnostics import Diagnostic

__all__ = [
    "MAX_NESTING",
    "check_no_file_directory_clash",
    "check_path",
    "encode_and_screen",
    "find_excessive_nesting",
    "position",
]

# Upper bound on the combined depth of open '{', '<', '[' and the '.'s of the current statement.
# Every level of message nesting in an option value needs one of those, and protoc aborts at
# about 100 levels (counting the enclosing descriptors). protoc itself rejects message
# declarations nested deeper than 32, so real schemas stay far below this.
MAX_NESTING = 64

# Tokens that matter for nesting. Comments, strings and numbers are matched only so that the
# brackets and dots inside them are skipped; identifiers so that a digit inside one is not
# taken for the start of a number.
_TOKEN = re.compile(
    r"""
      //[^\n]*
    | /\*.*?(?:\*/|\Z)
    | "(?:[^"\\\n]|\\.)*"?
    | '(?:[^'\\\n]|\\.)*'?
    | [A-Za-z_][A-Za-z0-9_]*
    | \.?[0-9](?:[eE][+-]|[A-Za-z0-9_.])*
    | [{}<>\[\]();,.]
    """,
    re.VERBOSE | re.DOTALL,
)
_CLOSER_TO_OPENER = {"}": "{", ">": "<", "]": "[", ")": "("}


def check_path(path: str) -> None:
    """Reject paths that could escape the temp dir or confuse protoc or output parsing."""
    if not isinstance(path, str) or not path:
        raise ValueError(f"invalid .proto path {path!r}: must be a non-empty str")
    if path.startswith("/") or "\\" in path:
        raise ValueError(f"invalid .proto path {path!r}: must be relative and use '/'")
    if any(ord(c) < 0x20 or c == "\x7f" for c in path):
        raise ValueError(f"invalid .proto path {path!r}: contains control characters")
    if any(part in ("", ".", "..") for part in path.split("/")):
        raise ValueError(f"invalid .proto path {path!r}: empty, '.' or '..' component")


def check_no_file_directory_clash(paths: Iterable[str]) -> None:
    """Reject e.g. both ``a`` and ``a/b.proto``: one would have to be a file and a directory."""
    path_set = set(paths)
    for path in path_set:
        parts = path.split("/")
        for i in range(1, len(parts)):
            prefix = "/".join(parts[:i])
            if prefix in path_set:
                raise ValueError(f"path {prefix!r} is both a file and a directory of {path!r}")


def position(text: str, index: int) -> tuple[int, int]:
    """1-based (line, column) of ``text[index]``."""
    line_start = text.rfind("\n", 0, index) + 1
    return text.count("\n", 0, index) + 1, index - line_start + 1


def find_excessive_nesting(text: str) -> int | None:
    """Index of the first token at which nesting exceeds MAX_NESTING, or None.

    The depth is the number of open '{', '<' and '[' plus the '.'s in the statement so far,
    including those of enclosing statements (``option (opt).o.o = { o { ... } }`` nests
    2 + 2 levels). This over-approximates the message nesting protoc will build, which is
    what matters: an under-estimate could let through input that aborts the process.
    """
    stack: list[tuple[str, int]] = []  # (opener, dots before it)
    brackets = 0
    dots = 0
    for match in _TOKEN.finditer(text):
        token = match.group()
        if token == ".":
            dots += 1
        elif token in ("{", "<", "[", "("):
            stack.append((token, dots))
            if token != "(":
                brackets += 1
        elif token in _CLOSER_TO_OPENER:
            # Only a matching closer pops: a stray one must not lower the count.
            if stack and stack[-1][0] == _CLOSER_TO_OPENER[token]:
                opener, dots = stack.pop()
                if opener != "(":
                    brackets -= 1
                if opener in ("{", "<"):
                    # A block or aggregate ends its statement (`message A {}` needs no ';'):
                    # the next one starts from the enclosing statement's dots, else the dots
                    # of e.g. many `extend a.b.C {}` blocks would add up.
                    dots = stack[-1][1] if stack else 0
            continue
        elif token in (";", ","):
            # A new statement (or field, inside an aggregate) starts from the enclosing dots.
            dots = stack[-1][1] if stack else 0
            continue
        else:
            continue
        if brackets + dots > MAX_NESTING:
            return match.start()
    return None


def encode_and_screen(files: Mapping[str, str], errors: list[Diagnostic]) -> dict[str, bytes]:
    """UTF-8 encode each file, appending a Diagnostic for each that cannot be compiled safely."""
    encoded: dict[str, bytes] = {}
    for path, text in files.items():
        if not isinstance(text, str):
            raise TypeError(f"content of {path!r} must be str, not {type(text).__name__}")
        try:
            encoded[path] = text.encode("utf-8")
        except UnicodeEncodeError as exc:
            # Only lone surrogates get here: a str cannot otherwise fail to encode.
            line, column = position(text, exc.start)
            errors.append(
                Diagnostic(path, line, column, "File is not valid UTF-8 (lone surrogate).")
            )
            continue
        too_deep = find_excessive_nesting(text)
        if too_deep is not None:
            line, column = position(text, too_deep)
            errors.append(
                Diagnostic(
                    path,
                    line,
                    column,
                    f"Nesting too deep: more than {MAX_NESTING} levels of '{{', '<', '[' and "
                    "'.'-separated names.",
                )
            )
    return encoded
