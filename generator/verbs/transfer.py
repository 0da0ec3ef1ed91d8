"""put / ls / get over any S3 API: the core of SCAR's everyday verbs, improved.

Addressing is SCAR's: `bucket/folder` names a bucket and a key prefix (`s3://bucket/folder` is accepted too).
- `put` uploads files and folders; a folder's files keep their paths relative to it (`clips/a/b.mp4` put to
  `bucket/input` is `input/a/b.mp4`; SCAR flattened them to `input/b.mp4`).
  Symlinks inside a folder are skipped (and reported) unless the caller asks to follow them.
- `get` downloads every object under a prefix to `LOCALDIR/<key>` (SCAR's layout), never through a symlink
  and never over a different local file unless asked; what it cannot write is reported, the rest goes on.
- `ls` lists keys with their sizes and times.

Transfers go through boto3's transfer manager (multipart above a threshold, parallel parts). Every S3 or
credentials problem becomes a `TransferError` whose message says what to do; nothing here prints.
"""
from __future__ import annotations

import contextlib
import hashlib
import os
import re
import socket
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from boto3.s3.transfer import TransferConfig
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    PartialCredentialsError,
)

from generator.aws.clients import s3_client
from generator.errors import TransferError
from generator.workdirs import IMAGES_DIR
from generator.workflow.graph import workflow_starts
from generator.workflow.model import StoragePath, Workflow

MiB = 1024 * 1024
DEFAULT_MULTIPART_THRESHOLD = 8 * MiB
DEFAULT_MULTIPART_CHUNK = 8 * MiB
DEFAULT_CONCURRENCY = 4
S3_MIN_PART = 5 * MiB  # S3 refuses smaller parts (except the last one)

_ERROR_CODE = re.compile(r"An error occurred \(([^)]+)\)")
_DENIED = {"AccessDenied", "AccessDeniedException", "403", "Forbidden", "AllAccessDisabled", "AccountProblem"}
_BAD_CREDENTIALS = {"InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidToken", "ExpiredToken",
                    "InvalidClientTokenId", "UnrecognizedClientException", "AuthFailure"}
_NO_BUCKET = {"NoSuchBucket"}
_NO_KEY = {"NoSuchKey", "404", "NotFound"}



@dataclass(frozen=True)
class S3Location:
    """`bucket/folder`: a bucket and a key prefix (no slash at either end; "" at the bucket's root)."""

    bucket: str
    prefix: str = ""

    @classmethod
    def parse(cls, text: str) -> S3Location:
        rest = text.strip()
        if rest.startswith("s3://"):
            rest = rest[len("s3://"):]
        bucket, _, prefix = rest.partition("/")
        if not bucket:
            raise TransferError(f"{text!r} names no bucket: write BUCKET or BUCKET/FOLDER (for example "
                                "my-bucket/input)")
        return cls(bucket, prefix.strip("/"))

    @classmethod
    def of(cls, path: StoragePath) -> S3Location:
        return cls(path.bucket, path.prefix)

    @property
    def key_prefix(self) -> str:
        return f"{self.prefix}/" if self.prefix else ""

    def key_for(self, relative: str) -> str:
        return self.key_prefix + relative

    def __str__(self) -> str:
        return f"s3://{self.bucket}/{self.key_prefix}"


def unique_locations(paths: Sequence[StoragePath]) -> list[S3Location]:
    return list(dict.fromkeys(S3Location.of(p) for p in paths))


def start_location(workflow: Workflow) -> S3Location:
    """Where uploads go when the user names only the workflow: its one start folder."""
    starts = unique_locations([path for _, path in workflow_starts(workflow)])
    if len(starts) == 1:
        return starts[0]
    if not starts:
        raise TransferError("the workflow has no input that starts it (every trigger is fed by another "
                            "function): name the destination with -b BUCKET/FOLDER")
    raise TransferError("the workflow starts in several folders: choose one with -b ("
                        + ", ".join(f"{s.bucket}/{s.prefix}".rstrip("/") for s in starts) + ")")


def triggered_by(workflow: Workflow, bucket: str, keys: Sequence[str]) -> dict[str, list[str]]:
    """Function name → the keys among `keys` that will trigger it (S3 notifications, as deployed)."""
    hits: dict[str, list[str]] = {}
    for key in keys:
        for function in workflow.consumers_of(bucket, key):
            hits.setdefault(function.name, []).append(key)
    return hits


