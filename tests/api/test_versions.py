"""Versions: push, re-push, read, list, ``latest``, and the schema fingerprint."""

from __future__ import annotations

import hashlib
import random

import pytest

from spoke.testing import SEMVER_PRECEDENCE

from .conftest import (
    API,
    FINGERPRINT,
    SHA256,
    TIMESTAMP,
    SpokeClient,
    assert_error,
    blob_digests,
    create_module,
    message,
    proto,
    push,
    push_ok,
    simple_files,
    version_names,
)

USER = proto("acme.v1", message("User", "string id", "string email", "int64 created_at"))
ORDER = proto("acme.v1", message("Order", "string id", "User user"), imports=["acme/v1/user.proto"])
FILES = {"acme/v1/user.proto": USER, "acme/v1/order.proto": ORDER}


def test_push_is_201_with_files_fingerprint_sha256_size(any_client: SpokeClient) -> None:
    create_module(any_client, "acme")

    result = push(any_client, "acme", "1.0.0", FILES, create=False)

    assert result.status_code == 201, result.text
    assert result.headers["location"].endswith(f"{API}/modules/acme/versions/1.0.0")
    body = result.json
    assert body["module_name"] == "acme"
    assert body["version"] == "1.0.0"
    assert FINGERPRINT.match(body["fingerprint"])
    assert TIMESTAMP.match(body["created_at"])
    assert body["file_count"] == 2
    assert body["dependencies"] == []
    assert body["source_info"] is None
    # Files come back sorted by path, each with its digest and size in bytes.
    assert [f["path"] for f in body["files"]] == ["acme/v1/order.proto", "acme/v1/user.proto"]
    for file in body["files"]:
        data = FILES[file["path"]].encode()
        assert file == {
            "path": file["path"],
            "content": FILES[file["path"]],
            "sha256": hashlib.sha256(data).hexdigest(),
            "size": len(data),
        }
        assert SHA256.match(file["sha256"])


def test_push_sets_latest_version_of_module(any_client: SpokeClient) -> None:
    push_ok(any_client, "acme", "1.0.0")
    assert any_client.simulate_get(f"{API}/modules/acme").json["latest_version"] == "1.0.0"


def test_push_keeps_source_info(any_client: SpokeClient) -> None:
    source = {"repository": "github.com/acme/protos", "commit_sha": "abc123", "branch": "main"}

    result = push(any_client, "acme", "1.0.0", simple_files("acme"), source_info=source)

    assert result.status_code == 201, result.text
    assert result.json["source_info"] == source
    stored = any_client.simulate_get(f"{API}/modules/acme/versions/1.0.0").json
    assert stored["source_info"] == source


def test_push_with_partial_source_info(client: SpokeClient) -> None:
    result = push(client, "acme", "1.0.0", simple_files("acme"), source_info={"branch": "dev"})

    assert result.status_code == 201, result.text
    assert result.json["source_info"] == {"repository": None, "commit_sha": None, "branch": "dev"}


def test_v_prefix_is_normalized(any_client: SpokeClient) -> None:
    result = push(any_client, "acme", "v1.2.3", simple_files("acme"))

    assert result.status_code == 201, result.text
    assert result.json["version"] == "1.2.3"
    assert result.headers["location"].endswith("/versions/1.2.3")
    assert version_names(any_client, "acme") == ["1.2.3"]
    for requested in ("1.2.3", "v1.2.3"):
        got = any_client.simulate_get(f"{API}/modules/acme/versions/{requested}")
        assert got.status_code == 200
        assert got.json["version"] == "1.2.3"


def test_build_metadata_is_kept(client: SpokeClient) -> None:
    body = push_ok(client, "acme", "1.0.0-rc.1+build.5")

    assert body["version"] == "1.0.0-rc.1+build.5"
    got = client.simulate_get(f"{API}/modules/acme/versions/1.0.0-rc.1+build.5")
    assert got.status_code == 200


def test_identical_repush_is_200_with_the_stored_version(any_client: SpokeClient) -> None:
    first = push(any_client, "acme", "1.0.0", FILES)
    assert first.status_code == 201

    again = push(any_client, "acme", "1.0.0", FILES)

    assert again.status_code == 200, again.text
    assert again.json == first.json
    assert again.json["created_at"] == first.json["created_at"]
    assert version_names(any_client, "acme") == ["1.0.0"]


