"""Where inputs come from and outputs go: a small protocol, an S3 implementation and a folder one.

The core only needs to look at an object, stream it to a file and stream a file back. `S3Storage` is what
the deployed functions use; `DirectoryStorage` (one folder per bucket) lets the local runner and fast tests
reuse the same core without any AWS API.
"""
from __future__ import annotations

import hashlib
import mimetypes
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

# User metadata written with every output: lets a re-delivered event see that an identical object is
# already there and skip the upload (an upload would fire the downstream trigger a second time).
SHA256_METADATA = "avgen-sha256"
_CHUNK = 1024 * 1024


class ObjectMissing(LookupError):
    """The object named by the event is not (or no longer) in the bucket."""

    def __init__(self, bucket: str, key: str):
        super().__init__(f"s3://{bucket}/{key} does not exist (deleted or overwritten after the event was sent?)")
        self.bucket = bucket
        self.key = key


@dataclass(frozen=True)
class ObjectInfo:
    size: int
    sha256: str | None = None  # the digest avgen recorded when it wrote the object, if it did


@runtime_checkable
class Storage(Protocol):
    def head(self, bucket: str, key: str) -> ObjectInfo | None:
        """The object's size and recorded digest, or None when there is no such object."""

    def download(self, bucket: str, key: str, dest: Path) -> int:
        """Stream the object into `dest` and return its size; ObjectMissing when it is gone."""

    def upload(self, src: Path, bucket: str, key: str, *, sha256: str) -> None:
        """Stream `src` to the object, recording `sha256` with it."""

    def bucket_exists(self, bucket: str) -> bool:
        """False only when the bucket is known not to exist (checked before the first upload)."""


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


class S3Storage:
    """S3 through boto3. The client honours `AWS_ENDPOINT_URL` (and `AWS_ENDPOINT_URL_S3`) like any boto3
    client; transfers are chunked by boto3's transfer manager, so object size is bounded by disk, not memory."""

    def __init__(self, client: Any = None, *, transfer_config: Any = None):
        if client is None:
            import boto3
            from botocore.config import Config

            client = boto3.client("s3", config=Config(retries={"mode": "standard", "max_attempts": 5}))
        self.client = client
        self.transfer_config = transfer_config

    def head(self, bucket: str, key: str) -> ObjectInfo | None:
        try:
            response = self.client.head_object(Bucket=bucket, Key=key)
        except Exception as exc:
            # S3 answers 403 rather than 404 for a missing key unless the caller may list the bucket at that
            # key (https://docs.aws.amazon.com/AmazonS3/latest/API/API_HeadObject.html), and the roles may list
            # only their own prefixes: "not readable" is "not there" here. A real denial fails the upload
            # that follows, loudly.
            if _is_not_found(exc) or _is_forbidden(exc):
                return None
            raise
        metadata = response.get("Metadata") or {}
        return ObjectInfo(size=int(response.get("ContentLength", 0)), sha256=metadata.get(SHA256_METADATA))

    def download(self, bucket: str, key: str, dest: Path) -> int:
        try:
            self.client.download_file(bucket, key, str(dest), Config=self.transfer_config)
        except Exception as exc:
            if _is_not_found(exc):
                raise ObjectMissing(bucket, key) from None
            raise
        return dest.stat().st_size

    def upload(self, src: Path, bucket: str, key: str, *, sha256: str) -> None:
        extra: dict[str, Any] = {"Metadata": {SHA256_METADATA: sha256}}
        content_type, _ = mimetypes.guess_type(src.name)
        if content_type:
            extra["ContentType"] = content_type
        self.client.upload_file(str(src), bucket, key, ExtraArgs=extra, Config=self.transfer_config)

    def bucket_exists(self, bucket: str) -> bool:
        try:
            self.client.head_bucket(Bucket=bucket)
        except Exception as exc:
            # Access denied (a role without s3:ListBucket) says nothing either way: let the upload tell.
            return not _is_not_found(exc)
        return True


def _is_forbidden(exc: Exception) -> bool:
    response = getattr(exc, "response", None)
    return isinstance(response, dict) and str(response.get("Error", {}).get("Code", "")) in {"403", "AccessDenied"}


def _is_not_found(exc: Exception) -> bool:
    response = getattr(exc, "response", None)
    if not isinstance(response, dict):
        return False
    code = str(response.get("Error", {}).get("Code", ""))
    return code in {"404", "NoSuchKey", "NotFound", "NoSuchBucket"}


class DirectoryStorage:
    """Buckets as folders under `root` (`root/BUCKET/KEY`), for running workflows on one machine."""

    def __init__(self, root: Path):
        self.root = Path(root)

    def path(self, bucket: str, key: str) -> Path:
        parts = [bucket, *key.split("/")]
        if any(part in ("", ".", "..") for part in parts[:-1]) or parts[-1] in (".", ".."):
            raise ValueError(f"{bucket}/{key} cannot be stored as a file")
        return self.root.joinpath(*parts)

    def head(self, bucket: str, key: str) -> ObjectInfo | None:
        if key.endswith("/"):
            return None
        path = self.path(bucket, key)
        if not path.is_file():
            return None
        return ObjectInfo(size=path.stat().st_size, sha256=file_sha256(path))

    def download(self, bucket: str, key: str, dest: Path) -> int:
        path = self.path(bucket, key)
        try:
            shutil.copyfile(path, dest)
        except (FileNotFoundError, IsADirectoryError):
            raise ObjectMissing(bucket, key) from None
        return dest.stat().st_size

    def bucket_exists(self, bucket: str) -> bool:
        return True  # a bucket is a folder, made by the first upload into it

    def upload(self, src: Path, bucket: str, key: str, *, sha256: str) -> None:
        target = self.path(bucket, key)
        target.parent.mkdir(parents=True, exist_ok=True)
        # Write beside the target and rename, so a reader never sees half a file.
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".avgen-")
        os.close(fd)
        try:
            shutil.copyfile(src, tmp)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
