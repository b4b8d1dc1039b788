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

from spoke.codegen.archive import build_zip, readme_text
from spoke.codegen.languages import Generator, Invocation, Language, LanguageStatus, Output
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
