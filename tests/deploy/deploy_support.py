"""What the deployment tests share: the manifests, the Containerfile, and finding the tools.

The manifests are read as an SRE's ``kubectl apply -f`` would: every YAML document of every
``k8s/*.yaml`` file. Helpers walk their pod templates and containers so each test states one
property of all of them at once.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "k8s"
CONTAINERFILE = ROOT / "Containerfile"
NAMESPACE = "spoke"
#: The only paths the image may write to (emptyDirs in the pods, tmpfs with podman --read-only).
WRITABLE_PATHS = ("/tmp", "/var/cache/spoke")


def in_ci() -> bool:
    """True under CI (``CI=true``), where a missing tool fails the test instead of skipping it."""
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def tool_missing(message: str) -> None:
    """Skip the test locally; fail it under CI (a deploy check must never pass by skipping)."""
    hint = f"{message} (./scripts/test installs it)"
    if in_ci():
        pytest.fail(hint, pytrace=False)
    pytest.skip(hint)


def find_tool(name: str, *extra: Path) -> str:
    """The path of executable ``name``: next to this interpreter (the test venv), in ``extra``
    places, then on PATH. Skips (fails under CI) when it is nowhere."""
    candidates = [Path(sys.executable).parent / name, *extra]
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    found = shutil.which(name)
    if found is None:
        tool_missing(f"{name} is not installed")
    assert found is not None
    return found


# ---------------------------------------------------------------------------------------------
# Manifests


@dataclass(frozen=True)
class Manifest:
    """One Kubernetes object and the file it came from."""

    path: Path
    doc: dict[str, Any]

    @property
    def kind(self) -> str:
        return str(self.doc["kind"])

    @property
    def name(self) -> str:
        return str(self.doc["metadata"]["name"])

    def __str__(self) -> str:
        return f"{self.path.name}: {self.kind}/{self.name}"


def manifest_files() -> list[Path]:
    return sorted(K8S.glob("*.yaml"))


def load_manifests() -> list[Manifest]:
    found = []
    for path in manifest_files():
        for doc in yaml.safe_load_all(path.read_text()):
            if doc:
                found.append(Manifest(path, doc))
    return found


def one(manifests: list[Manifest], kind: str, name: str) -> dict[str, Any]:
    """The object of ``kind`` named ``name``; fails when there is not exactly one."""
    matches = [m.doc for m in manifests if m.kind == kind and m.name == name]
    assert len(matches) == 1, f"expected one {kind}/{name}, found {len(matches)}"
    return matches[0]


def pod_spec(manifest: Manifest) -> dict[str, Any] | None:
    """The pod template's spec of a workload (Deployment, Job, CronJob), else ``None``."""
    doc = manifest.doc
    if manifest.kind in ("Deployment", "StatefulSet", "DaemonSet", "Job"):
        return dict(doc["spec"]["template"]["spec"])
    if manifest.kind == "CronJob":
        return dict(doc["spec"]["jobTemplate"]["spec"]["template"]["spec"])
    return None


def workloads(manifests: list[Manifest]) -> Iterator[tuple[Manifest, dict[str, Any]]]:
    for manifest in manifests:
        spec = pod_spec(manifest)
        if spec is not None:
            yield manifest, spec


def containers(spec: dict[str, Any]) -> list[dict[str, Any]]:
    """Init containers first, then containers, as the kubelet runs them."""
    return [*spec.get("initContainers", []), *spec["containers"]]


def all_containers(
    manifests: list[Manifest],
) -> Iterator[tuple[str, dict[str, Any], dict[str, Any]]]:
    """(``file: Kind/name container``, container, pod spec) of every container of every workload."""
    for manifest, spec in workloads(manifests):
        for container in containers(spec):
            yield f"{manifest} container {container['name']}", container, spec


def config_map(manifests: list[Manifest]) -> dict[str, str]:
    return dict(one(manifests, "ConfigMap", "spoke-config")["data"])


def secret_example(manifests: list[Manifest]) -> dict[str, str]:
    return dict(one(manifests, "Secret", "spoke-secrets")["stringData"])


# ---------------------------------------------------------------------------------------------
# What a container runs


def container_argv(container: dict[str, Any], entrypoint: list[str]) -> list[str]:
    """The argv the container starts with: its command (else the image's ENTRYPOINT) + args."""
    return [*container.get("command", entrypoint), *container.get("args", [])]


def spoke_invocations(argv: list[str]) -> list[list[str]]:
    """Every ``spoke ...`` command line a container runs: argv itself, or, for ``sh -c SCRIPT``,
    each line of the script that calls ``spoke`` (shell words, variables left as they are)."""
    if argv[:1] == ["spoke"]:
        return [argv[1:]]
    if len(argv) >= 3 and Path(argv[0]).name in ("sh", "bash") and argv[1] == "-c":
        found = []
        for line in argv[2].splitlines():
            words = shlex.split(line, comments=True)
            if words[:1] == ["spoke"]:
                found.append(words[1:])
        return found
    return []


# ---------------------------------------------------------------------------------------------
# The Containerfile


@dataclass(frozen=True)
class Stage:
    """One ``FROM`` stage: its base, and its instructions as (keyword, rest of the line)."""

    base: str
    instructions: list[tuple[str, str]]

    def values(self, keyword: str) -> list[str]:
        return [rest for key, rest in self.instructions if key == keyword]

    def env(self) -> dict[str, str]:
        """The stage's ``ENV key=value ...`` pairs (later ones win)."""
        found: dict[str, str] = {}
        for rest in self.values("ENV"):
            for word in shlex.split(rest):
                key, sep, value = word.partition("=")
                assert sep, f"ENV {rest!r}: use the key=value form"
                found[key] = value
        return found

    def exec_form(self, keyword: str) -> list[str]:
        (rest,) = self.values(keyword)
        value = json.loads(rest)
        assert isinstance(value, list), f"{keyword} must be the exec (JSON) form"
        return [str(v) for v in value]


def containerfile_stages(text: str | None = None) -> list[Stage]:
    """The Containerfile's stages, continuation lines joined and comments dropped."""
    source = CONTAINERFILE.read_text() if text is None else text
    logical: list[str] = []
    pending = ""
    for raw in source.splitlines():
        stripped = raw.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        logical.append(pending + stripped)
        pending = ""
    stages: list[Stage] = []
    args: dict[str, str] = {}
    for line in logical:
        keyword, _, rest = line.partition(" ")
        keyword = keyword.upper()
        rest = rest.strip()
        if keyword == "ARG" and not stages:
            name, _, default = rest.partition("=")
            args[name] = default
        elif keyword == "FROM":
            base = rest.split()[0]
            base = re.sub(r"\$\{(\w+)\}", lambda m: args.get(m.group(1), m.group(0)), base)
            stages.append(Stage(base, []))
        else:
            assert stages, f"{keyword} before FROM"
            stages[-1].instructions.append((keyword, rest))
    return stages
