"""Where model files come from: a local path, a file bundled with avgen, or `s3://bucket/key`; and
the official model files, downloaded from their publisher with pinned sizes and SHA-256 sums.

S3 objects are downloaded once into a cache folder and reused by later invocations of a warm container
(Lambda keeps /tmp between invocations), because YOLOv3 weights are 248 MB.
"""
from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import shutil
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from .handler_errors import ModelFileError

log = logging.getLogger("avgen.handlers.model_files")

BUNDLED_DIR = Path(__file__).parent / "data"


CACHE_VARIABLE = "AVGEN_MODEL_CACHE"


def cache_dir() -> Path:
    """`AVGEN_MODEL_CACHE`, else <tmp>/avgen-models."""
    return Path(os.environ.get(CACHE_VARIABLE) or Path(tempfile.gettempdir()) / "avgen-models")


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
    cached.parent.mkdir(parents=True, exist_ok=True)
    handle, partial = tempfile.mkstemp(prefix=f".{cached.name}.", suffix=".partial", dir=cached.parent)
    os.close(handle)
    try:
        with _s3_errors(url, what) as s3:
            s3.download_file(bucket, key, partial)
        os.replace(partial, cached)
    finally:
        Path(partial).unlink(missing_ok=True)
    return cached


def fetch_folder_from_s3(url: str, *, what: str) -> Path:
    """Download every object under the prefix `url` (s3://bucket/prefix/) into a cached folder, once.

    The folder is assembled under a temporary name and renamed when complete, so a cached folder is
    always whole (a model of several files must never be half there).
    """
    bucket, _, prefix = url[len("s3://"):].partition("/")
    prefix = prefix.rstrip("/")
    if not bucket or not prefix:
        raise ModelFileError(f"not an S3 folder URL (want s3://bucket/prefix/): {url}")
    cached = cache_dir() / bucket / prefix
    if cached.is_dir():
        return cached
    cached.parent.mkdir(parents=True, exist_ok=True)
    partial = Path(tempfile.mkdtemp(prefix=f".{cached.name}.", suffix=".partial", dir=cached.parent))
    try:
        with _s3_errors(url, what) as s3:
            pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix + "/")
            keys = [item["Key"] for page in pages
                    for item in page.get("Contents", []) if not item["Key"].endswith("/")]
            if not keys:
                raise ModelFileError(f"cannot download {what} {url}: no objects under that prefix")
            for key in keys:
                target = partial / key[len(prefix) + 1:]
                target.parent.mkdir(parents=True, exist_ok=True)
                s3.download_file(bucket, key, str(target))
        try:
            partial.rename(cached)
        except OSError:  # another process finished first: its copy is as good
            if not cached.is_dir():
                raise
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return cached


@contextlib.contextmanager
def _s3_errors(url: str, what: str):
    """An S3 client; its failures become a ModelFileError naming `what` and `url`."""
    import boto3  # lazy: only S3 locations need it
    import botocore.exceptions

    try:
        # boto3 honours AWS_ENDPOINT_URL (and AWS_ENDPOINT_URL_S3) itself.
        yield boto3.client("s3")
    except botocore.exceptions.ClientError as error:
        code = error.response.get("Error", {}).get("Code", "error")
        reason = "no such object" if code in ("404", "NoSuchKey", "NoSuchBucket") else code
        raise ModelFileError(f"cannot download {what} {url}: {reason}") from None
    except botocore.exceptions.BotoCoreError as error:
        raise ModelFileError(f"cannot download {what} {url}: {error}") from None


# --- official model files, pinned: what `avgen models fetch` provisions


@dataclass(frozen=True)
class OfficialWeights:
    url: str
    size: int
    sha256: str


@dataclass(frozen=True)
class OfficialModel:
    """Darknet weights from their publisher, and the cfg and class names avgen bundles for them."""

    weights: OfficialWeights
    cfg: str  # bundled file name
    names: str = "coco.names"


