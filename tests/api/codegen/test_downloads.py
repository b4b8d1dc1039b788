"""Code generation over HTTP: languages, downloads (stored, deterministic, importable), refusals,
generator failures and single-flight."""

from __future__ import annotations

import base64
import hashlib
import io
import subprocess
import sys
import threading
import time
import zipfile
from pathlib import Path

import pytest

from spoke.api.app import Application

from ..conftest import (
    API,
    IMMUTABLE,
    SpokeClient,
    assert_error,
    filesystem_backends,
    memory_backends,
    message,
    metric_value,
    proto,
    push_ok,
)
from .conftest import COMMON, PAYMENTS, _app, _download, _names

# Languages ---------------------------------------------------------------------------------


def test_languages_lists_every_language_with_its_state(cg: SpokeClient) -> None:
    listed = cg.simulate_get(f"{API}/languages").json
    ids = [item["id"] for item in listed]
    assert ids == sorted(ids)
    by_id = {item["id"]: item for item in listed}
    assert {"python", "pyi", "grpc-python", "java", "go", "typescript", "crash"} <= set(by_id)
    python = by_id["python"]
    assert python["enabled"] is True and python["reason"] is None
    assert python["generator_version"] and python["file_extensions"] == [".py"]
    missing = by_id["missing"]
    assert missing["enabled"] is False and "protoc-gen-not-installed-anywhere" in missing["reason"]
    for item in listed:
        assert set(item) >= {
            "id",
            "name",
            "file_extensions",
            "supports_grpc",
            "enabled",
            "generator",
            "generator_version",
        }


def test_one_language_and_unknown_language(cg: SpokeClient) -> None:
    assert cg.simulate_get(f"{API}/languages/python").json["id"] == "python"
    result = cg.simulate_get(f"{API}/languages/cobol")
    assert_error(result, 404, "language_not_found")


# Downloads ---------------------------------------------------------------------------------


def test_python_download_is_a_stored_deterministic_zip(cg: SpokeClient) -> None:
    first = _download(cg)
    assert first.status_code == 200, first.text
    assert first.headers["content-type"] == "application/zip"
    assert 'filename="payments-1.0.0-python.zip"' in first.headers["content-disposition"]
    digest = hashlib.sha256(first.content).hexdigest()
    assert first.headers["etag"] == f'"{digest}"'
    assert first.headers["digest"] == "sha-256=" + base64.b64encode(bytes.fromhex(digest)).decode()
    assert first.headers["cache-control"] == IMMUTABLE
    assert first.headers["x-spoke-cache"] == "miss"
    names = _names(first.content)
    assert "payments/v1/payment_pb2.py" in names
    assert not any(n.startswith("common/") for n in names)  # dependencies not included
    assert not any(n.endswith("__init__.py") for n in names)  # namespace packages
    readme = (
        zipfile.ZipFile(io.BytesIO(first.content))
        .read(next(n for n in names if n.startswith("README")))
        .decode()
    )
    assert "payments" in readme and "1.0.0" in readme and "sha256:" in readme
    second = _download(cg)
    assert second.headers["x-spoke-cache"] == "hit"
    assert second.content == first.content
    again = cg.simulate_get(
        f"{API}/modules/payments/versions/1.0.0/download/python",
        headers={"If-None-Match": first.headers["etag"]},
    )
    assert again.status_code == 304 and not again.content


def test_include_dependencies_and_grpc(cg: SpokeClient) -> None:
    with_deps = _download(cg, "include_dependencies=true")
    names = _names(with_deps.content)
    assert "common/v1/money_pb2.py" in names and "payments/v1/payment_pb2.py" in names
    grpc = _download(cg, "grpc=true", lang="python")
    assert "payments/v1/payment_pb2_grpc.py" in _names(grpc.content)
    assert 'filename="payments-1.0.0-python-grpc.zip"' in grpc.headers["content-disposition"]