# --- planning --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Upload:
    path: Path
    key: str
    size: int


@dataclass
class PutPlan:
    uploads: list[Upload] = field(default_factory=list)
    skipped: list[tuple[Path, str]] = field(default_factory=list)  # (path, why)


@dataclass(frozen=True)
class ObjectEntry:
    key: str
    size: int
    last_modified: datetime | None = None
    etag: str = ""


@dataclass(frozen=True)
class Download:
    key: str
    size: int
    path: Path


@dataclass
class DownloadPlan:
    downloads: list[Download] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)   # (key, why): nothing to do (marker, identical)
    problems: list[tuple[str, str]] = field(default_factory=list)  # (key, why): not written, the user should act

    @property
    def total_bytes(self) -> int:
        return sum(d.size for d in self.downloads)


def _files_under(folder: Path, follow_symlinks: bool, skipped: list[tuple[Path, str]]) -> Iterator[Path]:
    """Regular files under `folder`, sorted; symlinks (to files or folders) only when `follow_symlinks`, and
    never back into a folder already walked. What is left out goes to `skipped` with the reason."""
    walked: set[Path] = set()
    for root, dirs, files in os.walk(folder, followlinks=follow_symlinks):
        walked.add(Path(root).resolve())
        dirs.sort()
        for name in list(dirs):
            path = Path(root) / name
            if not path.is_symlink():
                continue
            if not follow_symlinks:
                skipped.append((path, "a symlink to a folder (--follow-symlinks follows it)"))
                dirs.remove(name)
            elif path.resolve() in walked:
                skipped.append((path, "a symlink back to a folder already uploaded"))
                dirs.remove(name)
        for name in sorted(files):
            path = Path(root) / name
            if path.is_symlink() and not follow_symlinks:
                skipped.append((path, "a symlink (--follow-symlinks follows it)"))
            elif path.is_file():
                yield path
            else:
                skipped.append((path, "not a regular file (a broken symlink, a socket, …)"))


def plan_put(sources: Sequence[Path], dest: S3Location, *, follow_symlinks: bool = False) -> PutPlan:
    """What `put` will upload: a file to `folder/NAME`, a folder's files to `folder/RELATIVE/PATH`. A source
    named by the user is read even when it is a symlink; links inside a folder only with `follow_symlinks`."""
    plan = PutPlan()
    for source in map(Path, sources):
        if source.is_file():
            plan.uploads.append(Upload(source, dest.key_for(source.name), source.stat().st_size))
        elif source.is_dir():
            files = list(_files_under(source, follow_symlinks, plan.skipped))
            if not files:
                raise TransferError(f"{source} holds no files: nothing to upload"
                                    + (" (symlinks skipped; --follow-symlinks follows them)" if plan.skipped else ""))
            plan.uploads += [Upload(p, dest.key_for(p.relative_to(source).as_posix()), p.stat().st_size)
                             for p in files]
        else:
            raise TransferError(f"{source}: no such file or folder")
    keys: dict[str, Path] = {}
    for item in plan.uploads:
        if item.key in keys:
            raise TransferError(f"{keys[item.key]} and {item.path} would both be uploaded to "
                                f"s3://{dest.bucket}/{item.key}: upload them separately")
        keys[item.key] = item.path
    return plan


def _unsafe_key_reason(key: str) -> str:
    """Why a key is skipped ('' when it is not): a folder marker, or a key that would lead out of the folder."""
    if key.endswith("/"):
        return "folder marker"
    if key.startswith("/") or ".." in key.split("/"):
        return "its key cannot be a local path safely (absolute, or a '..' part leading out of the folder)"
    return ""


NAME_MAX = 255    # bytes in one file name (Linux, macOS) where the file system does not say
PATH_MAX = 4096   # bytes in a whole path


