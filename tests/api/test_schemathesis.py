"""Property tests generated from openapi.yaml against the real falcon apps on memory backends.

For every operation, schemathesis generates valid and invalid requests, and every check it has
judges the answers: never a 5xx, valid data accepted and invalid data refused, status, content
type, headers and body as documented. Then the stateful phase follows the spec's links (create a
module, push a version to it, read the version, its files, dependencies and archives back, start
a compile job and read it) with generated data at each step, so the links stay true too. Every
4xx is also the error envelope. The run is bounded by example and step counts, never by time.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import hypothesis
import pytest
from schemathesis.config import ChecksConfig

from spoke.api.app import Application
from spoke.codegen import LanguageRegistry
from spoke.plugins import create_plugin_registry

from .spec_support import (
    BODY_NAMES_RESOURCES,
    HEALTH_SCHEMA,
    SCHEMA,
    assert_error_envelope,
    new_seeded_app,
    seeded_app,
)

# Scenarios of the stateful phase and calls per scenario: enough for every link of the spec to
# be followed from a real 201 or 202 (about 900 calls, 15 s on a 2-core machine).
STATEFUL_SCENARIOS = 100
STATEFUL_STEPS = 10


@pytest.fixture(scope="module")
def application() -> Iterator[Application]:
    """Shared by the generated cases, which add modules and versions as they go."""
    yield from seeded_app()


# Every check schemathesis has, by the name its configuration uses. max_response_time is not
# among them: it needs a limit, and these tests never depend on timing.
CHECKS = [
    field.name
    for field in dataclasses.fields(ChecksConfig)
    if not field.name.startswith("_") and field.name != "max_response_time"
]


def test_every_check_runs_except_where_the_configuration_says_why() -> None:
    """No check is switched off by accident: the only exceptions are those spec_support
    documents (ensure_resource_availability for operations whose body names resources)."""
    assert len(CHECKS) >= 14, CHECKS
    switched_off = {}
    for result in SCHEMA.get_all_operations():
        operation = result.ok()
        checks = SCHEMA.config.checks_config_for(operation=operation, phase="stateful")
        names = [name for name in CHECKS if not getattr(checks, name).enabled]
        if names:
            switched_off[operation.definition.raw["operationId"]] = names

    assert switched_off == {name: ["ensure_resource_availability"] for name in BODY_NAMES_RESOURCES}


@SCHEMA.parametrize()
def test_api_answers_conform_to_the_spec(case: Any, application: Application) -> None:
    response = case.call(app=application.api)
    case.validate_response(response)
    assert_error_envelope(response)


@HEALTH_SCHEMA.parametrize()
def test_health_answers_conform_to_the_spec(case: Any, application: Application) -> None:
    response = case.call(app=application.health)
    case.validate_response(response)
    if case.path != "/health/ready":  # readiness reports its own 503 body
        assert_error_envelope(response)


def test_api_workflows_along_the_links_conform_to_the_spec() -> None:
    # Each scenario gets an application of its own: Hypothesis replays scenarios (to check and
    # shrink them) and needs each to meet the state it met the first time.
    languages = LanguageRegistry.load(create_plugin_registry())
    followed: set[str] = set()

    class Workflows(SCHEMA.as_state_machine()):  # type: ignore[misc]
        def setup(self) -> None:
            self.app = new_seeded_app(languages)

        def teardown(self) -> None:
            self.app.close()

        def get_call_kwargs(self, case: Any) -> dict[str, Any]:
            return {"app": self.app.api}

        def step(self, input: Any) -> Any:
            if input.transition is not None:  # "POST /a -> [201] LinkName -> GET /b"
                followed.add(input.transition.id)
            return super().step(input)

        def validate_response(
            self, response: Any, case: Any, additional_checks: Any = None, **kwargs: Any
        ) -> None:
            super().validate_response(response, case, additional_checks, **kwargs)
            assert_error_envelope(response)

    Workflows.run(
        settings=hypothesis.settings(
            max_examples=STATEFUL_SCENARIOS,
            stateful_step_count=STATEFUL_STEPS,
            derandomize=True,
            database=None,
            deadline=None,
            suppress_health_check=list(hypothesis.HealthCheck),
        )
    )
    # The scenarios went where the links lead: create, push, read back, start a compile job.
    links = {transition.split(" -> ")[1].split("] ")[1] for transition in followed}
    # (Which later links a fixed number of derandomized scenarios reaches depends on every answer
    # before them; the compile job's own link is checked by test_links_lead_to_operations_...)
    assert {"PushVersion", "GetVersion", "GetFile", "StartCompileJob"} <= links
