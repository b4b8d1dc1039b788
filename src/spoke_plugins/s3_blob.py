"""The ``s3`` blob backend: content-addressed objects in an S3-compatible bucket, over s3fs.

Layout: ``<prefix>sha256/<first 2 hex>/<64 hex>`` (``SPOKE_S3_PREFIX`` gets a trailing ``/``
when it lacks one). Keys that do not have this shape are ignored by :meth:`iter_digests`, so the
bucket may hold other things under other prefixes.

* ``put`` skips the upload when the object exists with the right size (the key is the sha256 of
  the content). Otherwise it uploads with ``Content-MD5`` (the server refuses a body damaged in
  transit), then verifies: a HEAD must report the right size and, for blobs up to
  ``verify_read_max_bytes`` (8 MiB by default: every ``.proto`` and descriptor set), the object is
  read back and its sha256 compared. A failed verification raises ``BackendUnavailable`` and
  deletes nothing (a concurrent writer of the same key may own what is there).
* ``get`` checks the sha256 of what it read; a mismatch is corruption: ``BackendUnavailable``.
  A missing key is ``FileNotFoundError``.
* Transient failures (connection refused or reset, timeouts, HTTP 5xx, SlowDown/throttling) are
  retried with exponential backoff and full jitter, at most ``attempts`` times and
  ``max_retry_seconds`` of sleeping, then raise ``BackendUnavailable("s3: <reason>")``. Other
  4xx answers (AccessDenied, NoSuchBucket...) raise at once. Botocore's and s3fs's own retries are
  off, so these bounds are the only ones.
* Messages hold the bucket name and an error code, never credentials, the endpoint or a key.

One :class:`s3fs.S3FileSystem` per store (``skip_instance_cache=True``): its event loop runs the
requests of every thread, so the store is thread-safe. s3fs is imported when a store is created:
Spoke without the ``s3`` extra lists this backend as unusable and refuses it, with the install hint,
when it is chosen.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import random
import re
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, TypeVar

from spoke.errors import BackendUnavailable
from spoke.plugins import BlobBackend, hookimpl, missing_extra
from spoke.settings import Settings, SettingsError

__all__ = [
    "DEFAULT_ATTEMPTS",
    "DEFAULT_CONNECT_TIMEOUT",
    "DEFAULT_READ_TIMEOUT",
    "DEFAULT_VERIFY_READ_MAX_BYTES",
    "S3BlobStore",
    "create_s3_blob_store",
    "spoke_blob_backends",
]

DEFAULT_CONNECT_TIMEOUT = 5.0
DEFAULT_READ_TIMEOUT = 30.0
DEFAULT_ATTEMPTS = 4
DEFAULT_MAX_RETRY_SECONDS = 2.0
DEFAULT_VERIFY_READ_MAX_BYTES = 8 * 1024 * 1024
_BACKOFF_BASE = 0.1
_BACKOFF_CAP = 1.0
_MISSING_EXTRA = missing_extra("the s3 blob backend", "s3")
_DIGEST = re.compile(r"[0-9a-f]{64}")
_KEY = re.compile(r"sha256/([0-9a-f]{2})/([0-9a-f]{64})")
_NOT_FOUND_CODES = {"404", "NoSuchKey", "NotFound"}
_THROTTLING_CODES = {
    "SlowDown",
    "Throttling",
    "ThrottlingException",
    "RequestThrottled",
    "RequestLimitExceeded",
    "TooManyRequests",
    "RequestTimeout",
    "BadDigest",  # the body was damaged on the way: Content-MD5 did not match
    "XAmzContentSHA256Mismatch",
    "InternalError",
    "ServiceUnavailable",
}
_REASONS = {
    "AccessDenied": "access denied",
    "403": "access denied",
    "InvalidAccessKeyId": "the access key is not accepted",
    "SignatureDoesNotMatch": "the secret key is not accepted",
    "NoSuchBucket": "bucket does not exist",
}

T = TypeVar("T")


def _validate_digest(digest: str) -> str:
    if not isinstance(digest, str) or not _DIGEST.fullmatch(digest):
        raise ValueError("a blob digest is 64 lowercase hexadecimal characters")
    return digest


class _NotFound(Exception):
    """Internal: the object (not the bucket) does not exist."""


class _Permanent(Exception):
    """Internal: a failure retrying cannot fix; ``reason`` is safe to show."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class _Transient(Exception):
    """Internal: a failure worth retrying; ``reason`` is safe to show."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _classify(exc: BaseException, bucket: str) -> Exception:
    """Map a botocore/aiohttp/OS exception to ``_NotFound``, ``_Permanent`` or ``_Transient``.

    Reasons are built from error codes and exception class names only: botocore's messages
    quote the endpoint URL and the key.
    """
    response = getattr(exc, "response", None)
    if isinstance(response, dict):  # botocore ClientError: the server answered
        error = response.get("Error") or {}
        code = str(error.get("Code") or "")
        status = int((response.get("ResponseMetadata") or {}).get("HTTPStatusCode") or 0)
        if code == "NoSuchBucket":
            return _Permanent(f"bucket {bucket!r} does not exist")
        if code in _NOT_FOUND_CODES or (status == 404 and not code):
            return _NotFound(code)
        if status >= 500 or code in _THROTTLING_CODES or status == 429:
            return _Transient(f"{code or 'error'} (HTTP {status})")
        reason = _REASONS.get(code, code or "error")
        return _Permanent(f"{reason} (HTTP {status})")
    # Everything else happened on the way: refused or reset connections, timeouts, DNS.
    name = type(exc).__name__
    if isinstance(exc, asyncio.TimeoutError | TimeoutError) or "Timeout" in name:
        return _Transient(f"timed out ({name})")
    if isinstance(exc, OSError) or "Connection" in name or "Connect" in name:
        return _Transient(f"cannot connect ({name})")
    module = type(exc).__module__ or ""
    if module.startswith(("botocore", "aiobotocore", "aiohttp", "urllib3")):
        return _Transient(f"transport error ({name})")
    return _Permanent(f"unexpected error ({name})")


def _import_s3fs() -> Any:
    try:
        import s3fs
    except ImportError:
        raise SettingsError("SPOKE_BLOB_TYPE", _MISSING_EXTRA) from None
    return s3fs


class S3BlobStore:
    """Blobs as objects ``<prefix>sha256/<2 hex>/<64 hex>`` in one bucket. Thread-safe.

    ``connect_timeout``/``read_timeout`` bound each request, ``attempts`` and
    ``max_retry_seconds`` bound the retries of transient failures, ``verify_read_max_bytes`` is the
    largest blob read back after a write, ``list_page_size`` the keys asked per listing request
    (S3 answers at most 1000). ``sleep`` is how the store waits between attempts
    (tests pass a recorder).
    """

    def __init__(
        self,
        *,
        bucket: str,
        prefix: str = "",
        endpoint_url: str | None = None,
        region: str = "us-east-1",
        access_key: str | None = None,
        secret_key: str | None = None,
        path_style: bool = False,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
        read_timeout: float = DEFAULT_READ_TIMEOUT,
        attempts: int = DEFAULT_ATTEMPTS,
        max_retry_seconds: float = DEFAULT_MAX_RETRY_SECONDS,
        verify_read_max_bytes: int = DEFAULT_VERIFY_READ_MAX_BYTES,
        list_page_size: int = 1000,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if attempts < 1:
            raise ValueError("attempts must be at least 1")
        s3fs = _import_s3fs()
        import fsspec.asyn

        prefix = prefix.lstrip("/")
        if prefix and not prefix.endswith("/"):
            prefix += "/"
        self.bucket = bucket
        self.prefix = prefix
        self._attempts = attempts
        self._max_retry_seconds = max_retry_seconds
        self._verify_read_max_bytes = verify_read_max_bytes
        self._list_page_size = list_page_size
        self._sleep = sleep
        self._sync = fsspec.asyn.sync
        self._closed = False
        self._bucket_seen = False  # set once the bucket answered; never reset (buckets stay)
        self._fs = s3fs.S3FileSystem(
            key=access_key or None,
            secret=secret_key or None,
            endpoint_url=endpoint_url,
            client_kwargs={"region_name": region},
            config_kwargs={
                "s3": {"addressing_style": "path" if path_style else "virtual"},
                "connect_timeout": connect_timeout,
                "read_timeout": read_timeout,
                # One request per call: the retries below are the only ones.
                "retries": {"total_max_attempts": 1, "mode": "standard"},
                # Checksums only where S3 requires them: many S3-compatible servers refuse the
                # CRC32 headers newer botocore adds by default. Content-MD5 is sent by put.
                "request_checksum_calculation": "when_required",
                "response_checksum_validation": "when_required",
            },
            skip_instance_cache=True,
            use_listings_cache=False,
        )
        self._fs.retries = 1  # s3fs's own retry loop, off

    # -- plumbing -----------------------------------------------------------------------------

    def __repr__(self) -> str:
        return f"S3BlobStore(bucket={self.bucket!r}, prefix={self.prefix!r})"

    def _key(self, digest: str) -> str:
        _validate_digest(digest)
        return f"{self.prefix}sha256/{digest[:2]}/{digest}"

    async def _client(self) -> Any:
        await self._fs.set_session()
        return await self._fs.get_s3(self.bucket)

    def _once(self, make: Callable[[], Awaitable[T]]) -> T:
        """Run one request on the filesystem's loop; classify its failure."""
        if self._closed:
            raise BackendUnavailable("s3: the blob store is closed")

        async def run() -> T:
            return await make()

        try:
            result: T = self._sync(self._fs.loop, run)
        except Exception as exc:
            raise _classify(exc, self.bucket) from exc
        return result

    def _call(self, what: str, make: Callable[[], Awaitable[T]]) -> T:
        """``_once`` with retries of transient failures; raises ``_NotFound`` or
        ``BackendUnavailable``."""
        slept = 0.0
        for attempt in range(1, self._attempts + 1):
            try:
                return self._once(make)
            except _NotFound:
                raise
            except _Permanent as exc:
                raise BackendUnavailable(f"s3: {what}: {exc.reason}") from exc
            except _Transient as exc:
                delay = random.uniform(0, min(_BACKOFF_CAP, _BACKOFF_BASE * 2 ** (attempt - 1)))
                if attempt == self._attempts or slept + delay > self._max_retry_seconds:
                    raise BackendUnavailable(
                        f"s3: {what}: {exc.reason} after {attempt} attempt(s)"
                    ) from exc
                slept += delay
                self._sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover

    def _head(self, key: str) -> int | None:
        """The object's size, or None when it does not exist."""

        async def head() -> int:
            client = await self._client()
            response = await client.head_object(Bucket=self.bucket, Key=key)
            return int(response["ContentLength"])

        try:
            size = self._call("head", head)
        except _NotFound:
            # A HEAD has no body: a missing bucket is a bare 404 too. Tell them apart once.
            self._require_bucket()
            return None
        self._bucket_seen = True
        return size

    def _require_bucket(self) -> None:
        if self._bucket_seen:
            return

        async def head_bucket() -> None:
            client = await self._client()
            await client.head_bucket(Bucket=self.bucket)

        try:
            self._call("head bucket", head_bucket)
        except _NotFound as exc:
            raise BackendUnavailable(f"s3: bucket {self.bucket!r} does not exist") from exc
        self._bucket_seen = True

    def _read(self, key: str) -> bytes:
        """The object's bytes; raises ``_NotFound``."""

        async def read() -> bytes:
            client = await self._client()
            response = await client.get_object(Bucket=self.bucket, Key=key)
            async with response["Body"] as body:
                data: bytes = await body.read()
            return data

        return self._call("get", read)

    # -- BlobStore ----------------------------------------------------------------------------

    def put(self, *, data: bytes) -> str:
        data = bytes(data)
        digest = hashlib.sha256(data).hexdigest()
        key = self._key(digest)
        if self._head(key) == len(data):
            return digest  # content-addressed: the same key holds the same bytes
        md5 = base64.b64encode(hashlib.md5(data, usedforsecurity=False).digest()).decode()

        async def upload() -> None:
            client = await self._client()
            await client.put_object(
                Bucket=self.bucket,
                Key=key,
                Body=data,
                ContentMD5=md5,
                ContentType="application/octet-stream",
            )

        try:
            self._call("put", upload)
        except _NotFound as exc:
            raise BackendUnavailable("s3: put: the server answered 404") from exc
        size = self._head(key)
        if size != len(data):
            raise BackendUnavailable(
                f"s3: put: verification failed: stored size {size}, expected {len(data)}"
            )
        if len(data) <= self._verify_read_max_bytes:
            try:
                stored = self._read(key)
            except _NotFound as exc:
                raise BackendUnavailable("s3: put: verification failed: object vanished") from exc
            if hashlib.sha256(stored).hexdigest() != digest:
                raise BackendUnavailable("s3: put: verification failed: sha256 mismatch")
        return digest

    def get(self, *, digest: str) -> bytes:
        key = self._key(digest)
        try:
            data = self._read(key)
        except _NotFound:
            raise FileNotFoundError(f"blob {digest} not found") from None
        if hashlib.sha256(data).hexdigest() != digest:
            raise BackendUnavailable(f"s3: blob {digest[:12]} is corrupt (sha256 mismatch)")
        return data

    def exists(self, *, digest: str) -> bool:
        return self._head(self._key(digest)) is not None

    def iter_digests(self) -> Iterator[str]:
        root = f"{self.prefix}sha256/"
        token: str | None = None
        while True:

            async def page(token: str | None = token) -> dict[str, Any]:
                client = await self._client()
                kwargs: dict[str, Any] = {
                    "Bucket": self.bucket,
                    "Prefix": root,
                    "MaxKeys": self._list_page_size,
                }
                if token:
                    kwargs["ContinuationToken"] = token
                response: dict[str, Any] = await client.list_objects_v2(**kwargs)
                return response

            try:
                response = self._call("list", page)
            except _NotFound as exc:
                raise BackendUnavailable(f"s3: list: bucket {self.bucket!r} not found") from exc
            for item in response.get("Contents") or ():
                match = _KEY.fullmatch(str(item.get("Key", ""))[len(self.prefix) :])
                if match and match.group(2).startswith(match.group(1)):
                    yield match.group(2)
            token = response.get("NextContinuationToken")
            if not response.get("IsTruncated") or not token:
                return

    def check(self) -> None:
        async def head_bucket() -> None:
            client = await self._client()
            await client.head_bucket(Bucket=self.bucket)

        try:
            self._once(head_bucket)
        except _NotFound as exc:  # HEAD has no body, so a missing bucket is a bare 404
            raise BackendUnavailable(f"s3: bucket {self.bucket!r} does not exist") from exc
        except (_Permanent, _Transient) as exc:
            if self.bucket in exc.reason:  # NoSuchBucket names it already
                raise BackendUnavailable(f"s3: {exc.reason}") from exc
            raise BackendUnavailable(f"s3: bucket {self.bucket!r}: {exc.reason}") from exc

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        client = getattr(self._fs, "_s3", None)
        if client is None:
            return

        async def shut() -> None:
            await client.close()

        try:
            self._sync(self._fs.loop, shut, timeout=5)
        except Exception:  # closing is best effort; the sockets die with the process anyway
            return
        finally:
            self._fs._s3 = None


