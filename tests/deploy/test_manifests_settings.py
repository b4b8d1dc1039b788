"""The manifests speak Spoke's settings: every ``SPOKE_*`` name they use is one the code reads,
the ConfigMap holds every non-secret setting, the Secret example every secret one, secrets reach
the containers only as files, and what each container gets actually loads."""

from __future__ import annotations

import re
import secrets
from pathlib import Path
from typing import Any

import pytest
from deploy_support import (
    all_containers,
    config_map,
    load_manifests,
    manifest_files,
    secret_example,
    workloads,
)

from spoke.settings import FILE_SUFFIX, SETTINGS, Settings, SettingsError, load_settings

MANIFESTS = load_manifests()
SECRET_SETTINGS = {spec.env for spec in SETTINGS if spec.secret}
PLAIN_SETTINGS = {spec.env for spec in SETTINGS if not spec.secret}
KNOWN_NAMES = PLAIN_SETTINGS | SECRET_SETTINGS | {name + FILE_SUFFIX for name in SECRET_SETTINGS}
# What an operator puts in place of the example's admin token (k8s/README.md, step 2). It is the
# one placeholder Spoke can recognise and refuses (see the test below), so the tests that load
# the manifests' environment use a generated one, as a real deployment must.
GENERATED_ADMIN_TOKEN = secrets.token_hex(32)
SPOKE_NAME = re.compile(r"\bSPOKE_[A-Z0-9_]+\b")


@pytest.mark.parametrize("path", manifest_files(), ids=lambda p: p.name)
def test_every_spoke_name_in_a_manifest_is_a_setting(path: Path) -> None:
    # The raw text, comments included: a comment naming a variable that does not exist misleads
    # as much as an env entry would.
    unknown = sorted(set(SPOKE_NAME.findall(path.read_text())) - KNOWN_NAMES)
    assert unknown == [], f"{path.name} names variables Spoke does not read: {unknown}"


def test_the_config_map_holds_every_non_secret_setting_and_nothing_else() -> None:
    data = config_map(MANIFESTS)
    assert set(data) == PLAIN_SETTINGS, (
        f"missing: {sorted(PLAIN_SETTINGS - set(data))}, "
        f"not a non-secret setting: {sorted(set(data) - PLAIN_SETTINGS)}"
    )
    assert all(isinstance(value, str) for value in data.values()), "quote every value"


def test_the_secret_example_holds_every_secret_setting_as_changeme() -> None:
    example = secret_example(MANIFESTS)
    assert set(example) == SECRET_SETTINGS
    for name, value in example.items():
        # Every value is a placeholder, or a URL whose only credential is one.
        assert "CHANGEME" in value or "@" not in value, f"{name} looks like a real secret"


def test_the_secret_examples_admin_token_is_refused_so_it_cannot_be_deployed_by_mistake(
    tmp_path: Path,
) -> None:
    server, spec = _server()
    environment = _environment(server, spec, tmp_path, admin_token=None)
    with pytest.raises(SettingsError) as caught:
        load_settings(environment)
    assert caught.value.variable == "SPOKE_ADMIN_TOKEN_FILE"
    assert "placeholder" in str(caught.value)
    assert "openssl rand -hex 32" in str(caught.value)


def test_secrets_reach_containers_only_as_files_of_the_secret_volume() -> None:
    for label, container, spec in all_containers(MANIFESTS):
        for source in container.get("envFrom", []):
            assert "secretRef" not in source, f"{label}: secrets as environment variables"
        for entry in container.get("env", []):
            name = entry["name"]
            assert "secretKeyRef" not in entry.get("valueFrom", {}), f"{label}: {name} from env"
            assert name not in SECRET_SETTINGS, f"{label}: {name} set directly; use {name}_FILE"
            if name.endswith(FILE_SUFFIX) and name.startswith("SPOKE_"):
                key = name.removesuffix(FILE_SUFFIX)
                assert _secret_key_at(entry["value"], container, spec) == key, (
                    f"{label}: {name}={entry['value']} is not the mounted secret key {key}"
                )


