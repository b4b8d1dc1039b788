"""The pods behave as the guide promises: probes and ports that are the server's own, a drain that
fits in the grace period, zero-downtime rollouts, non-root read-only containers with resources,
and the objects around the Deployment (Services, Ingress, HPA, PDB, NetworkPolicy) pointing at it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from deploy_support import (
    WRITABLE_PATHS,
    all_containers,
    config_map,
    load_manifests,
    one,
    workloads,
)
from falcon import testing

from spoke.api.app import create_app
from spoke.settings import SETTINGS, load_settings, parse_duration, parse_size
from worker_pool import shared_work

MANIFESTS = load_manifests()
DEPLOYMENT = one(MANIFESTS, "Deployment", "spoke-server")
POD = DEPLOYMENT["spec"]["template"]["spec"]
(SERVER,) = [c for c in POD["containers"] if c["name"] == "spoke"]
DEFAULTS = {spec.env: spec.default for spec in SETTINGS}


@pytest.fixture(scope="module")
def health_client() -> Iterator[testing.TestClient]:
    """The real health listener's app (memory backends), as the kubelet and Prometheus see it."""
    application = create_app(load_settings({"SPOKE_STORAGE_TYPE": "memory"}), work=shared_work())
    try:
        yield testing.TestClient(application.health)
    finally:
        application.close()


def _port_number(port: int | str) -> int:
    if isinstance(port, int):
        return port
    (number,) = [p["containerPort"] for p in SERVER["ports"] if p["name"] == port]
    return int(number)


def test_container_ports_are_the_settings_ports() -> None:
    ports = {p["name"]: p["containerPort"] for p in SERVER["ports"]}
    data = config_map(MANIFESTS)
    assert ports == {"http": 8080, "health": 9090}
    assert ports["http"] == int(data["SPOKE_PORT"]) == int(str(DEFAULTS["SPOKE_PORT"]))
    assert (
        ports["health"] == int(data["SPOKE_HEALTH_PORT"]) == int(str(DEFAULTS["SPOKE_HEALTH_PORT"]))
    )


@pytest.mark.parametrize(
    ("probe", "path"),
    [
        ("livenessProbe", "/health/live"),
        ("startupProbe", "/health/live"),
        ("readinessProbe", "/health/ready"),
    ],
)
def test_probes_ask_the_health_listener_and_it_answers(
    probe: str, path: str, health_client: testing.TestClient
) -> None:
    http_get = SERVER[probe]["httpGet"]
    assert http_get["path"] == path
    assert http_get["port"] == "health"
    assert _port_number(http_get["port"]) == int(config_map(MANIFESTS)["SPOKE_HEALTH_PORT"])
    assert health_client.simulate_get(path).status_code == 200


def test_metrics_are_served_where_the_service_monitor_scrapes(
    health_client: testing.TestClient,
) -> None:
    monitor = one(MANIFESTS, "ServiceMonitor", "spoke")
    (endpoint,) = monitor["spec"]["endpoints"]
    result = health_client.simulate_get(endpoint["path"])
    assert result.status_code == 200
    assert "spoke_http_requests_total" in result.text
    assert config_map(MANIFESTS)["SPOKE_METRICS_ENABLED"] == "true"


def test_the_grace_period_covers_the_pre_stop_sleep_and_the_drain() -> None:
    command = SERVER["lifecycle"]["preStop"]["exec"]["command"]
    assert command[0] == "sleep"
    pre_stop = float(command[1])
    assert pre_stop == 15
    drain = parse_duration(config_map(MANIFESTS)["SPOKE_SHUTDOWN_TIMEOUT"])
    assert POD["terminationGracePeriodSeconds"] > pre_stop + drain


def test_rollouts_never_lose_a_ready_pod() -> None:
    spec = DEPLOYMENT["spec"]
    assert spec["replicas"] == 3
    assert spec["strategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0},
    }
    preferred = POD["affinity"]["podAntiAffinity"][
        "preferredDuringSchedulingIgnoredDuringExecution"
    ]
    keys = {term["podAffinityTerm"]["topologyKey"] for term in preferred}
    assert "kubernetes.io/hostname" in keys
    for term in preferred:
        selector = term["podAffinityTerm"]["labelSelector"]["matchLabels"]
        assert selector.items() <= DEPLOYMENT["spec"]["template"]["metadata"]["labels"].items()


def test_the_server_has_the_issues_resources() -> None:
    assert SERVER["resources"] == {
        "requests": {"cpu": "500m", "memory": "512Mi"},
        "limits": {"cpu": "2000m", "memory": "2Gi"},
    }


@pytest.mark.parametrize(
    ("label", "container", "spec"), list(all_containers(MANIFESTS)), ids=lambda v: str(v)[:80]
)
def test_every_container_is_locked_down_and_has_resources(
    label: str, container: dict[str, Any], spec: dict[str, Any]
) -> None:
    context = container["securityContext"]
    assert context["runAsNonRoot"] is True, label
    assert context["runAsUser"] == 1000, label
    assert context["readOnlyRootFilesystem"] is True, label
    assert context["allowPrivilegeEscalation"] is False, label
    assert context["capabilities"] == {"drop": ["ALL"]}, label
    assert context["seccompProfile"] == {"type": "RuntimeDefault"}, label
    assert context.get("privileged", False) is False, label
    for kind in ("requests", "limits"):
        assert {"cpu", "memory"} <= set(container["resources"][kind]), f"{label}: {kind}"
    pod_context = spec["securityContext"]
    assert pod_context["runAsNonRoot"] is True and pod_context["runAsUser"] == 1000
    assert pod_context["seccompProfile"] == {"type": "RuntimeDefault"}
    assert spec["automountServiceAccountToken"] is False