def test_downloaded_python_imports_in_a_fresh_interpreter(cg: SpokeClient, tmp_path: Path) -> None:
    for module, query in (("payments", ""), ("common", "")):
        data = cg.simulate_get(
            f"{API}/modules/{module}/versions/1.0.0/download/python", query_string=query
        ).content
        zipfile.ZipFile(io.BytesIO(data)).extractall(tmp_path / "gen")
    script = (
        "from payments.v1 import payment_pb2\n"
        "from common.v1 import money_pb2\n"
        "p = payment_pb2.Payment(id='p1', amount=money_pb2.Money(currency='EUR', units=7))\n"
        "p.amount.at.FromSeconds(1700000000)\n"
        "q = payment_pb2.Payment.FromString(p.SerializeToString())\n"
        "assert q.amount.units == 7 and q.amount.at.seconds == 1700000000, q\n"
        "print('ok', q.amount.currency)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=tmp_path,
        env={"PYTHONPATH": str(tmp_path / "gen"), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok EUR"


def test_latest_is_not_immutable(cg: SpokeClient) -> None:
    latest = _download(cg, version="latest")
    assert latest.status_code == 200
    assert latest.headers["cache-control"] == "no-cache"
    assert latest.content == _download(cg).content


def test_same_bytes_after_a_restart_and_on_another_replica(tools: Path, tmp_path: Path) -> None:
    first_app = _app(tools, backends=filesystem_backends(tmp_path / "data"))
    client = SpokeClient(first_app.api)
    push_ok(client, "common", "1.0.0", COMMON)
    push_ok(client, "payments", "1.0.0", PAYMENTS, deps=["common@1.0.0"])
    original = _download(client).content
    first_app.close()
    restarted = _app(tools, backends=filesystem_backends(tmp_path / "data"))
    again = _download(SpokeClient(restarted.api))
    assert again.headers["x-spoke-cache"] == "hit"  # found in the artifact index
    assert again.content == original
    restarted.close()
    # Another replica with its own empty storage generates it anew: byte-identical.
    other = _app(tools)
    other_client = SpokeClient(other.api)
    push_ok(other_client, "common", "1.0.0", COMMON)
    push_ok(other_client, "payments", "1.0.0", PAYMENTS, deps=["common@1.0.0"])
    fresh = _download(other_client)
    assert fresh.headers["x-spoke-cache"] == "miss"
    assert fresh.content == original
    other.close()


def test_a_missing_blob_is_generated_again(
    cg: SpokeClient, codegen_app: Application, tools: Path
) -> None:
    first = _download(cg)
    digest = hashlib.sha256(first.content).hexdigest()
    codegen_app.backends.blobs._blobs.pop(digest)  # type: ignore[attr-defined]  # lost
    # A replica on the same backends: its index names the lost blob.
    replica = _app(tools, backends=codegen_app.backends)
    try:
        again = _download(SpokeClient(replica.api))
        assert again.status_code == 200
        assert again.content == first.content
        assert again.headers["x-spoke-cache"] == "miss"
        assert codegen_app.backends.blobs.exists(digest=digest)
    finally:
        replica.jobs.close()


def test_two_versions_with_one_schema_get_their_own_archives(cg: SpokeClient) -> None:
    push_ok(cg, "payments", "1.0.1", PAYMENTS, deps=["common@1.0.0"])
    first = _download(cg)
    second = _download(cg, version="1.0.1")
    assert second.headers["x-spoke-cache"] == "miss"
    readme = zipfile.ZipFile(io.BytesIO(second.content)).read("README.md").decode()
    assert "- version: 1.0.1" in readme
    assert first.content != second.content


# Refusals ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "status", "code"),
    [
        ("/modules/nope/versions/1.0.0/download/python", 404, "module_not_found"),
        ("/modules/payments/versions/9.9.9/download/python", 404, "version_not_found"),
        ("/modules/payments/versions/not-a-version/download/python", 422, "invalid_version"),
        ("/modules/payments/versions/1.0.0/download/cobol", 404, "language_not_found"),
        ("/modules/payments/versions/1.0.0/download/missing", 422, "language_disabled"),
    ],
)
def test_download_refusals(cg: SpokeClient, path: str, status: int, code: str) -> None:
    assert_error(cg.simulate_get(API + path), status, code)


def test_disabled_language_says_why(cg: SpokeClient) -> None:
    result = _download(cg, lang="missing")
    assert "protoc-gen-not-installed-anywhere" in result.json["error"]
    assert result.json["details"]["language"] == "missing"


@pytest.mark.parametrize(
    "query",
    [
        "option=paths=source_relative",  # python takes no options
        "option=;rm%20-rf%20/",
        "option=$(touch%20spoke-pwned)",
        "grpc=true&lang=pyi",
    ],
)
def test_options_outside_the_allow_list(cg: SpokeClient, query: str) -> None:
    lang = "pyi" if "lang=pyi" in query else "python"
    result = _download(cg, query.replace("&lang=pyi", ""), lang=lang)
    assert_error(result, 422, "invalid_options")
    assert not Path("spoke-pwned").exists()


@pytest.mark.parametrize("query", ["grpc=maybe", "include_dependencies=2", "option="])
def test_bad_query_values(cg: SpokeClient, query: str) -> None:
    assert_error(_download(cg, query), 400, "invalid_request")


# Generator failures --------------------------------------------------------------------------


def test_a_crashing_generator_is_a_500_with_its_stderr(
    cg: SpokeClient, codegen_app: Application
) -> None:
    result = _download(cg, lang="crash")
    assert_error(result, 500, "compilation_failed")
    details = result.json["details"]
    assert details["language"] == "crash" and details["timed_out"] is False
    assert "out of cheese" in details["stderr"]
    assert codegen_app.backends.blobs._blobs  # type: ignore[attr-defined]
    assert _download(cg, lang="crash").status_code == 500  # failures are not stored


def test_a_hung_generator_is_killed_at_the_timeout(cg: SpokeClient) -> None:
    start = time.monotonic()
    result = _download(cg, lang="sleepy")
    assert_error(result, 500, "compilation_failed")
    assert result.json["details"]["timed_out"] is True
    assert time.monotonic() - start < 30  # SPOKE_COMPILE_TIMEOUT=3s, not the script's 60 s
    leftover = subprocess.run(
        ["pgrep", "-f", "protoc-gen-sleepy"], capture_output=True, text=True, check=False
    )
    assert leftover.stdout.strip() == ""


# Concurrency -------------------------------------------------------------------------------


def test_concurrent_requests_generate_once(cg: SpokeClient, codegen_app: Application) -> None:
    health = SpokeClient(codegen_app.health)
    before = metric_value(health, 'spoke_compilation_total{language="pyi",status="ok"}')
    results: list[bytes] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(8)

    def fetch() -> None:
        try:
            barrier.wait()
            results.append(_download(cg, lang="pyi").content)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=fetch) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors
    assert len(results) == 8 and len(set(results)) == 1
    after = metric_value(health, 'spoke_compilation_total{language="pyi",status="ok"}')
    assert after - before == 1
    assert metric_value(health, 'spoke_codegen_artifacts_total{result="miss"}') >= 1


