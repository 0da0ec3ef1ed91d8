"""What the sandbox's executor and `avgen build` share about images: the Docker client to run, whether an
engine answers, the content tag naming a build context, and where `avgen build --local` records its images."""
from __future__ import annotations

import hashlib
import os
import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path

DOCKER_VARIABLE = "AVGEN_DOCKER"           # the Docker client to run, where `docker` is not it
LOCAL_IMAGES_INDEX = "local-images.json"   # beside the contexts: resource name → its locally built image
Runner = Callable[..., subprocess.CompletedProcess]


def context_tag(dest: Path, files: Sequence[Path]) -> str:
    """A tag naming the context by content: the same context always gets the same tag."""
    digest = hashlib.sha256()
    for path in sorted(files):
        digest.update(Path(path).relative_to(dest).as_posix().encode() + b"\0")
        digest.update(Path(path).read_bytes() + b"\0")
    return "ctx-" + digest.hexdigest()[:16]


def docker_command() -> str:
    """The Docker client: $AVGEN_DOCKER where a machine has several (one with BuildKit), else `docker`."""
    return os.environ.get(DOCKER_VARIABLE) or "docker"


def docker_available(run: Runner = subprocess.run) -> bool:
    """True when a Docker engine answers (the client alone is not enough)."""
    try:
        return run([docker_command(), "info"], capture_output=True, text=True, timeout=30).returncode == 0
    except (FileNotFoundError, subprocess.TimeoutExpired):
        return False


