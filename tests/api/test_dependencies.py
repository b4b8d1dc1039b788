"""Dependencies between versions: pins, import resolution, graph queries, descriptor sets."""

from __future__ import annotations

import pytest
from google.protobuf import descriptor_pb2  # type: ignore[import-untyped, unused-ignore]

from .conftest import (
    API,
    SpokeClient,
    assert_error,
    blob_digests,
    create_module,
    message,
    proto,
    push,
    push_ok,
    version_names,
)

COMMON = {
    "common/v1/money.proto": proto("common.v1", message("Money", "int64 cents", "string currency"))
}
BILLING = {
    "billing/v1/invoice.proto": proto(
        "billing.v1",
        message("Invoice", "string id", "common.v1.Money total", "google.protobuf.Timestamp due"),
        imports=["common/v1/money.proto", "google/protobuf/timestamp.proto"],
    )
}


def versions_url(module: str, version: str) -> str:
    return f"{API}/modules/{module}/versions/{version}"


def refs(result: object) -> list[str]:
    body = result.json  # type: ignore[attr-defined]
    assert all(set(item) == {"module", "version"} for item in body), body
    return [f"{item['module']}@{item['version']}" for item in body]


def test_push_with_a_dependency_resolves_its_imports(any_client: SpokeClient) -> None:
    push_ok(any_client, "common", "1.0.0", COMMON)

    result = push(any_client, "billing", "1.0.0", BILLING, ["common@1.0.0"])

    assert result.status_code == 201, result.text
    assert result.json["dependencies"] == ["common@1.0.0"]
    # The dependency's files are not copied into the version.
    assert [f["path"] for f in result.json["files"]] == ["billing/v1/invoice.proto"]


def test_dependency_pin_with_v_prefix_is_normalized(client: SpokeClient) -> None:
    push_ok(client, "common", "1.0.0", COMMON)

    result = push(client, "billing", "1.0.0", BILLING, ["common@v1.0.0"])

    assert result.status_code == 201, result.text
    assert result.json["dependencies"] == ["common@1.0.0"]


def test_import_without_the_dependency_is_422_unresolved_import(any_client: SpokeClient) -> None:
    push_ok(any_client, "common", "1.0.0", COMMON)
    create_module(any_client, "billing")

    result = push(any_client, "billing", "1.0.0", BILLING, create=False)

    body = assert_error(result, 422, "unresolved_import")
    assert "common/v1/money.proto" in body["error"]
    assert "billing/v1/invoice.proto" in body["error"]
    assert body["details"]["unresolved_imports"] == [
        {"file": "billing/v1/invoice.proto", "import": "common/v1/money.proto"}
    ]
    assert body["details"]["errors"], body
    assert version_names(any_client, "billing") == []


def test_import_of_a_file_the_dependency_does_not_have_is_422(client: SpokeClient) -> None:
    push_ok(client, "common", "1.0.0", COMMON)
    files = {
        "billing/v1/x.proto": proto(
            "billing.v1", message("X", "string id"), imports=["common/v1/nothere.proto"]
        )
    }

    result = push(client, "billing", "1.0.0", files, ["common@1.0.0"])

    body = assert_error(result, 422, "unresolved_import")
    assert "common/v1/nothere.proto" in body["error"]
    assert "billing/v1/x.proto" in body["error"]


def test_a_transitive_dependency_is_importable(client: SpokeClient) -> None:
    """A pins B, B pins C: A may import C's files (the compile sees the whole tree)."""
    push_ok(client, "common", "1.0.0", COMMON)
    push_ok(client, "billing", "1.0.0", BILLING, ["common@1.0.0"])
    files = {
        "shop/v1/cart.proto": proto(
            "shop.v1",
            message("Cart", "billing.v1.Invoice invoice", "common.v1.Money tip"),
            imports=["billing/v1/invoice.proto", "common/v1/money.proto"],
        )
    }

    result = push(client, "shop", "1.0.0", files, ["billing@1.0.0"])

    assert result.status_code == 201, result.text


@pytest.mark.parametrize(
    "dependency",
    ["ghost@1.0.0", "common@9.9.9", "common@1.0.0-rc.1"],
)
def test_a_dependency_that_does_not_exist_is_422_dependency_not_found(
    client: SpokeClient, dependency: str
) -> None:
    push_ok(client, "common", "1.0.0", COMMON)
    create_module(client, "billing")

    result = push(client, "billing", "1.0.0", BILLING, [dependency], create=False)

    body = assert_error(result, 422, "dependency_not_found")
    assert body["details"]["dependency"] == dependency
    assert version_names(client, "billing") == []