def test_without_an_artifact_index_the_cache_remembers_archives(
    tools: Path, tmp_path: Path
) -> None:
    """A storage plugin without StoresArtifacts (the example sqlite one): archives are still
    stored in the blob store and found again through the cache."""
    example = pytest.importorskip("spoke_plugin_example.storage")
    storage = example.SqliteStorage(path=tmp_path / "registry.sqlite3")
    application = _app(tools, backends=memory_backends(storage=storage))
    client = SpokeClient(application.api)
    try:
        push_ok(client, "common", "1.0.0", COMMON)
        first = client.simulate_get(f"{API}/modules/common/versions/1.0.0/download/python")
        assert first.headers["x-spoke-cache"] == "miss"
        # A replica on the same backends finds it through the shared cache.
        replica = _app(tools, backends=application.backends)
        second = SpokeClient(replica.api).simulate_get(
            f"{API}/modules/common/versions/1.0.0/download/python"
        )
        replica.jobs.close()
        assert second.headers["x-spoke-cache"] == "hit"
        assert second.content == first.content
    finally:
        application.close()


@pytest.mark.parametrize(
    "language", ["a" * 5000, "..%2F..%2Fetc", "py thon", "%00", "PYTHON", "python;rm"]
)
def test_hostile_language_ids_are_not_found(cg: SpokeClient, language: str) -> None:
    result = cg.simulate_get(f"{API}/modules/payments/versions/1.0.0/download/{language}")
    assert result.status_code == 404
    assert result.json["code"] in ("language_not_found", "not_found")
    assert len(result.text) < 2000  # the id is not echoed back whole


def test_hostile_job_ids_are_not_found(cg: SpokeClient) -> None:
    base = f"{API}/modules/payments/versions/1.0.0/compile"
    for job_id in ("x" * 10_000, "%2e%2e", "0" * 31 + "g"):
        result = cg.simulate_get(f"{base}/{job_id}")
        assert_error(result, 404, "job_not_found")
        assert len(result.text) < 1000


def test_an_oversized_compile_body_is_refused(tools: Path) -> None:
    application = _app(tools, SPOKE_MAX_BODY_BYTES="1KiB")
    client = SpokeClient(application.api)
    try:
        push_ok(client, "common", "1.0.0", COMMON)
        body = {"languages": ["python"] * 200}
        result = client.simulate_post(f"{API}/modules/common/versions/1.0.0/compile", json=body)
        assert_error(result, 413, "payload_too_large")
    finally:
        application.close()


def test_a_file_named_like_a_flag_is_generated_not_read_as_one(cg: SpokeClient) -> None:
    """protoc read a target "-a.proto" as the flag -a (500 "Unknown flag: -a")."""
    push_ok(cg, "dash", "1.0.0", {"-a.proto": proto("dash.v1", message("A"))})

    result = cg.simulate_get(
        f"{API}/modules/dash/versions/1.0.0/download/python", query_string="grpc=true"
    )

    assert result.status_code == 200, result.text
    assert "_a_pb2.py" in _names(result.content)
