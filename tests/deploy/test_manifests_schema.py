"""Every manifest is a valid Kubernetes object for 1.25 and for the newest release the
``kubernetes-validate`` package knows, with unknown fields refused (strict schemas, offline)."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from deploy_support import NAMESPACE, Manifest, load_manifests, manifest_files, one

MANIFESTS = load_manifests()
# Objects of CRDs have no schema in kubernetes-validate; their shape is checked below.
CUSTOM_KINDS = {("monitoring.coreos.com/v1", "ServiceMonitor")}
EXPECTED_FILES = {
    "spoke-namespace.yaml",
    "spoke-config.yaml",
    "spoke-deployment.yaml",
    "spoke-hpa.yaml",
    "spoke-ingress.yaml",
    "spoke-migrate-job.yaml",
    "spoke-restore-job.yaml",
    "spoke-backup-cronjob.yaml",
    "spoke-networkpolicy.yaml",
    "spoke-pdb.yaml",
    "spoke-servicemonitor.yaml",
}


def _kubernetes_validate() -> Any:
    try:
        import kubernetes_validate
    except ImportError:
        from deploy_support import tool_missing

        tool_missing("kubernetes-validate is not installed")
    return kubernetes_validate


def _versions() -> list[str]:
    try:
        import kubernetes_validate.utils as utils
    except ImportError:
        return ["1.25.0"]
    return ["1.25.0", utils.latest_version()]


def test_every_manifest_the_guide_names_exists_and_nothing_else() -> None:
    assert {path.name for path in manifest_files()} == EXPECTED_FILES


BUILT_IN = [m for m in MANIFESTS if (m.doc["apiVersion"], m.kind) not in CUSTOM_KINDS]


@pytest.mark.parametrize("version", _versions())
@pytest.mark.parametrize("manifest", BUILT_IN, ids=str)
def test_manifest_validates_strictly_against_the_kubernetes_schema(
    manifest: Manifest, version: str
) -> None:
    kubernetes_validate = _kubernetes_validate()
    try:
        kubernetes_validate.validate(manifest.doc, version, strict=True)
    except kubernetes_validate.ValidationError as exc:
        where = ".".join(str(part) for part in exc.path)
        pytest.fail(f"{manifest} is not valid for Kubernetes {version}: {where}: {exc.message}")


def test_the_strict_schema_refuses_a_misspelt_field() -> None:
    """The check above is not vacuous: a typo a real apply would ignore (or reject) is caught."""
    kubernetes_validate = _kubernetes_validate()
    deployment = copy.deepcopy(one(MANIFESTS, "Deployment", "spoke-server"))
    deployment["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["httpGett"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, "1.25.0", strict=True)


def test_every_object_is_in_the_spoke_namespace() -> None:
    for manifest in MANIFESTS:
        if manifest.kind == "Namespace":
            assert manifest.name == NAMESPACE
        else:
            assert manifest.doc["metadata"].get("namespace") == NAMESPACE, str(manifest)
    namespace = one(MANIFESTS, "Namespace", NAMESPACE)
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"


def test_the_service_monitor_scrapes_metrics_on_the_health_port_of_the_headless_service() -> None:
    monitor = one(MANIFESTS, "ServiceMonitor", "spoke")
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert monitor["spec"]["namespaceSelector"] == {"matchNames": [NAMESPACE]}
    wanted = monitor["spec"]["selector"]["matchLabels"]
    services = [
        m.doc
        for m in MANIFESTS
        if m.kind == "Service" and wanted.items() <= m.doc["metadata"]["labels"].items()
    ]
    assert [s["metadata"]["name"] for s in services] == ["spoke-headless"]
    port_names = {port["name"] for port in services[0]["spec"]["ports"]}
    (endpoint,) = monitor["spec"]["endpoints"]
    assert endpoint["port"] in port_names
    assert endpoint["port"] == "health"
    assert endpoint["path"] == "/metrics"