def _name_problem(key: str, local_dir: Path) -> str:
    """Why a key cannot be a file name under `local_dir` ('' when it can): S3 takes any key of up to 1,024
    bytes, a local file system does not."""
    parts = key.split("/")
    if "." in parts or "" in parts:
        return ("its key has a '.' or an empty part ('//'), which names no file: a local path cannot hold it "
                "(rename the object to get it)")
    if "\0" in key:
        return "its key holds a NUL character, which no local file name may hold"
    name_max, path_max = _limits(local_dir)
    for part in parts:
        size = len(os.fsencode(part))
        if size > name_max:
            return (f"its part {part[:24]}… is {size} bytes long, and a file name here may have at most "
                    f"{name_max}: rename the object to get it")
    size = len(os.fsencode(str(Path(local_dir).absolute().joinpath(*parts))))
    if size >= path_max:
        return f"its local path would be {size} bytes long, over the {path_max - 1} a path may have here"
    return ""


def _limits(local_dir: Path) -> tuple[int, int]:
    """(longest file name, longest path) in bytes of the file system `local_dir` is (or will be) on."""
    folder = Path(local_dir).absolute()
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    limits = []
    for name, default in (("PC_NAME_MAX", NAME_MAX), ("PC_PATH_MAX", PATH_MAX)):
        try:
            limits.append(int(os.pathconf(folder, name)))
        except (OSError, ValueError, AttributeError):
            limits.append(default)
    return limits[0], limits[1]


def plan_get(entries: Sequence[ObjectEntry], local_dir: Path, *, overwrite: bool = False,
             chunk: int = DEFAULT_MULTIPART_CHUNK) -> DownloadPlan:
    """`LOCALDIR/<key>` for every object. Skipped: folder markers, keys that would escape LOCALDIR, files
    identical to the object. Problems: a key that cannot be a local file name ('.', '//', too long), a
    symlink on the way, a key colliding with another (`a` and `a/b`), a different local file (unless
    `overwrite`). `chunk`: the part size multipart ETags are checked with."""
    plan = DownloadPlan()
    files: set[Path] = set()    # paths planned as files
    folders: set[Path] = set()  # paths planned as folders
    for entry in entries:
        why = _unsafe_key_reason(entry.key)
        if why:
            plan.skipped.append((entry.key, why))
            continue
        problem = _name_problem(entry.key, local_dir)
        if problem:
            plan.problems.append((entry.key, problem))
            continue
        parts = entry.key.split("/")
        path = Path(local_dir).joinpath(*parts)
        parents = [Path(local_dir).joinpath(*parts[:i]) for i in range(1, len(parts))]
        try:
            problem = _local_problem(path, parents, files, folders)
            if not problem and path.is_file():
                if _same_content(path, entry, chunk):
                    plan.skipped.append((entry.key, f"{path} is already there, identical"))
                    continue
                if not overwrite:
                    problem = f"{path} exists and differs (--overwrite replaces it)"
        except OSError as exc:  # a folder that cannot be read, …
            problem = f"cannot be written here: {exc.strerror or exc}"
        if problem:
            plan.problems.append((entry.key, problem))
            continue
        files.add(path)
        folders.update(parents)
        plan.downloads.append(Download(entry.key, entry.size, path))
    return plan


def _local_problem(path: Path, parents: Sequence[Path], files: set[Path], folders: set[Path]) -> str:
    """Why the object cannot be written at `path` ('' when it can)."""
    for step in [*parents, path]:
        if step.is_symlink():
            return f"{step} is a symlink: avgen never writes through links"
    for parent in parents:
        if parent in files:
            return f"another key is downloaded as the file {parent}, where this one needs a folder"
        if parent.exists() and not parent.is_dir():
            return f"{parent} is a file, where this key needs a folder"
    if path in folders:
        return f"other keys need {path} as a folder"
    if path.exists() and not path.is_file():
        return f"{path} is a folder (or not a regular file)"
    return ""


def _same_content(path: Path, entry: ObjectEntry, chunk: int) -> bool:
    """Whether the local file holds the object, by size and S3's ETag (an MD5, or for a multipart upload the
    MD5 of its parts' MD5s). Unsure (no ETag, another part size, encryption) counts as different."""
    etag = entry.etag.strip('"')
    if not etag or path.stat().st_size != entry.size:
        return False
    whole = hashlib.md5(usedforsecurity=False)
    parts = []
    part_size = max(S3_MIN_PART, chunk)
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(part_size), b""):
            whole.update(block)
            parts.append(hashlib.md5(block, usedforsecurity=False).digest())
    if "-" not in etag:
        return whole.hexdigest() == etag
    combined = hashlib.md5(b"".join(parts), usedforsecurity=False).hexdigest()
    return f"{combined}-{len(parts)}" == etag


