"""Code generation: the languages plugins provide, their generators, and deterministic archives.

- :class:`Language` (with :class:`Generator` and :class:`Output`) describes how to generate a
  language; plugins return them from the ``spoke_languages`` hook (the built-in ones are the
  plugin ``languages``, :mod:`spoke.codegen.builtin`).
- :class:`LanguageRegistry` collects them and detects each generator once:
  :class:`LanguageStatus` says whether it is installed, which version, or why not.
- :func:`generate` runs a generator as a child process with a timeout; :func:`build_zip` packs
  its files into a zip that is byte-identical for the same input in any process.

See ``docs/codegen.md``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from spoke.codegen.languages import Generator, Invocation, Language, LanguageStatus, Output

if TYPE_CHECKING:
    from spoke.codegen.archive import build_zip, readme_text
    from spoke.codegen.registry import LanguageRegistry
    from spoke.codegen.runner import GeneratedCode, GenerationFailed, generate

__all__ = [
    "GeneratedCode",
    "GenerationFailed",
    "Generator",
    "Invocation",
    "Language",
    "LanguageRegistry",
    "LanguageStatus",
    "Output",
    "build_zip",
    "generate",
    "readme_text",
]


def __getattr__(name: str) -> object:
    """The rest of the API, imported on first use: every command loads the built-in languages
    plugin (only descriptors), and only a server generating code needs subprocess, zipfile and
    the detection machinery."""
    module = {
        "build_zip": "spoke.codegen.archive",
        "readme_text": "spoke.codegen.archive",
        "LanguageRegistry": "spoke.codegen.registry",
        "GeneratedCode": "spoke.codegen.runner",
        "GenerationFailed": "spoke.codegen.runner",
        "generate": "spoke.codegen.runner",
    }.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