def test_identical_repush_in_another_file_order_and_with_v_prefix_is_200(
    client: SpokeClient,
) -> None:
    first = push(client, "acme", "1.0.0", FILES)
    reordered = dict(reversed(list(FILES.items())))

    again = push(client, "acme", "v1.0.0", reordered)

    assert again.status_code == 200, again.text
    assert again.json == first.json


def test_repush_with_different_content_is_409_version_exists(any_client: SpokeClient) -> None:
    original = push(any_client, "acme", "1.0.0", FILES).json
    changed = {**FILES, "acme/v1/user.proto": USER.replace("email", "mail")}

    result = push(any_client, "acme", "1.0.0", changed)

    body = assert_error(result, 409, "version_exists")
    assert body["details"]["version"] == "1.0.0"
    assert body["details"]["fingerprint"] == original["fingerprint"]
    stored = any_client.simulate_get(f"{API}/modules/acme/versions/1.0.0").json
    assert stored == original
    assert {f["path"]: f["content"] for f in stored["files"]} == FILES


def test_repush_with_an_extra_file_is_409(client: SpokeClient) -> None:
    original = push(client, "acme", "1.0.0", FILES).json
    extra = {**FILES, "acme/v1/more.proto": proto("acme.v1", message("More", "int32 n"))}

    assert_error(push(client, "acme", "1.0.0", extra), 409, "version_exists")
    assert client.simulate_get(f"{API}/modules/acme/versions/1.0.0").json == original


def test_repush_with_different_dependencies_is_409(any_client: SpokeClient) -> None:
    push_ok(any_client, "common", "1.0.0")
    push_ok(any_client, "common", "1.1.0")
    original = push_ok(any_client, "acme", "1.0.0", deps=["common@1.0.0"])

    for deps in (["common@1.1.0"], []):
        result = push(any_client, "acme", "1.0.0", simple_files("acme"), deps)
        assert_error(result, 409, "version_exists")

    stored = any_client.simulate_get(f"{API}/modules/acme/versions/1.0.0").json
    assert stored == original
    assert stored["dependencies"] == ["common@1.0.0"]


@pytest.mark.parametrize(
    "version",
    [
        "1.0",
        "1",
        "01.0.0",
        "1.01.0",
        "1.0.0-",
        "1.0.0+",
        "1.0.0-01",
        "1.0.0.0",
        "latest",
        "v",
        "",
        " 1.0.0",
        "1.0.0 ",
        "V1.0.0",
        "vv1.0.0",
        "1.0.0-rc..1",
        "1.2.3-" + "a" * 200,
        "x" * 200,
        "1" * 19 + ".0.0",
        "1.0.0\n",
        "v1.0.0\n",
    ],
)
def test_bad_semver_is_422_invalid_version(client: SpokeClient, version: str) -> None:
    create_module(client, "acme")

    result = push(client, "acme", version, simple_files("acme"), create=False)

    assert_error(result, 422, "invalid_version")
    assert version_names(client, "acme") == []


@pytest.mark.parametrize("version", [1, 1.0, None, ["1.0.0"], {"major": 1}])
def test_non_string_version_is_rejected(client: SpokeClient, version: object) -> None:
    create_module(client, "acme")

    result = push(client, "acme", version, simple_files("acme"), create=False)  # type: ignore[arg-type]

    assert_error(result, 422, "invalid_version")
    assert version_names(client, "acme") == []


def test_push_to_unknown_module_is_404_module_not_found(client: SpokeClient) -> None:
    result = push(client, "nope", "1.0.0", simple_files("nope"), create=False)

    assert_error(result, 404, "module_not_found")
    assert client.simulate_get(f"{API}/modules").json == []


def test_latest_is_the_highest_release(any_client: SpokeClient) -> None:
    for version in ["1.0.0", "2.0.0-rc.1", "1.10.0", "1.9.0", "2.0.0-alpha"]:
        push_ok(any_client, "acme", version)

    result = any_client.simulate_get(f"{API}/modules/acme/versions/latest")

    assert result.status_code == 200
    assert result.json["version"] == "1.10.0"
    assert any_client.simulate_get(f"{API}/modules/acme").json["latest_version"] == "1.10.0"


