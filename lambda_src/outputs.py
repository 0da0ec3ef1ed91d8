"""Which files the script left go where: SCAR's output filters over the output folder."""
from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from lambda_src.config import OutputConfig

MAX_KEY_BYTES = 1024  # S3's limit on a key's length, in UTF-8 bytes


class OutputError(Exception):
    """The outputs of an invocation cannot all be written; found before the first upload."""


@dataclass(frozen=True)
class PlannedUpload:
    path: Path
    relative_path: str   # '/'-separated, relative to the output folder: what the filters test
    bucket: str
    key: str


@dataclass
class OutputFiles:
    files: list[tuple[str, Path]] = field(default_factory=list)  # (relative path, path) of regular files
    symlinks: list[str] = field(default_factory=list)             # relative paths of links: never followed


@dataclass
class UploadPlan:
    uploads: list[PlannedUpload] = field(default_factory=list)
    symlinks: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # outputs that cannot be written: nothing may be uploaded


def output_files(output_dir: Path) -> OutputFiles:
    """Every regular file under `output_dir`, recursively, sorted; symlinks apart (a link could name any file
    the function can read). Empty folders give nothing: S3 has no folders, and a marker object would trigger
    downstream functions."""
    found = OutputFiles()
    for dirpath, dirnames, filenames in os.walk(output_dir):  # os.walk does not descend into linked folders
        for name in dirnames + filenames:
            path = Path(dirpath, name)
            relative = path.relative_to(output_dir).as_posix()
            if path.is_symlink():
                found.symlinks.append(relative)
            elif name in filenames and path.is_file():  # skips sockets and fifos
                found.files.append((relative, path))
    found.files.sort()
    found.symlinks.sort()
    return found


def key_problem(key: str) -> str:
    """Why `key` cannot name an S3 object ('' when it can)."""
    try:
        size = len(key.encode("utf-8"))
    except UnicodeEncodeError:
        return "the name is not valid UTF-8"
    return f"the key is {size} bytes long, over S3's {MAX_KEY_BYTES}" if size > MAX_KEY_BYTES else ""


def _printable(text: str) -> str:
    """A file name for the log: bytes that are not UTF-8 shown as \\xNN."""
    return os.fsencode(text).decode("utf-8", "backslashreplace")


def plan_uploads(output_dir: Path, outputs: Sequence[OutputConfig], request_id: str = "") -> UploadPlan:
    """Each file goes to every output whose filters accept it, under that output's prefix; names that cannot
    be keys are found here, before anything is uploaded."""
    found = output_files(output_dir)
    plan = UploadPlan(symlinks=found.symlinks)
    for relative, path in found.files:
        for output in outputs:
            if not output.accepts(relative):
                continue
            key = output.key_for(relative, request_id)
            problem = key_problem(key)
            if problem:
                plan.problems.append(f"{_printable(relative)}: {problem} (s3://{output.bucket}/{_printable(key)})")
            else:
                plan.uploads.append(PlannedUpload(path=path, relative_path=relative, bucket=output.bucket, key=key))
    return plan
