"""Every command the image and the manifests run exists: the image's entrypoint is the ``spoke``
console script, and each ``spoke <command> --option`` a container runs is a command of the click
CLI that takes those options."""

from __future__ import annotations

from importlib.metadata import entry_points
from typing import Any

import pytest
from click.testing import CliRunner
from deploy_support import (
    all_containers,
    container_argv,
    containerfile_stages,
    load_manifests,
    spoke_invocations,
)

from spoke.cli import main

MANIFESTS = load_manifests()
FINAL = containerfile_stages()[-1]
ENTRYPOINT = FINAL.exec_form("ENTRYPOINT")


def _invocations() -> list[tuple[str, list[str]]]:
    found = [("Containerfile CMD", FINAL.exec_form("CMD"))]
    for label, container, _ in all_containers(MANIFESTS):
        for words in spoke_invocations(container_argv(container, ENTRYPOINT)):
            found.append((label, words))
    return found


def test_the_images_entrypoint_is_the_spoke_console_script() -> None:
    assert ENTRYPOINT == ["spoke"]
    assert FINAL.exec_form("CMD") == ["serve"]
    (script,) = [ep for ep in entry_points(group="console_scripts") if ep.name == "spoke"]
    assert script.value == "spoke.cli:main"
    assert script.load() is main


def test_every_container_runs_spoke() -> None:
    for label, container, _ in all_containers(MANIFESTS):
        assert spoke_invocations(container_argv(container, ENTRYPOINT)), f"{label} runs no spoke"


@pytest.mark.parametrize(("label", "words"), _invocations(), ids=lambda v: str(v)[:70])
def test_every_spoke_command_run_exists_with_its_options(label: str, words: list[str]) -> None:
    command = words[0]
    result = CliRunner().invoke(main, [command, "--help"])
    assert result.exit_code == 0, f"{label}: `spoke {command}` does not exist:\n{result.output}"
    for word in words[1:]:
        if word.startswith("--"):
            option = word.split("=", 1)[0]
            assert option in result.output, f"{label}: `spoke {command}` has no {option}"


def test_the_init_containers_wait_for_the_backends_with_a_timeout() -> None:
    waits: dict[str, Any] = {}
    for label, container, spec in all_containers(MANIFESTS):
        if container in spec.get("initContainers", []):
            (words,) = spoke_invocations(container_argv(container, ENTRYPOINT))
            waits[label] = words
    assert waits, "no init container"
    for label, words in waits.items():
        assert words[0] == "wait" and "--timeout" in words, label
    server_waits = [w for label, w in waits.items() if "Deployment/spoke-server" in label]
    assert server_waits == [["wait", "--migrated", "--timeout", "5m", "--interval", "2s"]]
