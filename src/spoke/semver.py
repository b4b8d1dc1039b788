"""Semantic Versioning 2.0.0: parsing, precedence and a sortable key.

Versions may be written with a leading ``v`` (``v1.2.3``); Spoke stores them without it. Build
metadata (``+build.5``) is kept in the stored string but, as the specification says, ignored for
precedence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["SemVer", "parse_semver"]

# The grammar of semver.org, with numeric identifiers free of leading zeros.
_NUM = r"0|[1-9]\d*"
_PRE_ID = r"(?:0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*)"
_SEMVER = re.compile(
    rf"^v?(?P<major>{_NUM})\.(?P<minor>{_NUM})\.(?P<patch>{_NUM})"
    rf"(?:-(?P<pre>{_PRE_ID}(?:\.{_PRE_ID})*))?"
    r"(?:\+(?P<build>[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?",
    re.ASCII,  # \d must not match other scripts' digits
)
_MAX_LENGTH = 128
_MAX_NUMBER_DIGITS = 18  # keeps every number inside a signed 64-bit column


def _encode_number(digits: str) -> str:
    # Length first, so "10" sorts after "9" in a plain string comparison.
    return f"{len(digits):02d}{digits}"


@dataclass(frozen=True, slots=True, order=False)
class SemVer:
    """A parsed semantic version."""

    major: int
    minor: int
    patch: int
    prerelease: tuple[str, ...] = ()
    build: str = ""

    def __str__(self) -> str:
        text = f"{self.major}.{self.minor}.{self.patch}"
        if self.prerelease:
            text += "-" + ".".join(self.prerelease)
        if self.build:
            text += "+" + self.build
        return text

    @property
    def is_prerelease(self) -> bool:
        """True for ``1.0.0-rc.1`` and the like."""
        return bool(self.prerelease)

    @property
    def sort_key(self) -> str:
        """A string whose plain (bytewise, "C" collation) order is semver precedence.

        Ties (versions differing only in build metadata) are broken by the caller with the
        version string. Storage backends keep this key so that "newest first" and "latest" cost
        an index scan, not a parse of every version.
        """
        key = ".".join(_encode_number(str(n)) for n in (self.major, self.minor, self.patch))
        if not self.prerelease:
            return key + "~"  # "~" sorts after "-": a release outranks its prereleases
        parts = []
        for ident in self.prerelease:
            # Numeric identifiers rank below alphanumeric ones ("0" < "1"); "!" separates
            # identifiers and sorts below every identifier character, so a shorter list of
            # otherwise equal identifiers ranks lower, as the specification requires.
            parts.append("0" + _encode_number(ident) if ident.isdigit() else "1" + ident)
        return key + "-" + "!".join(parts)


def parse_semver(text: str) -> SemVer:
    """Parse ``text`` as a semantic version, raising ``ValueError`` with the reason."""
    if not isinstance(text, str):
        raise ValueError("version must be a string")
    if len(text) > _MAX_LENGTH:
        raise ValueError(f"version is longer than {_MAX_LENGTH} characters")
    match = _SEMVER.fullmatch(text)  # fullmatch: "$" would accept a final newline
    if not match:
        raise ValueError(
            f"{text!r} is not a semantic version (MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD])"
        )
    for part in ("major", "minor", "patch"):
        if len(match.group(part)) > _MAX_NUMBER_DIGITS:
            raise ValueError(f"{part} version number is too large")
    prerelease = tuple(match.group("pre").split(".")) if match.group("pre") else ()
    if any(ident.isdigit() and len(ident) > 99 for ident in prerelease):
        raise ValueError("numeric prerelease identifier is too large")
    return SemVer(
        major=int(match.group("major")),
        minor=int(match.group("minor")),
        patch=int(match.group("patch")),
        prerelease=prerelease,
        build=match.group("build") or "",
    )