# --- errors ----------------------------------------------------------------------------------------


def _client_error_code(exc: BaseException) -> tuple[str, str]:
    """(code, message) of the S3 error behind `exc`, following the chain boto3's transfer wrappers make."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ClientError):
            error = seen.response.get("Error", {})
            return str(error.get("Code", "")), str(error.get("Message", ""))
        seen = seen.__cause__ or seen.__context__
    match = _ERROR_CODE.search(str(exc))
    return (match.group(1), str(exc)) if match else ("", str(exc))


def describe_aws_error(exc: BaseException, target: str, action: str = "read") -> str:
    """One message per kind of problem any AWS API gives (credentials, endpoint, permissions)."""
    if isinstance(exc, (NoCredentialsError, PartialCredentialsError)):
        return ("no AWS credentials found: set AWS_PROFILE or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, run "
                "`aws configure`, or use --sandbox for the local emulator")
    if isinstance(exc, EndpointConnectionError):
        return f"cannot reach the AWS API at {exc.kwargs.get('endpoint_url', '?')}: is the endpoint right and running?"
    if isinstance(exc, BotoCoreError):
        return f"the request to AWS failed: {exc}"
    code, message = _client_error_code(exc)
    if code == "InsufficientStorage":  # the sandbox's folder is full: its message names the folder
        return f"cannot {action} {target}: {message}"
    if code in _DENIED:
        return (f"access denied: the credentials in use may not {action} {target} (check the IAM policy of "
                "the user or role, and any resource policy)")
    if code in _BAD_CREDENTIALS:
        return (f"the AWS API rejected the credentials ({code}): check AWS_ACCESS_KEY_ID / "
                "AWS_SECRET_ACCESS_KEY / AWS_PROFILE and, for temporary ones, AWS_SESSION_TOKEN")
    if isinstance(exc, OSError):
        return f"local file problem: {exc}"
    return f"AWS refused to {action} {target}: {code or type(exc).__name__}: {message}"


def describe_error(exc: BaseException, *, bucket: str, key: str = "", action: str = "read") -> str:
    """describe_aws_error, plus S3's own cases: a missing bucket or object."""
    code, _ = _client_error_code(exc)
    if code in _NO_BUCKET or (code in _NO_KEY and not key):
        return (f"bucket {bucket!r} does not exist (or is in another account): check the name; "
                "`avgen apply` creates a workflow's buckets")
    if code in _NO_KEY and action == "read":
        return f"s3://{bucket}/{key} does not exist"
    if code in _NO_KEY:  # S3 itself takes any key it can name (up to 1,024 bytes), line feeds included
        return (f"the S3 API answered {code} (not found) when asked to {action} s3://{bucket}/{key}: it cannot "
                "address that key (some S3 emulators refuse keys with a line feed or other control characters)")
    return describe_aws_error(exc, f"s3://{bucket}/{key}" if key else f"bucket {bucket!r}", action)


@contextlib.contextmanager
def s3_errors(bucket: str, key: str = "", action: str = "read", done: Sequence[str] = ()):
    """Turn boto3's exceptions into a TransferError (local OSErrors too)."""
    try:
        yield
    except TransferError:
        raise
    except Exception as exc:  # boto3's transfer wrappers raise plain exceptions around ClientError
        raise TransferError(describe_error(exc, bucket=bucket, key=key, action=action), done=done) from exc


# --- transfers -------------------------------------------------------------------------------------

# (event, key, bytes): "start" (size) | "bytes" (delta) | "done" (size) | "failed" (0: not written, go on)
Progress = Callable[[str, str, int], None]


def transfer_config(threshold: int = DEFAULT_MULTIPART_THRESHOLD, chunk: int = DEFAULT_MULTIPART_CHUNK,
                    concurrency: int = DEFAULT_CONCURRENCY) -> TransferConfig:
    """Multipart above `threshold` bytes, in parts of `chunk` (at least S3's 5 MiB), `concurrency` at once."""
    return TransferConfig(multipart_threshold=max(1, threshold), multipart_chunksize=max(S3_MIN_PART, chunk),
                          max_concurrency=max(1, concurrency), use_threads=concurrency > 1)


