"""Compiling ``.proto`` files (with the protoc bundled in grpc_tools) and fingerprinting them."""

from __future__ import annotations

from spoke.protobuf.compiler import (
    CompilationFailed,
    CompileResult,
    compile_files,
    well_known_paths,
)
from spoke.protobuf.diagnostics import Diagnostic, UnresolvedImport
from spoke.protobuf.fingerprint import fingerprint_descriptor_set

__all__ = [
    "CompilationFailed",
    "CompileResult",
    "Diagnostic",
    "UnresolvedImport",
    "compile_files",
    "fingerprint_descriptor_set",
    "well_known_paths",
]
