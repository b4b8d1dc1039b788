"""checkov (Kubernetes policies and secret detection) on ``k8s/``: no failed check, and every
skipped one skipped by a ``checkov.io/skip<N>`` annotation on the manifest, saying why.

checkov lives in a venv of its own (``.tools/checkov``, made by ``scripts/test``): its pinned
dependencies clash with the test venv's.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from deploy_support import K8S, ROOT, find_tool, load_manifests

# Justified in the manifests' annotations; keep this list short.
ALLOWED_SKIPS = {"CKV_K8S_40", "CKV_K8S_43"}


def _checkov(directory: Path, cwd: Path) -> list[dict[str, Any]]:
    checkov = find_tool("checkov", ROOT / ".tools" / "checkov" / "bin" / "checkov")
    result = subprocess.run(
        [
            checkov,
            "--directory",
            str(directory),
            "--framework",
            "kubernetes",
            "secrets",
            "--output",
            "json",
            "--skip-download",  # offline: no policy metadata from the vendor's platform
        ],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.stdout.strip(), (
        f"checkov printed nothing (exit {result.returncode}):\n{result.stderr}"
    )
    reports = json.loads(result.stdout)
    return reports if isinstance(reports, list) else [reports]


def _report(reports: list[dict[str, Any]], check_type: str) -> dict[str, Any] | None:
    return next((r for r in reports if r.get("check_type") == check_type), None)


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    return _checkov(K8S, tmp_path_factory.mktemp("checkov"))


def test_no_check_fails(reports: list[dict[str, Any]]) -> None:
    failed = [
        f"{c['check_id']} {c['resource']} ({c['file_path']}): {c['check_name']}"
        for report in reports
        for c in report["results"]["failed_checks"]
    ]
    assert failed == [], "checkov:\n" + "\n".join(failed)
    kubernetes = _report(reports, "kubernetes")
    assert kubernetes is not None
    assert kubernetes["summary"]["parsing_errors"] == 0
    assert kubernetes["summary"]["passed"] > 200  # every workload was really checked


def test_every_skip_is_an_annotation_with_a_reason(reports: list[dict[str, Any]]) -> None:
    annotations: dict[str, set[str]] = {}
    for manifest in load_manifests():
        for key, value in manifest.doc["metadata"].get("annotations", {}).items():
            if key.startswith("checkov.io/skip"):
                check_id, _, reason = value.partition("=")
                assert len(reason) > 30, f"{manifest}: skip {check_id} without a real reason"
                annotations.setdefault(manifest.name, set()).add(check_id)
    skipped = [c for report in reports for c in report["results"]["skipped_checks"]]
    assert {c["check_id"] for c in skipped} <= ALLOWED_SKIPS
    for check in skipped:
        name = check["resource"].rsplit(".", 1)[-1]
        assert check["check_id"] in annotations.get(name, set()), check["resource"]
        assert check["check_result"].get("suppress_comment"), check["resource"]


def test_checkov_fails_a_weakened_manifest_and_a_real_looking_secret(tmp_path: Path) -> None:
    """The checks above are live: the same run flags a writable root filesystem and a password
    that is not a placeholder."""
    copy = tmp_path / "k8s"
    shutil.copytree(K8S, copy)
    deployment = copy / "spoke-deployment.yaml"
    deployment.write_text(
        deployment.read_text().replace(
            "readOnlyRootFilesystem: true", "readOnlyRootFilesystem: false"
        )
    )
    config = copy / "spoke-config.yaml"
    config.write_text(
        config.read_text().replace(
            "spoke:CHANGEME@postgres-primary.example.com", "spoke:Zq7t9LmW2x@db-primary.internal"
        )
    )
    reports = _checkov(copy, tmp_path)
    failed = {c["check_id"] for r in reports for c in r["results"]["failed_checks"]}
    assert "CKV_K8S_22" in failed
    assert any(check_id.startswith("CKV_SECRET_") for check_id in failed), failed