OFFICIAL_MODELS = {
    "yolov3-tiny": OfficialModel(OfficialWeights(
        "https://pjreddie.com/media/files/yolov3-tiny.weights", 35_434_956,
        "dccea06f59b781ec1234ddf8d1e94b9519a97f4245748a7d4db75d5b7080a42c"), cfg="yolov3-tiny.cfg"),
    "yolov3": OfficialModel(OfficialWeights(
        "https://pjreddie.com/media/files/yolov3.weights", 248_007_048,
        "523e4e69e1d015393a1b0a441cef1d9c7659e3eb2d7e15f793f060a21b32f297"), cfg="yolov3.cfg"),
}
DOWNLOAD_TIMEOUT_S = 60  # per network read, not for the whole file


def sha256_of_files(*paths: Path, prefix: bytes = b"") -> str:
    """The SHA-256 of PREFIX followed by the files' contents, read in blocks (weights are large)."""
    digest = hashlib.sha256(prefix)
    for path in paths:
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def _file_matches(path: Path, size: int, sha256: str) -> bool:
    return path.is_file() and path.stat().st_size == size and sha256_of_files(path) == sha256


def _download_checked(url: str, size: int, sha256: str, target: Path) -> None:
    """Download URL to TARGET through a temporary name; ModelFileError unless size and SHA-256 match."""
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, partial = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".partial", dir=target.parent)
    digest, received = hashlib.sha256(), 0
    try:
        with os.fdopen(handle, "wb") as out, urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_S) as response:
            for block in iter(lambda: response.read(1 << 20), b""):
                digest.update(block)
                out.write(block)
                received += len(block)
        if received != size or digest.hexdigest() != sha256:
            raise ModelFileError(f"{url} gave {received} bytes with SHA-256 {digest.hexdigest()}; "
                                 f"expected {size} bytes with {sha256}: not the published file, or a broken download")
        os.replace(partial, target)
    except (urllib.error.URLError, OSError) as error:
        raise ModelFileError(f"cannot download {url}: {getattr(error, 'reason', None) or error}") from None
    finally:
        Path(partial).unlink(missing_ok=True)


def fetch_official_model(name: str, destination: str | Path) -> list[str]:
    """Put model NAME's weights (downloaded from their publisher, size and SHA-256 checked), cfg and class
    names into DESTINATION, a folder or `s3://bucket/prefix`. Returns where the three files are.

    Weights already there with the right size and hash are not downloaded again (local folders; S3
    uploads always go through a local copy in the model cache, reused the same way).
    """
    if name not in OFFICIAL_MODELS:
        raise ModelFileError(f"unknown model {name!r}: known are {', '.join(sorted(OFFICIAL_MODELS))}")
    model = OFFICIAL_MODELS[name]
    weights_name = model.weights.url.rsplit("/", 1)[-1]
    destination = str(destination)
    to_s3 = destination.startswith("s3://")
    folder = cache_dir() / "official" if to_s3 else Path(destination).expanduser()
    weights = folder / weights_name
    if _file_matches(weights, model.weights.size, model.weights.sha256):
        log.info("%s already present and verified", weights)
    else:
        log.info("downloading %s (%d MB)", model.weights.url, model.weights.size // 1_000_000)
        _download_checked(model.weights.url, model.weights.size, model.weights.sha256, weights)
    files = [weights, BUNDLED_DIR / model.cfg, BUNDLED_DIR / model.names]
    if not to_s3:
        for bundled in files[1:]:
            shutil.copyfile(bundled, folder / bundled.name)
        return [str(folder / path.name) for path in files]
    return [_upload_to_s3(path, destination.rstrip("/") + "/" + path.name) for path in files]


def _upload_to_s3(path: Path, url: str) -> str:
    import boto3
    import botocore.exceptions

    bucket, key = split_s3_url(url)
    try:
        boto3.client("s3").upload_file(str(path), bucket, key)
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError,
            boto3.exceptions.S3UploadFailedError) as error:
        raise ModelFileError(f"cannot upload {path.name} to {url}: {error}") from None
    log.info("uploaded %s to %s", path.name, url)
    return url