def _quiet(progress: Progress | None) -> Progress:
    return progress or (lambda event, key, amount: None)


def put(client, bucket: str, plan: Sequence[Upload], *, config: TransferConfig | None = None,
        progress: Progress | None = None) -> list[str]:
    """Upload `plan`, many files at once (s3transfer's manager: `config.max_concurrency` threads shared by
    all files and their parts); returns the keys, in the plan's order. On a failure the TransferError says
    which files were uploaded (its `done`), so a folder is never left half-uploaded without a word."""
    # No HeadBucket first: it needs s3:ListBucket, which a user allowed only to write may lack.
    results = _transfer_all(client, config, plan, progress,
                            lambda manager, item, watch: manager.upload(str(item.path), bucket, item.key,
                                                                        subscribers=watch))
    done = [item.key for item, problem in results if problem is None]
    for item, problem in results:
        if problem is not None:
            try:
                with s3_errors(bucket, item.key, "write to", done):
                    raise problem
            except TransferError as exc:
                raise TransferError(_partial_message(str(exc), done, len(plan), "uploaded"), done=done) from exc
    return done


def _transfer_all(client, config: TransferConfig | None, items: Sequence, progress: Progress | None,
                  submit: Callable) -> list[tuple[Any, BaseException | None]]:
    """Run every transfer through one s3transfer manager; (item, problem or None) for each, in order."""
    from s3transfer.manager import TransferManager
    from s3transfer.subscribers import BaseSubscriber

    report = _quiet(progress)

    class Watch(BaseSubscriber):
        def __init__(self, key: str):
            self.key = key

        def on_progress(self, future, bytes_transferred, **kwargs):
            report("bytes", self.key, bytes_transferred)

    results: list[tuple[Any, BaseException | None]] = []
    with TransferManager(client, config or transfer_config()) as manager:
        futures = []
        for item in items:
            report("start", item.key, item.size)
            futures.append((item, submit(manager, item, [Watch(item.key)])))
        for item, future in futures:
            try:
                future.result()
            except Exception as exc:  # kept per file: the others go on, and the caller words it
                report("failed", item.key, 0)
                results.append((item, exc))
            else:
                report("done", item.key, item.size)
                results.append((item, None))
    return results


def _partial_message(message: str, done: Sequence[str], total: int, verb: str) -> str:
    if total <= 1:
        return message
    if not done:
        return f"{message}; nothing was {verb}"
    shown = ", ".join(done[:5]) + (f" and {len(done) - 5} more" if len(done) > 5 else "")
    return f"{message}; {len(done)} of {total} files were {verb} before the failure: {shown}"


def list_objects(client, location: S3Location) -> list[ObjectEntry]:
    """Every object under `location` (a prefix, or a single key when nothing lies under it as a folder)."""
    entries: list[ObjectEntry] = []
    with s3_errors(location.bucket, action="list"):
        pages = client.get_paginator("list_objects_v2").paginate(Bucket=location.bucket, Prefix=location.key_prefix)
        for page in pages:
            entries += [ObjectEntry(o["Key"], int(o.get("Size", 0)), o.get("LastModified"), o.get("ETag", ""))
                        for o in page.get("Contents", [])]
    if not entries and location.prefix:
        try:
            head = client.head_object(Bucket=location.bucket, Key=location.prefix)
        except ClientError as exc:
            if _client_error_code(exc)[0] not in _NO_KEY:
                raise TransferError(describe_error(exc, bucket=location.bucket, key=location.prefix)) from exc
        else:
            entries.append(ObjectEntry(location.prefix, int(head.get("ContentLength", 0)), head.get("LastModified"),
                                       head.get("ETag", "")))
    return entries


def list_buckets(client) -> list[ObjectEntry]:
    """The account's buckets, as entries with no size (for `ls` without -b)."""
    with s3_errors("*", action="list"):
        return [ObjectEntry(b["Name"], 0, b.get("CreationDate")) for b in client.list_buckets().get("Buckets", [])]