def test_pinning_latest_is_422_invalid_dependency(client: SpokeClient) -> None:
    push_ok(client, "common", "1.0.0", COMMON)
    create_module(client, "billing")

    result = push(client, "billing", "1.0.0", BILLING, ["common@latest"], create=False)

    assert_error(result, 422, "invalid_dependency")
    assert version_names(client, "billing") == []


def test_self_dependency_is_422_invalid_dependency(client: SpokeClient) -> None:
    push_ok(client, "common", "1.0.0", COMMON)

    result = push(client, "common", "1.1.0", COMMON, ["common@1.0.0"])

    assert_error(result, 422, "invalid_dependency")
    assert version_names(client, "common") == ["1.0.0"]


@pytest.mark.parametrize(
    ("pin", "codes"),
    [
        ("common", {"invalid_dependency"}),
        ("common@1.0.0@x", {"invalid_dependency"}),
        ("@1.0.0", {"invalid_name"}),
        ("common@", {"invalid_version"}),
        ("common@1.0", {"invalid_version"}),
        ("Common@1.0.0", {"invalid_name"}),
        ("../common@1.0.0", {"invalid_name"}),
        ("", {"invalid_dependency"}),
        (5, {"invalid_dependency"}),
        (None, {"invalid_dependency"}),
        ({"module": "common", "version": "1.0.0"}, {"invalid_dependency"}),
    ],
)
def test_a_malformed_pin_is_422(client: SpokeClient, pin: object, codes: set[str]) -> None:
    push_ok(client, "common", "1.0.0", COMMON)
    create_module(client, "billing")

    result = push(client, "billing", "1.0.0", BILLING, [pin], create=False)  # type: ignore[list-item]

    assert_error(result, 422, codes)
    assert version_names(client, "billing") == []


@pytest.mark.parametrize("dependencies", ["common@1.0.0", {"common": "1.0.0"}, 5])
def test_dependencies_that_are_not_a_list_are_400(
    client: SpokeClient, dependencies: object
) -> None:
    push_ok(client, "common", "1.0.0", COMMON)
    create_module(client, "billing")

    result = push(client, "billing", "1.0.0", BILLING, create=False, dependencies=dependencies)

    assert_error(result, 400, "invalid_request")
    assert version_names(client, "billing") == []


def test_the_same_module_pinned_twice_is_422_invalid_dependency(client: SpokeClient) -> None:
    push_ok(client, "common", "1.0.0", COMMON)
    push_ok(client, "common", "1.1.0", COMMON)
    create_module(client, "billing")

    result = push(
        client, "billing", "1.0.0", BILLING, ["common@1.0.0", "common@1.1.0"], create=False
    )

    assert_error(result, 422, "invalid_dependency")
    assert version_names(client, "billing") == []


def test_the_same_pin_listed_twice_is_400_as_the_spec_excludes_it(client: SpokeClient) -> None:
    push_ok(client, "common", "1.0.0", COMMON)
    create_module(client, "billing")

    result = push(
        client, "billing", "1.0.0", BILLING, ["common@1.0.0", "common@1.0.0"], create=False
    )

    assert_error(result, 400, "invalid_request")
    assert version_names(client, "billing") == []


def test_two_spellings_of_one_pin_are_422_the_module_pinned_twice(client: SpokeClient) -> None:
    """The spec allows distinct strings (uniqueItems); that they name one pin is semantic."""
    push_ok(client, "common", "1.0.0", COMMON)
    create_module(client, "billing")

    result = push(
        client, "billing", "1.0.0", BILLING, ["common@1.0.0", "common@v1.0.0"], create=False
    )

    assert_error(result, 422, "invalid_dependency")
    assert version_names(client, "billing") == []


SHARED = "shared/v1/types.proto"


def test_two_dependencies_with_one_path_and_different_content_is_422_dependency_conflict(
    app,
    client: SpokeClient,  # type: ignore[no-untyped-def]
) -> None:
    push_ok(client, "left", "1.0.0", {SHARED: proto("shared.v1", message("T", "string a"))})
    push_ok(client, "right", "1.0.0", {SHARED: proto("shared.v1", message("T", "int64 b"))})
    create_module(client, "app")
    before = blob_digests(app)
    files = {"app/v1/a.proto": proto("app.v1", message("A", "shared.v1.T t"), imports=[SHARED])}

    result = push(client, "app", "1.0.0", files, ["left@1.0.0", "right@1.0.0"], create=False)

    body = assert_error(result, 422, "dependency_conflict")
    assert body["details"]["path"] == SHARED
    assert sorted(body["details"]["dependencies"]) == ["left@1.0.0", "right@1.0.0"]
    assert version_names(client, "app") == []
    assert blob_digests(app) == before


