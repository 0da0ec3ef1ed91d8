"""Which files the script left go where: SCAR's output filters over the output folder."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from lambda_src.config import OutputConfig


@dataclass(frozen=True)
class PlannedUpload:
    path: Path
    relative_path: str   # '/'-separated, relative to the output folder: what the filters test
    bucket: str
    key: str


def output_files(output_dir: Path) -> list[tuple[str, Path]]:
    """Every regular file under `output_dir`, recursively, as (relative path, path), sorted. Empty folders
    give nothing: S3 has no folders, and a marker object would trigger downstream functions."""
    found = []
    for dirpath, _dirnames, filenames in os.walk(output_dir):
        for name in filenames:
            path = Path(dirpath, name)
            if path.is_file():  # skips sockets, fifos and broken links
                found.append((path.relative_to(output_dir).as_posix(), path))
    return sorted(found)


def plan_uploads(output_dir: Path, outputs: Sequence[OutputConfig]) -> list[PlannedUpload]:
    """Each file goes to every output whose filters accept it, under that output's prefix."""
    return [
        PlannedUpload(path=path, relative_path=relative, bucket=output.bucket, key=output.key_for(relative))
        for relative, path in output_files(output_dir)
        for output in outputs
        if output.accepts(relative)
    ]
