"""`S3BlobStore`: blobs in any S3 API (AWS S3, MinIO, SeaweedFS).

The only module that imports boto3, so API and web processes that use the local backend never
load it. Verification relies on S3's own commit points instead of a temporary key plus a
server-side copy: a single `PutObject` is all-or-nothing, and a multipart upload stays
invisible until `CompleteMultipartUpload`, which is sent only after the streamed bytes matched
their size and sha256 (otherwise the upload is aborted). That keeps "nothing is visible until
verified" without copying a multi-gigabyte object a second time.
"""

from __future__ import annotations

import contextlib
import io
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO, cast
from urllib.parse import urlsplit

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.client import BaseClient, Config
from botocore.exceptions import BotoCoreError, ClientError

from repohub.config import Settings
from repohub.errors import NotFound
from repohub.objects.blobstore import BlobInfo
from repohub.objects.blobstore.verify import VerifyingReader, check_key, check_prefix, sha256_base64

MIB = 1024 * 1024
PART_SIZE = 16 * MIB
MAX_PARTS = 10_000
TRANSFER_CONFIG = TransferConfig(
    multipart_threshold=PART_SIZE, multipart_chunksize=PART_SIZE, max_concurrency=4
)
_NOT_FOUND_CODES = frozenset({"404", "NoSuchKey", "NotFound"})


class S3BlobStore:
    """A `BlobStore` over one bucket, every key stored under an optional key prefix."""

    def __init__(self, client: BaseClient, bucket: str, prefix: str = "") -> None:
        self.client = client
        self.bucket = bucket
        self.prefix = prefix.strip("/")

    @classmethod
    def from_settings(cls, url: str, settings: Settings) -> S3BlobStore:
        """Build from `s3://bucket/prefix`; credentials left unset use boto3's default chain."""
        bucket, prefix = parse_s3_url(url)
        client = boto3.session.Session().client(
            "s3",
            endpoint_url=settings.s3_endpoint_url,
            region_name=settings.s3_region,
            aws_access_key_id=settings.s3_access_key_id,
            aws_secret_access_key=settings.s3_secret_access_key,
            config=_client_config(settings.s3_endpoint_url),
        )
        return cls(client, bucket, prefix)

    def _key(self, key: str) -> str:
        check_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def ensure_bucket(self) -> None:
        """Create the bucket if it is missing (deployment setup, not a per-request call)."""
        try:
            self.client.head_bucket(Bucket=self.bucket)
            return
        except ClientError as error:
            if _error_code(error) not in {*_NOT_FOUND_CODES, "NoSuchBucket"}:
                raise
        region = self.client.meta.region_name
        options: dict[str, Any] = {}
        if region and region != "us-east-1":
            options["CreateBucketConfiguration"] = {"LocationConstraint": region}
        try:
            self.client.create_bucket(Bucket=self.bucket, **options)
        except ClientError as error:
            if _error_code(error) != "BucketAlreadyOwnedByYou":
                raise

    def put(
        self,
        key: str,
        stream: BinaryIO,
        *,
        size: int | None = None,
        sha256: str | None = None,
    ) -> BlobInfo:
        """Stream `stream` up one part at a time, so memory stays near one part whatever the size.

        Without `size`, parts are 16 MiB and a stream may be up to about 156 GiB (S3 allows
        10,000 parts); with `size` the part size grows to fit. A stream that runs past `size`
        is cut off at once with SizeMismatch rather than drained.
        """
        full_key = self._key(key)
        reader = VerifyingReader(stream, size=size, sha256=sha256)
        part_size = _part_size(size)
        first = reader.read(part_size)
        if len(first) < part_size:
            reader.verify()
            self._put_single(full_key, first, reader.sha256)
        else:
            self._put_multipart(full_key, first, reader, part_size)
        return BlobInfo(key, reader.size)

    def _put_single(self, full_key: str, data: bytes, sha256: str) -> None:
        """One request; the checksum makes S3 refuse bytes damaged on the way."""
        self.client.put_object(
            Bucket=self.bucket, Key=full_key, Body=data, ChecksumSHA256=sha256_base64(sha256)
        )

    def _put_multipart(
        self, full_key: str, first: bytes, reader: VerifyingReader, part_size: int
    ) -> None:
        upload_id = self.client.create_multipart_upload(
            Bucket=self.bucket, Key=full_key, ChecksumAlgorithm="CRC32"
        )["UploadId"]
        try:
            parts = []
            chunk = first
            while chunk:
                parts.append(self._upload_part(full_key, upload_id, len(parts) + 1, chunk))
                chunk = reader.read(part_size)
            reader.verify()
            self.client.complete_multipart_upload(
                Bucket=self.bucket,
                Key=full_key,
                UploadId=upload_id,
                MultipartUpload={"Parts": parts},
            )
        except BaseException:
            with contextlib.suppress(BotoCoreError, ClientError):
                self.client.abort_multipart_upload(
                    Bucket=self.bucket, Key=full_key, UploadId=upload_id
                )
            raise

    def _upload_part(
        self, full_key: str, upload_id: str, number: int, data: bytes
    ) -> dict[str, Any]:
        """Each part carries a CRC32 the server checks; Complete must repeat it per part."""
        response = self.client.upload_part(
            Bucket=self.bucket,
            Key=full_key,
            UploadId=upload_id,
            PartNumber=number,
            Body=data,
            ChecksumAlgorithm="CRC32",
        )
        part = {"PartNumber": number, "ETag": response["ETag"]}
        if "ChecksumCRC32" in response:
            part["ChecksumCRC32"] = response["ChecksumCRC32"]
        return part

    def put_file(self, key: str, path: str) -> BlobInfo:
        """A managed (multipart, multi-threaded) upload; it too is invisible until complete."""
        size = Path(path).stat().st_size
        self.client.upload_file(path, self.bucket, self._key(key), Config=TRANSFER_CONFIG)
        return BlobInfo(key, size)

    def open(self, key: str, *, start: int = 0, end: int | None = None) -> BinaryIO:
        """The response body itself, so a large range streams instead of being buffered."""
        full_key = self._key(key)
        if end is not None and end <= start:
            if self.head(key) is None:
                raise NotFound(f"blob {key} not found")
            return io.BytesIO()
        options = {"Range": _range_header(start, end)} if start or end is not None else {}
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=full_key, **options)
        except ClientError as error:
            if _status(error) == 416:  # start at or past the end: an empty range, as a file
                return io.BytesIO()
            _raise_not_found(error, key)
            raise
        return cast(BinaryIO, response["Body"])

    def head(self, key: str) -> BlobInfo | None:
        try:
            response = self.client.head_object(Bucket=self.bucket, Key=self._key(key))
        except ClientError as error:
            if _error_code(error) in _NOT_FOUND_CODES:
                return None
            raise
        return BlobInfo(key, response["ContentLength"], dict(response.get("Metadata") or {}))

    def download_to(self, key: str, path: str) -> None:
        """s3transfer writes to a temporary name beside `path` and renames it into place."""
        try:
            self.client.download_file(self.bucket, self._key(key), path, Config=TRANSFER_CONFIG)
        except ClientError as error:
            _raise_not_found(error, key)
            raise

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self._key(key))

    def list(self, prefix: str) -> Iterator[BlobInfo]:
        """In the server's order: byte order on AWS S3, but SeaweedFS lists a directory `a/`
        before a sibling such as `a.b` (names continuing with a byte below `/`)."""
        base = f"{self.prefix}/" if self.prefix else ""
        paginator = self.client.get_paginator("list_objects_v2")
        pages = paginator.paginate(Bucket=self.bucket, Prefix=base + check_prefix(prefix))
        for page in pages:
            for item in page.get("Contents", []):
                yield BlobInfo(item["Key"][len(base) :], item["Size"])

    def copy(self, source: str, target: str) -> BlobInfo:
        """A server-side copy; boto3's managed copy switches to multipart copy above 5 GB."""
        check_key(source)
        check_key(target)
        try:
            self.client.copy(
                {"Bucket": self.bucket, "Key": self._key(source)},
                self.bucket,
                self._key(target),
                Config=TRANSFER_CONFIG,
            )
        except ClientError as error:
            _raise_not_found(error, source)
            raise
        info = self.head(target)
        assert info is not None
        return info

    def presigned_get(self, key: str, *, expires_in: int) -> str | None:
        return self.client.generate_presigned_url(
            "get_object",
            Params={"Bucket": self.bucket, "Key": self._key(key)},
            ExpiresIn=expires_in,
        )

    def presigned_put(
        self,
        key: str,
        *,
        expires_in: int,
        size: int,
        sha256: str | None = None,
        metadata: dict[str, str] | None = None,
    ) -> str | None:
        """A URL whose signature covers the length and, given `sha256`, the checksum header.

        The client must send exactly `size` bytes and, when `sha256` is given, the header
        `x-amz-checksum-sha256: <base64 of the raw digest>` (see `sha256_base64`): both are
        signed headers, so leaving the header out or sending another length fails the
        signature (403), and S3 refuses a body that does not hash to the header (400
        BadDigest). Checked against SeaweedFS 4.48 by tests/conformance.
        """
        params: dict[str, Any] = {"Bucket": self.bucket, "Key": self._key(key)}
        params["ContentLength"] = size
        if sha256 is not None:
            params["ChecksumSHA256"] = sha256_base64(sha256)
        if metadata:
            params["Metadata"] = metadata
        return self.client.generate_presigned_url("put_object", Params=params, ExpiresIn=expires_in)


