"""An error answer stays small whatever a client sends: every echoed value is cut short.

Each case sends a megabyte where a client value ends up in an error (a dependency pin, a field
name, a content type, a query parameter, a path, an identifier inside a .proto file...) and
checks that the whole answer is the envelope and stays under a few kilobytes.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from spoke.api.app import Application
from spoke.errors import CodeGenerationFailed

from .conftest import API, SpokeClient, assert_error, message, proto, push_ok

HUGE = "x" * 1_000_000
QUOTE = "%22"  # a '"', which JSON escapes: 198 of them echoed would be 396 bytes
MAX_BODY = 8 * 1024
V1 = f"{API}/modules/acme/versions/1.0.0"
GOOD = proto("acme.v1", message("A", "string id"))
FILES = [{"path": "acme/v1/b.proto", "content": GOOD}]


def _push(**fields: Any) -> dict[str, Any]:
    return {"version": "2.0.0", "files": FILES, **fields}


def _file(content: str) -> dict[str, Any]:
    return _push(files=[{"path": "acme/v1/b.proto", "content": content}])


# (label, method, url, JSON body or None)
BODY_CASES: list[tuple[str, str, str, Any]] = [
    ("pin without @", "POST", f"{API}/modules/acme/versions", _push(dependencies=[HUGE])),
    ("pin with a huge version", "POST", f"{API}/modules/acme/versions", _push(dependencies=["common@" + "1" * 1_000_000])),
    ("pin with a huge name", "POST", f"{API}/modules/acme/versions", _push(dependencies=["a" + HUGE + "@1.0.0"])),
    ("pin with two @", "POST", f"{API}/modules/acme/versions", _push(dependencies=[HUGE + "@1@2"])),
    ("pin of latest", "POST", f"{API}/modules/acme/versions", _push(dependencies=[HUGE + "@latest"])),
    ("pin that is not a string", "POST", f"{API}/modules/acme/versions", _push(dependencies=[[HUGE]])),
    ("pin in a validation", "POST", f"{API}/validate", {"content": GOOD, "dependencies": [HUGE]}),
    ("pin in a compatibility check", "POST", f"{API}/modules/acme/compatibility", {"files": FILES, "dependencies": [HUGE]}),
    ("unknown field", "POST", f"{API}/modules", {"name": "x", HUGE: 1}),
    ("many unknown fields", "POST", f"{API}/modules", {"name": "x", **{f"f{i}": 1 for i in range(100_000)}}),
    ("unknown source_info field", "POST", f"{API}/modules/acme/versions", _push(source_info={HUGE: 1})),
    ("unknown compatibility field", "POST", f"{API}/modules", {"name": "x", "compatibility": {HUGE: 1}}),
    ("compatibility mode", "POST", f"{API}/modules", {"name": "x", "compatibility": {"mode": HUGE}}),
    ("compatibility rules", "PATCH", f"{API}/modules/acme", {"compatibility": {"rules": HUGE}}),
    ("module name", "POST", f"{API}/modules", {"name": HUGE}),
    ("version", "POST", f"{API}/modules/acme/versions", _push(version=HUGE)),
    ("file path", "POST", f"{API}/modules/acme/versions", _push(files=[{"path": HUGE + ".proto", "content": GOOD}])),
    ("checked mode", "POST", f"{API}/modules/acme/compatibility", {"new_version": "1.0.0", "mode": HUGE}),
    ("checked old version", "POST", f"{API}/modules/acme/compatibility", {"new_version": "1.0.0", "old_version": HUGE}),
    ("diffed version", "POST", f"{API}/modules/acme/diff", {"from_version": HUGE, "to_version": "1.0.0"}),
    ("compiled language", "POST", f"{V1}/compile", {"languages": [HUGE]}),
    ("undefined type quoted by the compiler", "POST", f"{API}/modules/acme/versions", _file(proto("acme.v1", message("B", "X" + HUGE + " f")))),
    ("duplicate field quoted by the compiler", "POST", f"{API}/modules/acme/versions", _file(proto("acme.v1", message("B", "int32 " + HUGE, "int32 " + HUGE)))),
    ("unresolved import quoted by the compiler", "POST", f"{API}/modules/acme/versions", _file(proto("acme.v1", imports=[HUGE + ".proto"]))),
]  # fmt: skip

# (label, method, url, extra simulate_request arguments)
RAW_CASES: list[tuple[str, str, str, dict[str, Any]]] = [
    ("content type", "POST", f"{API}/modules", {"body": "{}", "content_type": "text/" + HUGE}),
    ("malformed JSON", "POST", f"{API}/modules", {"body": '{"' + HUGE, "content_type": "application/json"}),
    ("repeated key", "POST", f"{API}/modules", {"body": f'{{"{HUGE}": 1, "{HUGE}": 2}}', "content_type": "application/json"}),
    ("route", "GET", f"{API}/" + HUGE, {}),
    ("method on a route", "DELETE", f"{API}/modules/" + "a" * 100_000, {}),
    ("module name in the path", "GET", f"{API}/modules/" + HUGE, {}),
    ("version in the path", "GET", f"{API}/modules/acme/versions/" + HUGE, {}),
    ("file path in the path", "GET", f"{V1}/files/{HUGE}.proto", {}),
    ("language in the path", "GET", f"{V1}/download/{HUGE}", {}),
    ("language id", "GET", f"{API}/languages/{HUGE}", {}),
    ("job id", "GET", f"{V1}/compile/{HUGE}", {}),
    ("mode query parameter", "GET", f"{V1}/compatibility?mode={HUGE}", {}),
    ("rules query parameter", "GET", f"{V1}/compatibility?rules={HUGE}", {}),
    ("limit query parameter", "GET", f"{API}/modules?limit={'1' * 100_000}", {}),
    ("name prefix query parameter", "GET", f"{API}/modules?q={HUGE}", {}),
    ("flag query parameter", "GET", f"{V1}/dependents?direct={HUGE}", {}),
    ("generator options", "GET", f"{V1}/download/python?" + "&".join(f"option={i}{QUOTE * 198}" for i in range(16)), {}),
]  # fmt: skip


@pytest.fixture
def registry(client: SpokeClient) -> SpokeClient:
    """``acme@1.0.0`` with one file."""
    push_ok(client, "acme", "1.0.0", {"acme/v1/a.proto": GOOD})
    return client


def _assert_small_envelope(result: Any) -> None:
    assert 400 <= result.status_code < 500, result.text[:500]
    assert_error(result, result.status_code)
    assert len(result.content) < MAX_BODY, (len(result.content), result.text[:300])


@pytest.mark.parametrize(
    ("method", "url", "body"),
    [case[1:] for case in BODY_CASES],
    ids=[case[0] for case in BODY_CASES],
)
def test_a_huge_value_in_a_body_comes_back_cut_short(
    registry: SpokeClient, method: str, url: str, body: Any
) -> None:
    result = registry.simulate_request(
        method, url, body=json.dumps(body), content_type="application/json"
    )

    _assert_small_envelope(result)


@pytest.mark.parametrize(
    ("method", "url", "extra"),
    [case[1:] for case in RAW_CASES],
    ids=[case[0] for case in RAW_CASES],
)
def test_a_huge_value_in_a_request_line_or_header_comes_back_cut_short(
    registry: SpokeClient, method: str, url: str, extra: dict[str, Any]
) -> None:
    result = registry.simulate_request(method, url, **extra)

    _assert_small_envelope(result)


def test_a_cut_echo_still_names_the_start_of_the_value(registry: SpokeClient) -> None:
    result = registry.simulate_post(
        f"{API}/modules/acme/versions", json=_push(dependencies=["pinned" + HUGE])
    )

    body = assert_error(result, 422, "invalid_dependency")
    assert body["details"]["dependency"].startswith("pinnedxxx")
    assert body["details"]["dependency"].endswith("…")
    assert "'pinnedxxx" in body["error"]


def test_many_unknown_fields_are_counted_not_listed(registry: SpokeClient) -> None:
    fields = {f"f{i:06d}": 1 for i in range(1000)}
    result = registry.simulate_post(f"{API}/modules", json={"name": "x", **fields})

    body = assert_error(result, 400, "invalid_request")
    assert body["details"]["unknown"] == sorted(fields)[:20]
    assert body["error"].endswith("and 980 more")


def test_an_error_under_the_size_limit_is_sent_whole(app: Application, client: SpokeClient) -> None:
    """Only an envelope past the limit is cut: a generator's 4 KiB of stderr arrives whole."""
    stderr = "e" * 4096

    def failing(**_: Any) -> None:
        raise CodeGenerationFailed("the generator failed", details={"stderr": stderr})

    app.service.list_modules = failing  # type: ignore[method-assign]

    body = assert_error(client.simulate_get(f"{API}/modules"), 500, "compilation_failed")
    assert body["details"]["stderr"] == stderr