def test_two_dependencies_with_one_path_and_the_same_content_are_fine(client: SpokeClient) -> None:
    same = {SHARED: proto("shared.v1", message("T", "string a"))}
    push_ok(client, "left", "1.0.0", same)
    push_ok(client, "right", "1.0.0", same)
    files = {"app/v1/a.proto": proto("app.v1", message("A", "shared.v1.T t"), imports=[SHARED])}

    result = push(client, "app", "1.0.0", files, ["left@1.0.0", "right@1.0.0"])

    assert result.status_code == 201, result.text


def test_a_file_shadowing_a_dependency_path_is_422_invalid_path(client: SpokeClient) -> None:
    push_ok(client, "common", "1.0.0", COMMON)
    create_module(client, "billing")
    shadow = {"common/v1/money.proto": proto("common.v1", message("Money", "double amount"))}

    result = push(client, "billing", "1.0.0", shadow, ["common@1.0.0"], create=False)

    body = assert_error(result, 422, "invalid_path")
    assert body["details"]["path"] == "common/v1/money.proto"
    assert version_names(client, "billing") == []


@pytest.mark.parametrize(
    "path",
    ["google/protobuf/timestamp.proto", "google/protobuf/descriptor.proto"],
)
def test_a_file_named_like_a_well_known_type_is_422_invalid_path(
    client: SpokeClient, path: str
) -> None:
    create_module(client, "acme")

    result = push(
        client,
        "acme",
        "1.0.0",
        {path: proto("google.protobuf", message("Timestamp", "int64 s"))},
        create=False,
    )

    body = assert_error(result, 422, "invalid_path")
    assert body["details"]["path"] == path
    assert version_names(client, "acme") == []


# The dependency graph --------------------------------------------------------------------------


def diamond(client: SpokeClient) -> None:
    """A -> B, C; B -> D; C -> D (and E -> A, to have a second level of dependents)."""
    d = {"d/d.proto": proto("d", message("D", "string id"))}
    b = {"b/b.proto": proto("b", message("B", "d.D d"), imports=["d/d.proto"])}
    c = {"c/c.proto": proto("c", message("C", "d.D d"), imports=["d/d.proto"])}
    a = {
        "a/a.proto": proto("a", message("A", "b.B b", "c.C c"), imports=["b/b.proto", "c/c.proto"])
    }
    e = {"e/e.proto": proto("e", message("E", "a.A a"), imports=["a/a.proto"])}
    push_ok(client, "d", "1.0.0", d)
    push_ok(client, "b", "1.0.0", b, ["d@1.0.0"])
    push_ok(client, "c", "1.0.0", c, ["d@1.0.0"])
    push_ok(client, "a", "1.0.0", a, ["c@1.0.0", "b@1.0.0"])
    push_ok(client, "e", "1.0.0", e, ["a@1.0.0"])


def test_dependencies_lists_direct_pins(any_client: SpokeClient) -> None:
    diamond(any_client)

    result = any_client.simulate_get(f"{versions_url('a', '1.0.0')}/dependencies")

    assert result.status_code == 200
    assert sorted(refs(result)) == ["b@1.0.0", "c@1.0.0"]
    assert refs(any_client.simulate_get(f"{versions_url('d', '1.0.0')}/dependencies")) == []


def test_transitive_dependencies_are_in_topological_order(any_client: SpokeClient) -> None:
    diamond(any_client)

    result = any_client.simulate_get(f"{versions_url('a', '1.0.0')}/dependencies/transitive")

    assert result.status_code == 200
    order = refs(result)
    assert sorted(order) == ["b@1.0.0", "c@1.0.0", "d@1.0.0"]
    assert order.index("d@1.0.0") < order.index("b@1.0.0")
    assert order.index("d@1.0.0") < order.index("c@1.0.0")

    from_e = refs(any_client.simulate_get(f"{versions_url('e', '1.0.0')}/dependencies/transitive"))
    assert sorted(from_e) == ["a@1.0.0", "b@1.0.0", "c@1.0.0", "d@1.0.0"]
    for dependent, dependency in [("a", "b"), ("a", "c"), ("b", "d"), ("c", "d")]:
        assert from_e.index(f"{dependency}@1.0.0") < from_e.index(f"{dependent}@1.0.0"), from_e


def test_transitive_dependencies_are_the_same_on_every_call(client: SpokeClient) -> None:
    diamond(client)
    url = f"{versions_url('e', '1.0.0')}/dependencies/transitive"
    assert client.simulate_get(url).json == client.simulate_get(url).json


def test_dependents_are_transitive_by_default(any_client: SpokeClient) -> None:
    diamond(any_client)

    result = any_client.simulate_get(f"{versions_url('d', '1.0.0')}/dependents")

    assert result.status_code == 200
    assert sorted(refs(result)) == ["a@1.0.0", "b@1.0.0", "c@1.0.0", "e@1.0.0"]