def parse_s3_url(url: str) -> tuple[str, str]:
    """`s3://bucket/some/prefix` -> ("bucket", "some/prefix")."""
    parts = urlsplit(url)
    if parts.scheme != "s3" or not parts.netloc or parts.query or parts.fragment:
        raise ValueError(f"not an S3 storage URL: {url!r} (use s3://bucket/prefix)")
    prefix = parts.path.strip("/")
    if prefix:
        check_key(prefix)
    return parts.netloc, prefix


def _client_config(endpoint_url: str | None) -> Config:
    """SigV4 always; path-style for custom endpoints, whose DNS rarely has bucket subdomains."""
    s3_options = {"addressing_style": "path"} if endpoint_url else {}
    return Config(signature_version="s3v4", s3=s3_options, retries={"mode": "standard"})


def _part_size(size: int | None) -> int:
    if size is None:
        return PART_SIZE
    return max(PART_SIZE, math.ceil(size / MAX_PARTS / MIB) * MIB)


def _range_header(start: int, end: int | None) -> str:
    return f"bytes={start}-" if end is None else f"bytes={start}-{end - 1}"


def _error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def _status(error: ClientError) -> int | None:
    return error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")


def _raise_not_found(error: ClientError, key: str) -> None:
    """Turn S3's missing-key answers into the taxonomy's NotFound; leave others alone."""
    if _error_code(error) in _NOT_FOUND_CODES:
        raise NotFound(f"blob {key} not found") from error
