"""Fixtures that hand the same tests every `BlobStore` backend.

SeaweedFS starts once per session and only when an S3 test asks for it; each S3 test gets its
own key prefix in the shared bucket, so tests cannot see each other's blobs.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from repohub.config import Settings
from repohub.objects.blobstore import BlobStore
from repohub.objects.blobstore.local import LocalBlobStore
from repohub.objects.blobstore.s3 import S3BlobStore
from tests.support.seaweed import S3Server


def s3_settings(server: S3Server, storage_url: str) -> Settings:
    return Settings(
        storage_url=storage_url,
        s3_endpoint_url=server.endpoint_url,
        s3_region=server.region,
        s3_access_key_id=server.access_key,
        s3_secret_access_key=server.secret_key,
    )


@pytest.fixture
def local_blobstore(tmp_path: Path) -> LocalBlobStore:
    return LocalBlobStore.from_url((tmp_path / "blobs").as_uri())


@pytest.fixture
def s3_blobstore(seaweed: S3Server) -> S3BlobStore:
    url = f"s3://{seaweed.bucket}/tests/{uuid.uuid4().hex}"
    return S3BlobStore.from_settings(url, s3_settings(seaweed, url))


@pytest.fixture(params=["local", "s3"])
def blobstore(request: pytest.FixtureRequest) -> BlobStore:
    store = request.getfixturevalue(f"{request.param}_blobstore")
    assert isinstance(store, BlobStore)
    return store
