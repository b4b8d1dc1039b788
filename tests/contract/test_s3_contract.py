"""The ``s3`` blob backend against the blob contract, on moto over real HTTP.

Each test gets a fresh bucket. Needs ``scripts/services start s3`` (skipped locally otherwise,
failed under ``CI=true``).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from spoke.testing.contract import BlobStoreContract

pytestmark = pytest.mark.backend("s3")

_KEY = "AKIASPOKECONTRACTKEY"
_SECRET = "spoke-contract-secret"


@pytest.fixture
def _bucket(s3_endpoint: str) -> Iterator[str]:
    import boto3

    client: Any = boto3.client(
        "s3",
        endpoint_url=s3_endpoint,
        region_name="us-east-1",
        aws_access_key_id=_KEY,
        aws_secret_access_key=_SECRET,
    )
    name = f"spoke-contract-{uuid.uuid4().hex[:16]}"
    client.create_bucket(Bucket=name)
    yield name
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=name):
        for item in page.get("Contents", ()):
            client.delete_object(Bucket=name, Key=item["Key"])
    client.delete_bucket(Bucket=name)
    client.close()


class TestS3BlobStore(BlobStoreContract):
    @pytest.fixture(params=["", "spoke/blobs/"], ids=["no-prefix", "prefix"])
    def blob_store(
        self, request: pytest.FixtureRequest, s3_endpoint: str, _bucket: str
    ) -> Iterator[Any]:
        from spoke_plugins.s3_blob import S3BlobStore

        backend = S3BlobStore(
            bucket=_bucket,
            prefix=request.param,
            endpoint_url=s3_endpoint,
            access_key=_KEY,
            secret_key=_SECRET,
            path_style=True,
            connect_timeout=2.0,
            read_timeout=10.0,
        )
        yield backend
        backend.close()
