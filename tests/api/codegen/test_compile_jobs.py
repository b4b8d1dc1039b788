"""Compile jobs over HTTP: a bounded worker pool, results pointing at the stored archives,
refusals, and jobs that fail or wait."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path
from typing import Any

import pytest

from ..conftest import (
    API,
    SpokeClient,
    assert_error,
    push_ok,
)
from .conftest import COMMON, _app

# Compile jobs ------------------------------------------------------------------------------


def _wait(client: SpokeClient, location: str) -> dict[str, Any]:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        job = client.simulate_get(location).json
        if job["status"] in ("completed", "failed"):
            return job  # type: ignore[no-any-return]
        time.sleep(0.05)
    raise AssertionError("the job did not finish")


def test_compile_job_runs_and_points_at_downloads(cg: SpokeClient) -> None:
    path = f"{API}/modules/payments/versions/latest/compile"
    started = cg.simulate_post(path, json={"languages": ["python", "pyi", "python"]})
    assert started.status_code == 202, started.text
    job = started.json
    assert job["version"] == "1.0.0" and job["status"] in ("pending", "running", "completed")
    assert [r["language"] for r in job["results"]] == ["python", "pyi"]
    location = started.headers["location"]
    assert location.endswith(job["job_id"])
    done = _wait(cg, f"{API}/modules/payments/versions/1.0.0/compile/{job['job_id']}")
    assert done["status"] == "completed"
    for result in done["results"]:
        assert result["status"] == "completed" and result["duration_ms"] >= 0
        fetched = cg.simulate_get(result["download_url"])
        assert fetched.status_code == 200
        assert hashlib.sha256(fetched.content).hexdigest() == result["sha256"]
        assert fetched.headers["x-spoke-cache"] == "hit"


def test_compile_job_with_a_failing_language(cg: SpokeClient) -> None:
    started = cg.simulate_post(
        f"{API}/modules/payments/versions/1.0.0/compile",
        json={"languages": ["python", "crash"], "include_grpc": False},
    )
    done = _wait(cg, started.headers["location"])
    assert done["status"] == "failed"
    by_language = {r["language"]: r for r in done["results"]}
    assert by_language["python"]["status"] == "completed"
    assert by_language["crash"]["status"] == "failed"
    assert by_language["crash"]["error"]["code"] == "compilation_failed"


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({}, 400, "invalid_request"),
        ({"languages": "python"}, 400, "invalid_request"),
        ({"languages": []}, 400, "invalid_request"),
        ({"languages": [1]}, 400, "invalid_request"),
        ({"languages": ["python"], "include_grpc": "yes"}, 400, "invalid_request"),
        ({"languages": ["python"], "extra": 1}, 400, "invalid_request"),
        ({"languages": ["cobol"]}, 404, "language_not_found"),
        ({"languages": ["missing"]}, 422, "language_disabled"),
        ({"languages": ["pyi"], "include_grpc": True}, 422, "invalid_options"),
        ({"languages": ["python"] * 40 + [f"l{i}" for i in range(40)]}, 400, "invalid_request"),
        ({"languages": ["python"] * 33}, 400, "invalid_request"),  # counted as sent
    ],
)
def test_compile_refusals(cg: SpokeClient, body: dict[str, Any], status: int, code: str) -> None:
    result = cg.simulate_post(f"{API}/modules/payments/versions/1.0.0/compile", json=body)
    assert_error(result, status, code)


def test_a_language_named_twice_is_generated_once(cg: SpokeClient) -> None:
    base = f"{API}/modules/payments/versions/1.0.0/compile"
    started = cg.simulate_post(base, json={"languages": ["python"] * 32})

    assert started.status_code == 202, started.text
    assert [r["language"] for r in started.json["results"]] == ["python"]


def test_unknown_and_foreign_jobs(cg: SpokeClient) -> None:
    base = f"{API}/modules/payments/versions/1.0.0/compile"
    assert_error(cg.simulate_get(f"{base}/{'0' * 32}"), 404, "job_not_found")
    assert_error(cg.simulate_get(f"{base}/not-a-job"), 404, "job_not_found")
    started = cg.simulate_post(base, json={"languages": ["python"]})
    job_id = started.json["job_id"]
    other = f"{API}/modules/common/versions/1.0.0/compile/{job_id}"
    assert_error(cg.simulate_get(other), 404, "job_not_found")
    _wait(cg, f"{base}/{job_id}")


def test_a_full_queue_is_refused_with_503(tools: Path) -> None:
    application = _app(
        tools, SPOKE_COMPILE_WORKERS="1", SPOKE_COMPILE_QUEUE="1", SPOKE_COMPILE_TIMEOUT="2s"
    )
    client = SpokeClient(application.api)
    push_ok(client, "common", "1.0.0", COMMON)
    base = f"{API}/modules/common/versions/1.0.0/compile"
    try:
        first = client.simulate_post(base, json={"languages": ["sleepy"]})
        assert first.status_code == 202
        deadline = time.monotonic() + 30
        while client.simulate_get(first.headers["location"]).json["status"] == "pending":
            assert time.monotonic() < deadline
            time.sleep(0.02)
        second = client.simulate_post(base, json={"languages": ["sleepy"]})
        assert second.status_code == 202  # waits for the one worker
        third = client.simulate_post(base, json={"languages": ["python"]})
        assert_error(third, 503, "compile_queue_full")
        _wait(client, second.headers["location"])
    finally:
        application.close()
