"""The ``s3`` blob backend on moto over real HTTP: layout, verification, failures, retries.

Needs ``scripts/services start s3`` (skipped locally otherwise, failed under ``CI=true``).
"""

from __future__ import annotations

import hashlib
import socket
import sys
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from spoke.errors import BackendUnavailable
from spoke.plugins import PluginRegistry
from spoke.settings import SettingsError, load_settings
from spoke_plugins import s3_blob
from spoke_plugins.s3_blob import S3BlobStore

pytestmark = pytest.mark.backend("s3")

MakeStore = Callable[..., S3BlobStore]
# The same values as the s3_credentials fixture (tests/backends is not a package).
S3_TEST_ACCESS_KEY = "AKIASPOKETESTACCESS1"
S3_TEST_SECRET_KEY = "spoke-test-secret-key-must-never-leak"
SECRETS = (S3_TEST_ACCESS_KEY, S3_TEST_SECRET_KEY)


def keys(client: Any, bucket: str) -> list[str]:
    return sorted(item["Key"] for item in client.list_objects_v2(Bucket=bucket).get("Contents", ()))


def closed_port() -> int:
    """A local port nothing listens on (connections are refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def assert_no_secret(message: str) -> None:
    for secret in SECRETS:
        assert secret not in message


# ---------------------------------------------------------------------------------------------
# Layout


@pytest.mark.parametrize("prefix", ["spoke/", "spoke", "/spoke/"])
def test_keys_are_prefix_sha256_fanout_digest(
    s3_store_factory: MakeStore, s3_client: Any, s3_bucket: str, prefix: str
) -> None:
    store = s3_store_factory(prefix=prefix)
    digest = store.put(data=b'syntax = "proto3";\n')

    assert keys(s3_client, s3_bucket) == [f"spoke/sha256/{digest[:2]}/{digest}"]
    stored = s3_client.get_object(Bucket=s3_bucket, Key=f"spoke/sha256/{digest[:2]}/{digest}")
    assert stored["Body"].read() == b'syntax = "proto3";\n'


def test_no_prefix_puts_keys_at_the_bucket_root(
    s3_store_factory: MakeStore, s3_client: Any, s3_bucket: str
) -> None:
    digest = s3_store_factory().put(data=b"root")
    assert keys(s3_client, s3_bucket) == [f"sha256/{digest[:2]}/{digest}"]


def test_iter_digests_ignores_other_keys_and_other_prefixes(
    s3_store_factory: MakeStore, s3_client: Any, s3_bucket: str
) -> None:
    store = s3_store_factory(prefix="spoke/")
    digest = store.put(data=b"mine")
    other = hashlib.sha256(b"other").hexdigest()
    for key in (
        "spoke/README.txt",
        "spoke/sha256/zz/not-a-digest",
        f"spoke/sha256/00/{other}",  # wrong fan-out directory
        f"spoke/sha256/{other[:2]}/{other}.tmp",
        f"elsewhere/sha256/{other[:2]}/{other}",
    ):
        s3_client.put_object(Bucket=s3_bucket, Key=key, Body=b"x")

    assert list(store.iter_digests()) == [digest]
    assert list(s3_store_factory(prefix="elsewhere/").iter_digests()) == [other]


def test_iter_digests_pages_through_long_listings(
    s3_store_factory: MakeStore, s3_client: Any, s3_bucket: str
) -> None:
    expected = set()
    for i in range(25):
        data = f"blob {i}".encode()
        digest = hashlib.sha256(data).hexdigest()
        expected.add(digest)
        s3_client.put_object(Bucket=s3_bucket, Key=f"sha256/{digest[:2]}/{digest}", Body=data)

    listed = list(s3_store_factory(list_page_size=7).iter_digests())  # four pages
    assert len(listed) == 25
    assert set(listed) == expected


def test_digests_are_validated_before_building_keys(s3_store_factory: MakeStore) -> None:
    store = s3_store_factory()
    for bad in ("", "../etc/passwd", "A" * 64, "0" * 63, "g" * 64, "0" * 64 + "/x"):
        with pytest.raises(ValueError):
            store.get(digest=bad)
        with pytest.raises(ValueError):
            store.exists(digest=bad)


# ---------------------------------------------------------------------------------------------
# Verification


def test_a_corrupted_object_is_backend_unavailable_on_read(
    s3_store_factory: MakeStore, s3_client: Any, s3_bucket: str
) -> None:
    store = s3_store_factory()
    digest = store.put(data=b"the real content")
    s3_client.put_object(Bucket=s3_bucket, Key=f"sha256/{digest[:2]}/{digest}", Body=b"rotten!")

    with pytest.raises(BackendUnavailable, match="corrupt") as caught:
        store.get(digest=digest)
    assert caught.value.status == 503
    assert_no_secret(str(caught.value))


def test_put_replaces_an_object_of_the_wrong_size(
    s3_store_factory: MakeStore, s3_client: Any, s3_bucket: str
) -> None:
    data = b"complete content"
    digest = hashlib.sha256(data).hexdigest()
    s3_client.put_object(Bucket=s3_bucket, Key=f"sha256/{digest[:2]}/{digest}", Body=b"trunc")
    store = s3_store_factory()

    assert store.put(data=data) == digest
    assert store.get(digest=digest) == data


def test_put_skips_the_upload_when_the_object_is_there(
    s3_store_factory: MakeStore, s3_client: Any, s3_bucket: str
) -> None:
    store = s3_store_factory()
    digest = store.put(data=b"once")
    key = f"sha256/{digest[:2]}/{digest}"
    before = s3_client.head_object(Bucket=s3_bucket, Key=key)["LastModified"]

    assert store.put(data=b"once") == digest
    assert s3_client.head_object(Bucket=s3_bucket, Key=key)["LastModified"] == before


def test_a_failed_read_back_verification_raises_and_deletes_nothing(
    s3_store_factory: MakeStore, s3_client: Any, s3_bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = s3_store_factory()
    s3_client.put_object(Bucket=s3_bucket, Key="unrelated", Body=b"keep me")
    monkeypatch.setattr(store, "_read", lambda key: b"something else entirely")

    with pytest.raises(BackendUnavailable, match="verification failed"):
        store.put(data=b"payload")
    digest = hashlib.sha256(b"payload").hexdigest()
    assert keys(s3_client, s3_bucket) == [f"sha256/{digest[:2]}/{digest}", "unrelated"]


def test_big_blobs_are_verified_by_size_only(
    s3_store_factory: MakeStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = s3_store_factory(verify_read_max_bytes=10)
    reads: list[str] = []
    original = store._read
    monkeypatch.setattr(store, "_read", lambda key: reads.append(key) or original(key))

    digest = store.put(data=b"more than ten bytes")
    assert reads == []
    assert store.get(digest=digest) == b"more than ten bytes"


# ---------------------------------------------------------------------------------------------
# Failures


def test_missing_bucket_fails_check_naming_the_bucket(
    s3_store_factory: MakeStore, s3_endpoint: str
) -> None:
    store = s3_store_factory(bucket="spoke-no-such-bucket")

    with pytest.raises(BackendUnavailable) as caught:
        store.check()
    message = str(caught.value)
    assert "spoke-no-such-bucket" in message
    assert message.startswith("s3: ")
    assert_no_secret(message)
    assert s3_endpoint not in message

    for call in (
        lambda: store.exists(digest="0" * 64),
        lambda: store.put(data=b"x"),
        lambda: store.get(digest=hashlib.sha256(b"x").hexdigest()),
        lambda: list(store.iter_digests()),
    ):
        with pytest.raises(BackendUnavailable) as failed:
            call()
        assert_no_secret(str(failed.value))


def test_check_passes_on_an_existing_bucket(s3_store_factory: MakeStore) -> None:
    s3_store_factory().check()


def test_credentials_appear_in_no_message_or_repr(
    s3_store_factory: MakeStore, s3_credentials: tuple[str, str]
) -> None:
    assert s3_credentials == SECRETS
    port = closed_port()
    store = s3_store_factory(endpoint_url=f"http://127.0.0.1:{port}", sleep=lambda _: None)
    messages = [repr(store)]
    for call in (
        store.check,
        lambda: store.put(data=b"x"),
        lambda: store.get(digest="0" * 64),
        lambda: store.exists(digest="0" * 64),
    ):
        with pytest.raises(BackendUnavailable) as caught:
            call()
        messages.append(str(caught.value))
        messages.append(repr(caught.value.to_dict()))
    for message in messages:
        assert_no_secret(message)
        assert f":{port}" not in message  # botocore's own messages quote the endpoint URL


def test_closed_store_refuses_work(s3_store_factory: MakeStore) -> None:
    store = s3_store_factory()
    store.close()
    store.close()
    with pytest.raises(BackendUnavailable):
        store.exists(digest="0" * 64)


# ---------------------------------------------------------------------------------------------
# Retries


def test_refused_connections_are_retried_a_bounded_number_of_times(
    s3_store_factory: MakeStore,
) -> None:
    sleeps: list[float] = []
    store = s3_store_factory(
        endpoint_url=f"http://127.0.0.1:{closed_port()}", attempts=4, sleep=sleeps.append
    )

    with pytest.raises(BackendUnavailable, match=r"cannot connect .* after 4 attempt") as caught:
        store.get(digest="0" * 64)
    assert len(sleeps) == 3  # four attempts, three waits between them
    assert all(0 <= delay <= 1.0 for delay in sleeps)
    assert caught.value.message.startswith("s3: get: ")


def test_total_backoff_is_bounded(s3_store_factory: MakeStore) -> None:
    sleeps: list[float] = []
    store = s3_store_factory(
        endpoint_url=f"http://127.0.0.1:{closed_port()}",
        attempts=50,
        max_retry_seconds=0.5,
        sleep=sleeps.append,
    )
    with pytest.raises(BackendUnavailable):
        store.exists(digest="0" * 64)
    assert sum(sleeps) <= 0.5
    assert len(sleeps) < 49


def _client_error(code: str, status: int) -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": "m"}, "ResponseMetadata": {"HTTPStatusCode": status}},
        "HeadObject",
    )


@pytest.mark.parametrize(
    ("code", "status", "calls"),
    [
        ("AccessDenied", 403, 1),
        ("InvalidAccessKeyId", 403, 1),
        ("NoSuchBucket", 404, 1),
        ("SlowDown", 503, 4),
        ("InternalError", 500, 4),
        ("", 502, 4),
        ("Throttling", 400, 4),
        ("BadDigest", 400, 4),
        ("InvalidArgument", 400, 1),
    ],
)
def test_which_server_errors_are_retried(
    s3_store_factory: MakeStore, code: str, status: int, calls: int
) -> None:
    store = s3_store_factory(attempts=4, sleep=lambda _: None)
    made: list[int] = []

    async def failing() -> None:
        made.append(1)
        raise _client_error(code, status)

    with pytest.raises(BackendUnavailable) as caught:
        store._call("head", failing)
    assert len(made) == calls
    assert caught.value.status == 503


# ---------------------------------------------------------------------------------------------
# Plugin and settings


def test_plugin_provides_the_s3_blob_backend(s3_endpoint: str, s3_bucket: str) -> None:
    registry = PluginRegistry()
    registry.register(s3_blob, name="s3")
    catalog = registry.catalog()
    assert catalog.names("blob") == ["s3"]
    assert not catalog.failures

    settings = load_settings(
        {
            "SPOKE_S3_BUCKET": s3_bucket,
            "SPOKE_S3_ENDPOINT": s3_endpoint,
            "SPOKE_S3_PREFIX": "team-a",
            "SPOKE_S3_ACCESS_KEY": S3_TEST_ACCESS_KEY,
            "SPOKE_S3_SECRET_KEY": S3_TEST_SECRET_KEY,
            "SPOKE_S3_USE_PATH_STYLE": "true",
        }
    )
    assert settings.effective_blob_type == "s3"
    store = catalog.blob_backend("s3").factory(settings)
    try:
        assert isinstance(store, S3BlobStore)
        assert (store.bucket, store.prefix) == (s3_bucket, "team-a/")
        store.check()
        digest = store.put(data=b"via settings")
        assert store.get(digest=digest) == b"via settings"
    finally:
        store.close()


def test_factory_needs_a_bucket() -> None:
    with pytest.raises(SettingsError, match="SPOKE_S3_BUCKET"):
        s3_blob.create_s3_blob_store(load_settings({"SPOKE_BLOB_TYPE": "s3"}))


def test_factory_needs_both_keys_or_neither() -> None:
    settings = load_settings({"SPOKE_S3_BUCKET": "spoke-blobs", "SPOKE_S3_ACCESS_KEY": "AKIAX"})
    with pytest.raises(SettingsError, match="together"):
        s3_blob.create_s3_blob_store(settings)


def test_without_the_s3_extra_the_plugin_lists_and_fails_clearly(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "s3fs", None)  # import s3fs now raises ImportError
    registry = PluginRegistry()
    registry.register(s3_blob, name="s3")
    assert registry.catalog().names("blob") == ["s3"]

    with pytest.raises(SettingsError, match=r"pip install 'spoke\[s3\]'"):
        s3_blob.create_s3_blob_store(load_settings({"SPOKE_S3_BUCKET": "spoke-blobs"}))


def test_factory_reads_the_plugin_options(s3_bucket: str, s3_endpoint: str) -> None:
    settings = load_settings(
        {
            "SPOKE_S3_BUCKET": s3_bucket,
            "SPOKE_S3_ENDPOINT": s3_endpoint,
            "SPOKE_S3_USE_PATH_STYLE": "1",
            "SPOKE_S3_CONNECT_TIMEOUT": "2s",
            "SPOKE_S3_READ_TIMEOUT": "500ms",
            "SPOKE_S3_MAX_ATTEMPTS": "2",
        }
    )
    store = s3_blob.create_s3_blob_store(settings)
    try:
        assert store._attempts == 2
        assert store._fs.config_kwargs["connect_timeout"] == 2.0
        assert store._fs.config_kwargs["read_timeout"] == 0.5
    finally:
        store.close()


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("SPOKE_S3_CONNECT_TIMEOUT", "soon"),
        ("SPOKE_S3_READ_TIMEOUT", "0"),
        ("SPOKE_S3_MAX_ATTEMPTS", "0"),
        ("SPOKE_S3_MAX_ATTEMPTS", "many"),
    ],
)
def test_bad_plugin_options_are_refused_with_the_settings(variable: str, value: str) -> None:
    # The plugin's options are in the settings table: a bad one stops load_settings already.
    with pytest.raises(SettingsError) as caught:
        load_settings({"SPOKE_S3_BUCKET": "spoke-blobs", variable: value})
    assert caught.value.variable == variable
