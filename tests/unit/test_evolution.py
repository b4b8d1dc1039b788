"""spoke.evolution through the service: what a checked push writes and reads."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from spoke.api.app import Application, Backends, create_app
from spoke.domain import CompatibilityPolicy, VersionString
from spoke.errors import IncompatibleSchema, InvalidRequest, Unprocessable
from spoke.evolution import check_policy, resolve_policy
from spoke.service import PushRequest
from spoke.settings import load_settings
from spoke_plugins.memory import MemoryBlobStore, MemoryStorage, NullCache
from worker_pool import shared_work

PATH = "acme/v1/api.proto"


def thing(*fields: str) -> dict[str, str]:
    body = "".join(f"  {field};\n" for field in fields)
    return {PATH: f'syntax = "proto3";\npackage acme.v1;\nmessage Thing {{\n{body}}}\n'}


class CountingBlobStore(MemoryBlobStore):
    """Remembers every digest read."""

    def __init__(self) -> None:
        super().__init__()
        self.reads: list[str] = []

    def get(self, *, digest: str) -> bytes:
        self.reads.append(digest)
        return super().get(digest=digest)


@pytest.fixture
def app() -> Iterator[Application]:
    # No cache: every blob the service needs is read from the blob store, where it is counted.
    backends = Backends(storage=MemoryStorage(), blobs=CountingBlobStore(), cache=NullCache())
    application = create_app(load_settings({}), backends=backends, work=shared_work())
    yield application
    application.close()


def blobs_of(app: Application) -> CountingBlobStore:
    store = app.backends.blobs
    assert isinstance(store, CountingBlobStore)
    return store


def push(app: Application, version: str, files: dict[str, str]) -> None:
    request = PushRequest(VersionString(version), files, (), None)
    app.service.push_version(module="acme", request=request)


def create(app: Application, mode: str) -> None:
    policy = CompatibilityPolicy(mode=mode)
    app.service.create_module(name="acme", description="", compatibility=policy)


def descriptor_digests(app: Application) -> dict[str, str]:
    """Version -> digest of its descriptor set."""
    page = app.service.list_versions(module="acme", limit=100, offset=0)
    return {v.version: v.descriptor_sha256 for v in page.items}


def test_a_refused_push_writes_no_blob_and_no_version(app: Application) -> None:
    create(app, "BACKWARD")
    push(app, "1.0.0", thing("string id = 1", "string name = 2"))
    stored = dict(blobs_of(app)._blobs)

    with pytest.raises(IncompatibleSchema) as refused:
        push(app, "1.1.0", thing("string id = 1", "string renamed = 3"))

    assert refused.value.status == 409 and refused.value.code == "incompatible_schema"
    assert blobs_of(app)._blobs == stored
    assert app.backends.storage.statistics().versions == 1


def test_backward_reads_only_the_descriptor_set_of_the_highest_lower_version(
    app: Application,
) -> None:
    create(app, "BACKWARD")
    fields = ["string id = 1"]
    for minor in range(5):
        fields.append(f"int32 f{minor} = {minor + 2}")
        push(app, f"1.{minor}.0", thing(*fields))
    digests = descriptor_digests(app)
    blobs_of(app).reads.clear()

    push(app, "1.2.5", thing(*fields[:4]))

    assert blobs_of(app).reads == [digests["1.2.0"]]


def test_transitive_modes_read_every_lower_version(app: Application) -> None:
    create(app, "BACKWARD_TRANSITIVE")
    for minor in range(4):
        push(app, f"1.{minor}.0", thing("string id = 1"))
    digests = descriptor_digests(app)
    blobs_of(app).reads.clear()

    push(app, "1.2.5", thing("string id = 1"))

    assert sorted(blobs_of(app).reads) == sorted(digests[v] for v in ("1.0.0", "1.1.0", "1.2.0"))


def test_mode_none_reads_nothing(app: Application) -> None:
    create(app, "NONE")
    push(app, "1.0.0", thing("string id = 1"))
    blobs_of(app).reads.clear()

    push(app, "2.0.0", thing("int64 id = 1"))

    assert blobs_of(app).reads == []


def test_a_stored_check_under_backward_reads_two_descriptor_sets(app: Application) -> None:
    create(app, "NONE")
    for minor in range(4):
        push(app, f"1.{minor}.0", thing("string id = 1"))
    digests = descriptor_digests(app)
    blobs_of(app).reads.clear()

    comparison = app.service.evolution.check_stored(module="acme", version="1.3.0", mode="FULL")

    assert comparison.checked_against == ("1.2.0",)
    assert sorted(blobs_of(app).reads) == sorted([digests["1.3.0"], digests["1.2.0"]])


def test_versions_equal_in_precedence_are_not_earlier(app: Application) -> None:
    create(app, "BACKWARD")
    push(app, "1.0.0+build.1", thing("string id = 1"))
    # Build metadata does not count for precedence: 1.0.0+build.2 is not above +build.1.
    push(app, "1.0.0+build.2", thing("int64 id = 1"))
    comparison = app.service.evolution.check_stored(module="acme", version="1.0.0+build.2")
    assert comparison.checked_against == ()


# Policies ----------------------------------------------------------------------------------


def test_check_policy_fills_in_the_defaults() -> None:
    assert check_policy({}) == CompatibilityPolicy("BACKWARD", "FILE")
    assert check_policy({"rules": "WIRE"}) == CompatibilityPolicy("BACKWARD", "WIRE")


@pytest.mark.parametrize("raw", [None, [], "BACKWARD", {"mode": "NONE", "strict": True}])
def test_check_policy_refuses_malformed_objects(raw: object) -> None:
    with pytest.raises(InvalidRequest):
        check_policy(raw)


def test_resolve_policy_keeps_what_the_request_does_not_give() -> None:
    stored = CompatibilityPolicy("FORWARD", "WIRE_JSON")
    assert resolve_policy(stored, mode=None, rules=None) == stored
    assert resolve_policy(stored, mode="FULL", rules=None) == CompatibilityPolicy(
        "FULL", "WIRE_JSON"
    )
    assert resolve_policy(stored, mode=None, rules="WIRE") == CompatibilityPolicy("FORWARD", "WIRE")


@pytest.mark.parametrize(
    ("mode", "rules", "field"),
    [("LATERAL", None, "mode"), (7, None, "mode"), (None, "STRICT", "rules"), (None, [], "rules")],
)
def test_resolve_policy_refuses_unknown_values_as_invalid_compatibility(
    mode: object, rules: object, field: str
) -> None:
    with pytest.raises(Unprocessable) as refused:
        resolve_policy(CompatibilityPolicy(), mode=mode, rules=rules)
    assert refused.value.code == "invalid_compatibility"
    assert field in refused.value.details