def get(client, bucket: str, plan: DownloadPlan, *, config: TransferConfig | None = None,
        progress: Progress | None = None) -> list[Path]:
    """Download `plan`, many files at once; s3transfer writes each file under a temporary name first, so no
    half file is left. A file that cannot be written here (a name too long, …) is added to `plan.problems`
    and the rest go on; an S3 problem fails the transfer, saying what was downloaded."""
    writable = []
    for item in plan.downloads:
        try:
            item.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            plan.problems.append((item.key, f"cannot be written to {item.path}: {exc.strerror or exc}"))
            continue
        writable.append(item)
    results = _transfer_all(client, config, writable, progress,
                            lambda manager, item, watch: manager.download(bucket, item.key, str(item.path),
                                                                          subscribers=watch))
    done = [item.path for item, problem in results if problem is None]
    for item, problem in results:
        if isinstance(problem, OSError):
            plan.problems.append((item.key, f"cannot be written to {item.path}: {problem.strerror or problem}"))
        elif problem is not None:
            try:
                with s3_errors(bucket, item.key, "read", [str(p) for p in done]):
                    raise problem
            except TransferError as exc:
                raise TransferError(_partial_message(str(exc), [str(p) for p in done], len(plan.downloads),
                                                     "downloaded"), done=[str(p) for p in done]) from exc
    return done


# --- where the S3 API is ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Connection:
    """How to reach AWS (or an S3 API, or the sandbox): endpoint, region and, for the sandbox, credentials."""

    endpoint_url: str | None = None
    region: str | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    sandbox: Any | None = None  # the running Sandbox, when connected to one

    def s3(self):
        return s3_client(self.endpoint_url, self.region, self.env)

    def client(self, service: str):
        import boto3

        session = boto3.session.Session(aws_access_key_id=self.env.get("AWS_ACCESS_KEY_ID"),
                                        aws_secret_access_key=self.env.get("AWS_SECRET_ACCESS_KEY"),
                                        region_name=self.region or self.env.get("AWS_REGION"))
        return session.client(service, endpoint_url=self.endpoint_url or self.env.get("AWS_ENDPOINT_URL"))


def check_reachable(endpoint_url: str, timeout: float = 5.0) -> None:
    """Fail fast on an endpoint nothing listens on (boto3 would retry it for many seconds first)."""
    parts = urlsplit(endpoint_url if "://" in endpoint_url else f"https://{endpoint_url}")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        with socket.create_connection((parts.hostname or "", port), timeout=timeout):
            pass
    except OSError as exc:
        raise TransferError(f"cannot reach the AWS API at {endpoint_url}: {exc.strerror or exc}; "
                            "is the endpoint right and running?") from None


@contextlib.contextmanager
def connect(*, endpoint_url: str | None = None, region: str | None = None,
            sandbox_dir: Path | None = None, run_workflows: bool = False) -> Iterator[Connection]:
    """A Connection; with `sandbox_dir`, the sandbox (the same state as `avgen apply --sandbox`) runs
    while it is used, and with `run_workflows` what is created in it starts the deployed functions."""
    if sandbox_dir is None:
        if endpoint_url:
            check_reachable(endpoint_url)
        yield Connection(endpoint_url, region)
        return
    from generator.aws.sandbox import Sandbox

    with Sandbox(Path(sandbox_dir), region or "us-east-1") as sandbox:
        contexts = Path(sandbox_dir).parent / IMAGES_DIR
        if run_workflows and contexts.is_dir():
            sandbox.run_workflows(contexts)
        yield Connection(sandbox.endpoint, region or sandbox.region, sandbox.env, sandbox)


def ensure_buckets(client, names: Sequence[str]) -> list[str]:
    """Create the buckets that do not exist yet (local runs against a test S3 API); returns those created."""
    created = []
    for name in names:
        try:
            client.head_bucket(Bucket=name)
        except ClientError as exc:
            if _client_error_code(exc)[0] not in _NO_KEY | _NO_BUCKET:
                raise TransferError(describe_error(exc, bucket=name)) from exc
            region = client.meta.region_name
            where = {"CreateBucketConfiguration": {"LocationConstraint": region}} \
                if region and region != "us-east-1" else {}
            with s3_errors(name, action="create"):
                client.create_bucket(Bucket=name, **where)
            created.append(name)
        except BotoCoreError as exc:
            raise TransferError(describe_error(exc, bucket=name)) from exc
    return created
