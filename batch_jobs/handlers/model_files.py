"""Where model files come from: a local path, a file bundled with avgen, or `s3://bucket/key`.

S3 objects are downloaded once into a cache folder and reused by later invocations of a warm container
(Lambda keeps /tmp between invocations), because YOLOv3 weights are 248 MB.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

from .errors import ModelFileError

BUNDLED_DIR = Path(__file__).parent / "data"


def cache_dir() -> Path:
    """`AVGEN_MODEL_CACHE`, else <tmp>/avgen-models."""
    return Path(os.environ.get("AVGEN_MODEL_CACHE") or Path(tempfile.gettempdir()) / "avgen-models")


def resolve_model_file(location: str | None, *, what: str, env_var: str, option: str, bundled: str | None = None,
                       bundled_suffix: str = "") -> Path:
    """A local path to the model file named by `location`, else by `env_var`, else the bundled default.

    A bare file name that does not exist in the working directory but is bundled (`yolov3-tiny.cfg`,
    `coco.names`) means the bundled file; so does the name without `bundled_suffix` (`yolov3-tiny`).
    ModelFileError when nothing usable is found.
    """
    location = location or os.environ.get(env_var) or None
    if location is None:
        if bundled is None:
            raise ModelFileError(f"no {what} given: pass {option} or set {env_var}")
        return BUNDLED_DIR / bundled
    if location.startswith("s3://"):
        return fetch_from_s3(location, what=what)
    path = Path(location).expanduser()
    if path.is_file():
        return path
    if path.name == location:
        for name in (location, location + bundled_suffix):
            if (BUNDLED_DIR / name).is_file():
                return BUNDLED_DIR / name
    if path.exists():
        raise ModelFileError(f"{what} is not a regular file: {path}")
    raise ModelFileError(f"{what} not found: {path}")


def split_s3_url(url: str) -> tuple[str, str]:
    bucket, _, key = url[len("s3://") :].partition("/")
    if not bucket or not key or key.endswith("/"):
        raise ModelFileError(f"not an S3 object URL (want s3://bucket/key): {url}")
    return bucket, key


def fetch_from_s3(url: str, *, what: str) -> Path:
    """Download `url` into the cache unless it is already there; return the cached path.

    The object is fetched under a temporary name and renamed, so concurrent or interrupted downloads never
    leave a truncated file that a later invocation would trust.
    """
    bucket, key = split_s3_url(url)
    cached = cache_dir() / bucket / key
    if cached.is_file():
        return cached
    import boto3  # lazy: only S3 locations need it
    import botocore.exceptions

    cached.parent.mkdir(parents=True, exist_ok=True)
    handle, partial = tempfile.mkstemp(prefix=f".{cached.name}.", suffix=".partial", dir=cached.parent)
    os.close(handle)
    try:
        # boto3 honours AWS_ENDPOINT_URL (and AWS_ENDPOINT_URL_S3) itself.
        boto3.client("s3").download_file(bucket, key, partial)
        os.replace(partial, cached)
    except botocore.exceptions.ClientError as error:
        code = error.response.get("Error", {}).get("Code", "error")
        reason = "no such object" if code in ("404", "NoSuchKey", "NoSuchBucket") else code
        raise ModelFileError(f"cannot download {what} {url}: {reason}") from None
    except botocore.exceptions.BotoCoreError as error:
        raise ModelFileError(f"cannot download {what} {url}: {error}") from None
    finally:
        Path(partial).unlink(missing_ok=True)
    return cached