def test_latest_is_a_prerelease_only_when_there_is_no_release(any_client: SpokeClient) -> None:
    for version in ["1.0.0-alpha", "1.0.0-beta.2", "1.0.0-beta.11", "0.9.0-rc.1"]:
        push_ok(any_client, "acme", version)

    result = any_client.simulate_get(f"{API}/modules/acme/versions/latest")
    assert result.json["version"] == "1.0.0-beta.11"

    push_ok(any_client, "acme", "0.1.0")
    result = any_client.simulate_get(f"{API}/modules/acme/versions/latest")
    assert result.json["version"] == "0.1.0"


def test_latest_of_a_module_without_versions_is_404_version_not_found(
    any_client: SpokeClient,
) -> None:
    create_module(any_client, "acme")

    result = any_client.simulate_get(f"{API}/modules/acme/versions/latest")

    assert_error(result, 404, "version_not_found")


def test_latest_cannot_be_pushed(client: SpokeClient) -> None:
    result = push(client, "acme", "latest", simple_files("acme"))
    assert_error(result, 422, "invalid_version")


def test_get_version_includes_files_with_content(any_client: SpokeClient) -> None:
    pushed = push(any_client, "acme", "1.0.0", FILES).json

    result = any_client.simulate_get(f"{API}/modules/acme/versions/1.0.0")

    assert result.status_code == 200
    body = result.json
    assert body == pushed
    assert {f["path"]: f["content"] for f in body["files"]} == FILES


def test_get_version_twice_gives_the_same_body(any_client: SpokeClient) -> None:
    """The second read comes from the cache; it must not differ from the first."""
    push_ok(any_client, "common", "1.0.0")
    push(
        any_client,
        "acme",
        "1.0.0",
        FILES,
        ["common@1.0.0"],
        source_info={"repository": "r", "commit_sha": "c", "branch": "b"},
    )

    first = any_client.simulate_get(f"{API}/modules/acme/versions/1.0.0")
    second = any_client.simulate_get(f"{API}/modules/acme/versions/1.0.0")

    assert first.status_code == second.status_code == 200
    assert first.json == second.json
    assert second.json["dependencies"] == ["common@1.0.0"]


def test_get_version_of_unknown_module_is_404_module_not_found(any_client: SpokeClient) -> None:
    for version in ("1.0.0", "latest"):
        result = any_client.simulate_get(f"{API}/modules/nope/versions/{version}")
        assert_error(result, 404, "module_not_found")


def test_get_unknown_version_is_404_version_not_found(any_client: SpokeClient) -> None:
    push_ok(any_client, "acme", "1.0.0")

    result = any_client.simulate_get(f"{API}/modules/acme/versions/1.0.1")

    body = assert_error(result, 404, "version_not_found")
    assert body["details"] == {"module": "acme", "version": "1.0.1"}


def test_get_version_with_bad_semver_is_422(client: SpokeClient) -> None:
    push_ok(client, "acme", "1.0.0")
    result = client.simulate_get(f"{API}/modules/acme/versions/1.0")
    assert_error(result, 422, "invalid_version")


def test_versions_list_is_newest_first_by_semver(any_client: SpokeClient) -> None:
    wanted = [*SEMVER_PRECEDENCE, "1.9.0-rc.1", "1.9.0"]
    shuffled = list(wanted)
    random.Random(7).shuffle(shuffled)
    for version in shuffled:
        push_ok(any_client, "acme", version)

    listed = version_names(any_client, "acme")

    expected = [
        "2.0.0",
        "1.10.0",
        "1.9.0",
        "1.9.0-rc.1",
        "1.2.0",
        "1.0.0",
        "1.0.0-rc.1",
        "1.0.0-beta.11",
        "1.0.0-beta.2",
        "1.0.0-beta",
        "1.0.0-alpha.beta",
        "1.0.0-alpha.1",
        "1.0.0-alpha",
    ]
    assert listed == expected


