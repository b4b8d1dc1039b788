"""Boolean query parameters (``raw``, ``direct``, ``grpc``, ``include_dependencies``) are read
one way everywhere: ``true``/``false``, ``True``/``False``, ``1``/``0``, ``yes``/``no``; absent
is false; anything else, the empty value included, is ``400 invalid_request``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from spoke.api.http import FLAG_VALUES

from .conftest import API, SpokeClient, assert_error, message, proto, push_ok

V1 = f"{API}/modules/acme/versions/1.0.0"
FILE = "acme/v1/a.proto"
TEXT = proto("acme.v1", message("A", "string id"))
REFUSED = ["", "TRUE", "Yes", "on", "off", "t", "f", "y", "n", " true", "true ", "2", "-1", "null"]


@pytest.fixture
def registry(client: SpokeClient) -> SpokeClient:
    """``common@1.0.0``, pinned by ``acme@1.0.0``."""
    push_ok(client, "common", "1.0.0", {"common/v1/c.proto": proto("common.v1", message("C"))})
    push_ok(client, "acme", "1.0.0", {FILE: TEXT}, deps=["common@1.0.0"])
    return client


def _raw_file(result: Any) -> bool:
    return bool(result.headers["content-type"].startswith("text/plain"))


def _direct_only(result: Any) -> bool:
    return "deep" not in {dependent["module"] for dependent in result.json}


def _with_dependencies(result: Any) -> bool:
    return "common/v1/c_pb2.py" in result.content.decode("latin-1")


# (parameter, URL, how a true answer differs from a false one)
FLAGS: list[tuple[str, str, Callable[[Any], bool]]] = [
    ("raw", f"{V1}/files/{FILE}", _raw_file),
    ("direct", f"{API}/modules/common/versions/1.0.0/dependents", _direct_only),
    ("include_dependencies", f"{V1}/download/python", _with_dependencies),
]


@pytest.fixture
def layered(registry: SpokeClient) -> SpokeClient:
    """Adds ``deep@1.0.0`` pinning acme, so common has a dependent that is not direct."""
    files = {"deep/v1/d.proto": proto("deep.v1", message("D"))}
    push_ok(registry, "deep", "1.0.0", files, deps=["acme@1.0.0"])
    return registry


@pytest.mark.parametrize("spelling", list(FLAG_VALUES))
@pytest.mark.parametrize(("name", "url", "is_true"), FLAGS, ids=[f[0] for f in FLAGS])
def test_every_flag_spelling_is_read_the_same_everywhere(
    layered: SpokeClient,
    name: str,
    url: str,
    is_true: Callable[[Any], bool],
    spelling: str,
) -> None:
    result = layered.simulate_get(url, params={name: spelling})

    assert result.status_code == 200, result.text
    assert is_true(result) is FLAG_VALUES[spelling]


@pytest.mark.parametrize(("name", "url", "is_true"), FLAGS, ids=[f[0] for f in FLAGS])
def test_an_absent_flag_is_false(
    layered: SpokeClient, name: str, url: str, is_true: Callable[[Any], bool]
) -> None:
    result = layered.simulate_get(url)

    assert result.status_code == 200, result.text
    assert is_true(result) is False


@pytest.mark.parametrize("value", REFUSED, ids=repr)
@pytest.mark.parametrize(
    ("name", "url"),
    [(name, url) for name, url, _ in FLAGS] + [("grpc", f"{V1}/download/python")],
)
def test_any_other_flag_value_is_400(
    registry: SpokeClient, name: str, url: str, value: str
) -> None:
    result = registry.simulate_get(url, query_string=f"{name}={value}")

    body = assert_error(result, 400, "invalid_request")
    assert body["details"] == {"parameter": name}