def create_s3_blob_store(settings: Settings) -> S3BlobStore:
    """The store the ``SPOKE_S3_*`` settings describe, with production timeouts
    (``SPOKE_S3_CONNECT_TIMEOUT``, ``SPOKE_S3_READ_TIMEOUT``, ``SPOKE_S3_MAX_ATTEMPTS``)."""
    if not settings.s3_bucket:
        raise SettingsError("SPOKE_S3_BUCKET", "must be set for the s3 blob backend")
    if bool(settings.s3_access_key) != bool(settings.s3_secret_key):
        raise SettingsError(
            "SPOKE_S3_SECRET_KEY" if settings.s3_access_key else "SPOKE_S3_ACCESS_KEY",
            "SPOKE_S3_ACCESS_KEY and SPOKE_S3_SECRET_KEY must be set together",
        )
    return S3BlobStore(
        bucket=settings.s3_bucket,
        prefix=settings.s3_prefix,
        endpoint_url=settings.s3_endpoint,
        region=settings.s3_region,
        access_key=settings.s3_access_key,
        secret_key=settings.s3_secret_key,
        path_style=settings.s3_use_path_style,
        connect_timeout=settings.s3_connect_timeout,
        read_timeout=settings.s3_read_timeout,
        attempts=settings.s3_max_attempts,
    )


@hookimpl
def spoke_blob_backends() -> list[BlobBackend]:
    """The ``s3`` blob backend (needs the ``s3`` extra when selected)."""
    return [
        BlobBackend(
            "s3",
            "Objects in an S3-compatible bucket (SPOKE_S3_*), verified on write and read.",
            create_s3_blob_store,
            requires=("fsspec", "s3fs"),
            extra="s3",
        )
    ]
