"""Fixtures of the code generation API tests: an application whose languages include test
languages that crash, hang or are missing, and a registry holding two modules."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from spoke.api.app import Application, create_app
from spoke.codegen import LanguageRegistry
from spoke.codegen.process import default_search_path
from spoke.plugins import create_plugin_registry
from spoke.settings import load_settings
from spoke.testing.languages import LanguagesPlugin, plugin_language, write_executable
from worker_pool import shared_work

from ..conftest import (
    API,
    SpokeClient,
    memory_backends,
    proto,
    push_ok,
)

COMMON = {
    "common/v1/money.proto": proto(
        "common.v1",
        'import "google/protobuf/timestamp.proto";\n'
        "message Money {\n  string currency = 1;\n  int64 units = 2;\n"
        "  google.protobuf.Timestamp at = 3;\n}\n",
    )
}
PAYMENTS = {
    "payments/v1/payment.proto": proto(
        "payments.v1",
        'import "common/v1/money.proto";\n'
        "message Payment {\n  string id = 1;\n  common.v1.Money amount = 2;\n}\n"
        "service Payments {\n  rpc Get(Payment) returns (Payment);\n}\n",
    )
}


def _script(directory: Path, name: str, body: str) -> None:
    write_executable(directory / name, "#!/bin/sh\n" + body)


@pytest.fixture
def tools(tmp_path: Path) -> Path:
    """Generator executables of the test languages: one crashes, one hangs."""
    directory = tmp_path / "bin"
    directory.mkdir()
    version = 'if [ "$1" = "--version" ]; then echo "$0 1.0.0"; exit 0; fi\n'
    _script(directory, "protoc-gen-crash", version + 'echo "crash: out of cheese" >&2\nexit 3\n')
    _script(directory, "protoc-gen-sleepy", version + "sleep 60\n")
    return directory


def _languages(tools: Path) -> LanguageRegistry:
    plugins = create_plugin_registry()
    plugins.register(
        LanguagesPlugin(
            plugin_language("crash", "protoc-gen-crash"),
            plugin_language("sleepy", "protoc-gen-sleepy"),
            plugin_language("missing", "protoc-gen-not-installed-anywhere"),
        ),
        name="test-languages",
    )
    return LanguageRegistry.load(plugins, search_path=f"{tools}:{default_search_path()}")


def _app(tools: Path, backends: Any = None, **environ: str) -> Application:
    settings = load_settings({"SPOKE_COMPILE_TIMEOUT": "3s", **environ})
    return create_app(
        settings,
        backends=backends or memory_backends(),
        languages=_languages(tools),
        work=shared_work(),
    )


@pytest.fixture
def codegen_app(tools: Path) -> Iterator[Application]:
    application = _app(tools)
    yield application
    application.close()


@pytest.fixture
def cg(codegen_app: Application) -> SpokeClient:
    client = SpokeClient(codegen_app.api)
    push_ok(client, "common", "1.0.0", COMMON)
    push_ok(client, "payments", "1.0.0", PAYMENTS, deps=["common@1.0.0"])
    return client


def _download(
    client: SpokeClient, query: str = "", *, version: str = "1.0.0", lang: str = "python"
) -> Any:
    path = f"{API}/modules/payments/versions/{version}/download/{lang}"
    return client.simulate_get(path, query_string=query)


def _names(data: bytes) -> list[str]:
    return zipfile.ZipFile(io.BytesIO(data)).namelist()