def test_the_server_gets_every_secret_setting() -> None:
    server, _ = _server()
    names = {entry["name"] for entry in server["env"]}
    assert {name + FILE_SUFFIX for name in SECRET_SETTINGS} <= names


def test_no_pod_gets_service_links() -> None:
    # The Service is named "spoke": its links would be SPOKE_SERVICE_HOST, SPOKE_PORT=tcp://...
    for manifest, spec in workloads(MANIFESTS):
        assert spec.get("enableServiceLinks") is False, str(manifest)


@pytest.mark.parametrize(
    ("label", "container", "spec"), list(all_containers(MANIFESTS)), ids=lambda v: str(v)[:80]
)
def test_each_containers_environment_loads(
    label: str, container: dict[str, Any], spec: dict[str, Any], tmp_path: Path
) -> None:
    """The ConfigMap, the container's own env and the Secret example's files, as the kubelet
    would assemble them, make settings Spoke accepts."""
    settings = load_settings(_environment(container, spec, tmp_path))
    assert isinstance(settings, Settings)
    assert settings.storage_type == "postgres"
    assert settings.postgres_url is not None and "CHANGEME" in settings.postgres_url


def test_the_servers_settings_are_the_production_backends(tmp_path: Path) -> None:
    server, spec = _server()
    settings = load_settings(_environment(server, spec, tmp_path))
    assert settings.effective_blob_type == "s3"
    assert settings.effective_cache_type == "redis"
    assert settings.postgres_replica_urls
    assert settings.admin_token == GENERATED_ADMIN_TOKEN
    assert settings.log_format == "json"
    assert settings.otel_enabled and settings.otel_endpoint is not None
    assert settings.otel_endpoint.endswith(":4317")


# ---------------------------------------------------------------------------------------------


def _server() -> tuple[dict[str, Any], dict[str, Any]]:
    """The ``spoke serve`` container of the Deployment and its pod spec."""
    (found,) = [(c, s) for label, c, s in all_containers(MANIFESTS) if label.endswith(" spoke")]
    return found


def _secret_key_at(path: str, container: dict[str, Any], spec: dict[str, Any]) -> str | None:
    """The key of the Secret ``spoke-secrets`` that the container sees at ``path``."""
    volumes = {volume["name"]: volume for volume in spec.get("volumes", [])}
    for mount in container.get("volumeMounts", []):
        prefix = mount["mountPath"].rstrip("/") + "/"
        if not path.startswith(prefix):
            continue
        secret = volumes[mount["name"]].get("secret")
        if secret is None or secret["secretName"] != "spoke-secrets":
            continue
        relative = path.removeprefix(prefix)
        items = secret.get("items")
        if items is None:
            return relative  # the whole Secret: one file per key
        return next((item["key"] for item in items if item["path"] == relative), None)
    return None


def _environment(
    container: dict[str, Any],
    spec: dict[str, Any],
    tmp_path: Path,
    *,
    admin_token: str | None = GENERATED_ADMIN_TOKEN,
) -> dict[str, str]:
    """The container's environment with the Secret example's files; ``admin_token`` replaces the
    example's placeholder token (``None``: keep the placeholder)."""
    environment: dict[str, str] = {}
    for source in container.get("envFrom", []):
        assert source["configMapRef"]["name"] == "spoke-config"
        environment.update(config_map(MANIFESTS))
    example = secret_example(MANIFESTS)
    if admin_token is not None:
        example["SPOKE_ADMIN_TOKEN"] = admin_token
    for entry in container.get("env", []):  # env wins over envFrom, as in Kubernetes
        value = entry["value"]
        if entry["name"].endswith(FILE_SUFFIX):
            key = _secret_key_at(value, container, spec)
            assert key is not None
            secret_file = tmp_path / key
            secret_file.write_text(example[key] + "\n")
            value = str(secret_file)
        environment[entry["name"]] = value
    return environment