def test_dependents_direct_only(any_client: SpokeClient) -> None:
    diamond(any_client)

    result = any_client.simulate_get(
        f"{versions_url('d', '1.0.0')}/dependents", params={"direct": "true"}
    )

    assert sorted(refs(result)) == ["b@1.0.0", "c@1.0.0"]
    top = any_client.simulate_get(f"{versions_url('e', '1.0.0')}/dependents")
    assert refs(top) == []


def test_dependents_of_another_version_are_separate(client: SpokeClient) -> None:
    diamond(client)
    push_ok(client, "d", "2.0.0", {"d/d.proto": proto("d", message("D", "string id"))})

    result = client.simulate_get(f"{versions_url('d', '2.0.0')}/dependents")

    assert refs(result) == []


@pytest.mark.parametrize("suffix", ["dependencies", "dependencies/transitive", "dependents"])
def test_graph_routes_of_unknown_versions_are_404(client: SpokeClient, suffix: str) -> None:
    push_ok(client, "d", "1.0.0", {"d/d.proto": proto("d", message("D", "string id"))})

    assert_error(
        client.simulate_get(f"{versions_url('d', '9.0.0')}/{suffix}"), 404, "version_not_found"
    )
    assert_error(
        client.simulate_get(f"{versions_url('zz', '1.0.0')}/{suffix}"), 404, "module_not_found"
    )


@pytest.mark.parametrize("suffix", ["dependencies", "dependencies/transitive", "dependents"])
def test_graph_routes_accept_latest(client: SpokeClient, suffix: str) -> None:
    diamond(client)
    exact = client.simulate_get(f"{versions_url('a', '1.0.0')}/{suffix}")
    latest = client.simulate_get(f"{versions_url('a', 'latest')}/{suffix}")
    assert latest.status_code == 200
    assert latest.json == exact.json


# Descriptor sets ---------------------------------------------------------------------------------


def descriptor_set(result: object) -> descriptor_pb2.FileDescriptorSet:
    parsed = descriptor_pb2.FileDescriptorSet()
    parsed.ParseFromString(result.content)  # type: ignore[attr-defined]
    return parsed


def test_descriptor_is_a_file_descriptor_set_with_imports(any_client: SpokeClient) -> None:
    push_ok(any_client, "common", "1.0.0", COMMON)
    push_ok(any_client, "billing", "1.0.0", BILLING, ["common@1.0.0"])

    result = any_client.simulate_get(f"{versions_url('billing', '1.0.0')}/descriptor")

    assert result.status_code == 200
    assert result.headers["content-type"] == "application/x-protobuf"
    files = {f.name: f for f in descriptor_set(result).file}
    assert set(files) == {
        "billing/v1/invoice.proto",
        "common/v1/money.proto",
        "google/protobuf/timestamp.proto",
    }
    invoice = files["billing/v1/invoice.proto"]
    assert invoice.package == "billing.v1"
    assert [m.name for m in invoice.message_type] == ["Invoice"]
    assert list(invoice.dependency) == [
        "common/v1/money.proto",
        "google/protobuf/timestamp.proto",
    ]
    # Imports come before the files that import them.
    names = [f.name for f in descriptor_set(result).file]
    assert names.index("common/v1/money.proto") < names.index("billing/v1/invoice.proto")


def test_descriptor_of_a_transitive_tree_has_every_file(client: SpokeClient) -> None:
    diamond(client)

    result = client.simulate_get(f"{versions_url('e', '1.0.0')}/descriptor")

    names = {f.name for f in descriptor_set(result).file}
    assert names == {"a/a.proto", "b/b.proto", "c/c.proto", "d/d.proto", "e/e.proto"}


def test_descriptor_has_a_download_name(client: SpokeClient) -> None:
    push_ok(client, "common", "1.0.0", COMMON)

    result = client.simulate_get(f"{versions_url('common', '1.0.0')}/descriptor")

    assert "common-1.0.0.binpb" in result.headers.get("content-disposition", "")


def test_descriptor_keeps_comments_as_source_info(client: SpokeClient) -> None:
    files = {
        "doc/v1/a.proto": 'syntax = "proto3";\npackage doc.v1;\n// The answer.\nmessage A {}\n'
    }
    push_ok(client, "doc", "1.0.0", files)

    result = client.simulate_get(f"{versions_url('doc', '1.0.0')}/descriptor")

    (file,) = descriptor_set(result).file
    comments = [loc.leading_comments for loc in file.source_code_info.location]
    assert " The answer.\n" in comments