@pytest.mark.parametrize(
    ("label", "container", "spec"), list(all_containers(MANIFESTS)), ids=lambda v: str(v)[:80]
)
def test_containers_write_only_to_empty_dirs_at_the_images_writable_paths(
    label: str, container: dict[str, Any], spec: dict[str, Any]
) -> None:
    volumes = {volume["name"]: volume for volume in spec["volumes"]}
    for mount in container.get("volumeMounts", []):
        volume = volumes[mount["name"]]
        if "emptyDir" in volume:
            assert mount["mountPath"] in WRITABLE_PATHS, label
            assert "sizeLimit" in volume["emptyDir"], f"{label}: unbounded emptyDir"
        else:
            assert mount.get("readOnly") is True, f"{label}: {mount['mountPath']} is writable"
    mounted = {m["mountPath"] for m in container.get("volumeMounts", [])}
    assert "/tmp" in mounted, f"{label}: Python and the backends need a writable /tmp"


def test_the_server_mounts_both_writable_paths() -> None:
    assert {m["mountPath"] for m in SERVER["volumeMounts"]} >= set(WRITABLE_PATHS)


def test_every_workload_runs_one_image_as_the_spoke_service_account() -> None:
    images = {c["image"] for _, c, _ in all_containers(MANIFESTS)}
    assert len(images) == 1, images
    (image,) = images
    assert not image.endswith(":latest") and ":" in image
    service_account = one(MANIFESTS, "ServiceAccount", "spoke")
    assert service_account["automountServiceAccountToken"] is False
    for manifest, spec in workloads(MANIFESTS):
        assert spec["serviceAccountName"] == "spoke", str(manifest)


def test_services_select_the_server_pods_and_name_its_ports() -> None:
    labels = DEPLOYMENT["spec"]["template"]["metadata"]["labels"]
    port_names = {p["name"] for p in SERVER["ports"]}
    for name in ("spoke", "spoke-headless"):
        service = one(MANIFESTS, "Service", name)
        assert service["spec"]["selector"].items() <= labels.items()
        assert {p["targetPort"] for p in service["spec"]["ports"]} <= port_names
    assert one(MANIFESTS, "Service", "spoke-headless")["spec"]["clusterIP"] == "None"


def test_the_ingress_routes_the_api_with_tls_and_rate_limits() -> None:
    ingress = one(MANIFESTS, "Ingress", "spoke")
    annotations = ingress["metadata"]["annotations"]
    assert ingress["spec"]["ingressClassName"] == "nginx"
    assert "cert-manager.io/cluster-issuer" in annotations
    assert "nginx.ingress.kubernetes.io/limit-rps" in annotations
    assert ingress["spec"]["tls"][0]["hosts"] == ["spoke.example.com"]
    (rule,) = ingress["spec"]["rules"]
    assert rule["host"] == "spoke.example.com"
    backend = rule["http"]["paths"][0]["backend"]["service"]
    assert backend["name"] == "spoke"
    service_ports = {p["name"] for p in one(MANIFESTS, "Service", "spoke")["spec"]["ports"]}
    assert backend["port"]["name"] in service_ports
    # NGINX must let through every body Spoke accepts (its default is 1m).
    body = parse_size(annotations["nginx.ingress.kubernetes.io/proxy-body-size"].upper() + "iB")
    assert body > parse_size(config_map(MANIFESTS)["SPOKE_MAX_BODY_BYTES"])


def test_the_autoscaler_and_the_disruption_budget_target_the_deployment() -> None:
    hpa = one(MANIFESTS, "HorizontalPodAutoscaler", "spoke-server")
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": "spoke-server",
    }
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (3, 10)
    targets = {
        m["resource"]["name"]: m["resource"]["target"]["averageUtilization"]
        for m in hpa["spec"]["metrics"]
    }
    assert targets == {"cpu": 70, "memory": 80}
    pdb = one(MANIFESTS, "PodDisruptionBudget", "spoke-server")
    assert pdb["spec"]["minAvailable"] == 2
    labels = DEPLOYMENT["spec"]["template"]["metadata"]["labels"]
    assert pdb["spec"]["selector"]["matchLabels"].items() <= labels.items()


def test_the_network_policy_lets_through_what_a_real_install_needs() -> None:
    policy = one(MANIFESTS, "NetworkPolicy", "spoke")["spec"]
    assert set(policy["policyTypes"]) == {"Ingress", "Egress"}
    for manifest, _ in workloads(MANIFESTS):  # the Jobs too: they need DNS, the database, S3
        labels = _template_labels(manifest.doc)
        assert policy["podSelector"]["matchLabels"].items() <= labels.items(), str(manifest)
    ingress_ports = {p["port"] for rule in policy["ingress"] for p in rule["ports"]}
    assert ingress_ports == {8080, 9090}
    egress = {(p["protocol"], p["port"]) for rule in policy["egress"] for p in rule["ports"]}
    assert {
        ("UDP", 53),
        ("TCP", 53),
        ("TCP", 5432),
        ("TCP", 6379),
        ("TCP", 26379),
        ("TCP", 443),
        ("TCP", 4317),
    } <= egress
    collector = config_map(MANIFESTS)["SPOKE_OTEL_ENDPOINT"]
    assert collector.endswith(":4317") and ".observability." in collector


def _template_labels(doc: dict[str, Any]) -> dict[str, str]:
    if doc["kind"] == "CronJob":
        return dict(doc["spec"]["jobTemplate"]["spec"]["template"]["metadata"]["labels"])
    return dict(doc["spec"]["template"]["metadata"]["labels"])