def test_versions_list_items_are_summaries(any_client: SpokeClient) -> None:
    push_ok(any_client, "common", "1.0.0")
    push(any_client, "acme", "1.0.0", FILES, ["common@1.0.0"])

    result = any_client.simulate_get(f"{API}/modules/acme/versions")

    assert result.status_code == 200
    assert result.headers["x-total-count"] == "1"
    (summary,) = result.json
    assert set(summary) == {
        "module_name",
        "version",
        "created_at",
        "fingerprint",
        "file_count",
        "dependencies",
    }
    assert summary["file_count"] == 2
    assert summary["dependencies"] == ["common@1.0.0"]


def test_versions_list_of_unknown_module_is_404(any_client: SpokeClient) -> None:
    assert_error(any_client.simulate_get(f"{API}/modules/nope/versions"), 404, "module_not_found")


def test_failed_push_stores_no_blob(app, client: SpokeClient) -> None:  # type: ignore[no-untyped-def]
    create_module(client, "acme")
    broken = {"acme/v1/a.proto": 'syntax = "proto3";\nmessage A { int32 x = 1 }\n'}

    assert_error(push(client, "acme", "1.0.0", broken, create=False), 422, "invalid_schema")

    assert blob_digests(app) == set()
    assert version_names(client, "acme") == []


# Fingerprint ---------------------------------------------------------------------------------

CANONICAL = """\
syntax = "proto3";

package shop.v1;

import "google/protobuf/timestamp.proto";

message Item {
  string sku = 1;
  int64 price_cents = 2;
  google.protobuf.Timestamp added = 3;
  repeated string tags = 4;
}

enum Color {
  COLOR_UNSPECIFIED = 0;
  COLOR_RED = 1;
}
"""

REFORMATTED = """\
// Shop items.
// Author: someone.
syntax="proto3";
package   shop.v1;
import "google/protobuf/timestamp.proto";  // for `added`

/* An item
   in the shop. */
message Item{string sku=1;  // the SKU
    int64 price_cents   =   2;
  google.protobuf.Timestamp added = 3;


        repeated   string tags = 4;   }
enum Color { COLOR_UNSPECIFIED = 0; /* none */ COLOR_RED = 1; }
"""

PATH = "shop/v1/item.proto"


def test_reformatted_schema_with_comments_has_the_same_fingerprint(
    any_client: SpokeClient,
) -> None:
    first = push(any_client, "shop", "1.0.0", {PATH: CANONICAL})
    second = push(any_client, "shop-copy", "3.1.4", {PATH: REFORMATTED})

    assert first.status_code == second.status_code == 201, second.text
    assert first.json["fingerprint"] == second.json["fingerprint"]
    # Same schema, different text: the file digests differ, the fingerprint does not.
    assert first.json["files"][0]["sha256"] != second.json["files"][0]["sha256"]


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("string sku = 1;", "string stock_keeping_unit = 1;"),  # renamed field
        ("string sku = 1;", "string sku = 5;"),  # renumbered field
        ("int64 price_cents = 2;", "int32 price_cents = 2;"),  # retyped field
        ("package shop.v1;", "package shop.v2;"),  # another package
        ("COLOR_RED = 1;", "COLOR_RED = 1;\n  COLOR_BLUE = 2;"),  # added value
    ],
)
def test_a_schema_change_changes_the_fingerprint(client: SpokeClient, old: str, new: str) -> None:
    assert old in CANONICAL
    create_module(client, "shop", compatibility={"mode": "NONE"})  # these changes are breaking
    first = push(client, "shop", "1.0.0", {PATH: CANONICAL})
    second = push(client, "shop", "1.0.1", {PATH: CANONICAL.replace(old, new)})

    assert first.status_code == second.status_code == 201, second.text
    assert first.json["fingerprint"] != second.json["fingerprint"]


def test_fingerprint_does_not_depend_on_file_order(client: SpokeClient) -> None:
    first = push(client, "acme", "1.0.0", FILES)
    second = push(client, "acme-copy", "1.0.0", dict(reversed(list(FILES.items()))))

    assert first.json["fingerprint"] == second.json["fingerprint"]
