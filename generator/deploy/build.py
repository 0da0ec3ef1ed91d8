"""Container build contexts for the functions' images, and building/pushing them where Docker can.

`write_build_context` lays out one function's context (Dockerfile, script, the avgen runtime and media
handlers' sources, requirements); its bytes depend only on the arguments and the avgen sources, so
`context_tag` can name the image by content and an unchanged function is not rebuilt. `build_and_push` runs
`docker build` and `docker push` and returns the pushed digest, or None when no Docker engine answers.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import batch_jobs
import lambda_src
from generator import __version__
from generator.aws.containers import (  # noqa: F401 (context_tag, docker_available: re-exported)
    Runner,
    context_tag,
    docker_available,
    docker_command,
)
from generator.errors import BuildError
from generator.workflow.model import script_problem

# Holds lambda_src/ and batch_jobs/ (checkout or site-packages).
ROOT = Path(lambda_src.__file__).resolve().parent.parent
TEMPLATES = Path(batch_jobs.__file__).resolve().parent / "image"
DEFAULT_PLATFORM = "linux/amd64"                      # Lambda's default architecture (x86_64)
_SOURCES = ("lambda_src", "batch_jobs/__init__.py", "batch_jobs/entrypoint.py", "batch_jobs/handlers")
_SKIPPED_PARTS = {"__pycache__"}
_SKIPPED_SUFFIXES = {".pyc", ".pyo"}
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,139}$")
# An image reference as Docker accepts it in FROM: no whitespace, quotes or anything that ends the line.
_IMAGE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/@+-]*$")




def write_build_context(dest: Path, *, function_name: str, base_image: str, script: Path,
                        script_folder: Path) -> list[Path]:
    """Write the build context of one function into `dest` and return the files written, sorted.

    `script` is copied in as script.sh only if it is a regular file inside `script_folder` (the workflow
    file's folder; model.script_problem): never a file of this machine that validation would refuse.
    Files are (re)written in place; the `avgen/` sources folder is replaced as a whole so that a removed
    source file does not linger. Nothing else in `dest` is touched.
    """
    if not _NAME.match(function_name):
        raise ValueError(f"function name {function_name!r} cannot label an image")
    if not _IMAGE.match(base_image):
        raise ValueError(f"container image {base_image!r} is not an image reference")
    script = Path(script)
    try:
        problem = script_problem(script, script_folder)
    except (OSError, RuntimeError) as exc:  # a symlink loop
        problem = f"cannot be resolved ({exc})"
    if problem:
        raise ValueError(f"the function's script {script} {problem}: nothing was copied (AVG033)")
    if not script.is_file():
        raise FileNotFoundError(f"the function's script {script} does not exist")

    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    sources = dest / "avgen"
    if sources.exists():
        shutil.rmtree(sources)
    dockerfile = (TEMPLATES / "Dockerfile.in").read_text(encoding="utf-8")
    for placeholder, value in (("@@FUNCTION_NAME@@", function_name), ("@@BASE_IMAGE@@", base_image),
                               ("@@AVGEN_VERSION@@", __version__)):
        dockerfile = dockerfile.replace(placeholder, value)

    files = {
        "Dockerfile": dockerfile.encode("utf-8"),
        "requirements.txt": (TEMPLATES / "requirements.txt").read_bytes(),
        "requirements.lock": (TEMPLATES / "requirements.lock").read_bytes(),
        "requirements-gpu.lock": (TEMPLATES / "requirements-gpu.lock").read_bytes(),
        "bin/avgen-handler": (TEMPLATES / "avgen-handler").read_bytes(),
        "relocate-python.sh": (TEMPLATES / "relocate-python.sh").read_bytes(),
        "script.sh": script.read_bytes(),
    }
    for relative, source in _runtime_sources():
        files[f"avgen/{relative}"] = source.read_bytes()

    written = []
    for relative, data in sorted(files.items()):
        path = dest / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        written.append(path)
    return written


def _runtime_sources() -> list[tuple[str, Path]]:
    found = []
    for entry in _SOURCES:
        path = ROOT / entry
        for source in sorted(path.rglob("*")) if path.is_dir() else [path]:
            relative = source.relative_to(ROOT)
            if (source.is_file() and source.suffix not in _SKIPPED_SUFFIXES
                    and not _SKIPPED_PARTS.intersection(relative.parts)):
                found.append((relative.as_posix(), source))
    return found


def build_args(uses_gpu: bool) -> list[str]:
    """`docker build` arguments of a function's image: GPU images get requirements-gpu.lock on top of the
    locked set (onnxruntime-gpu and NVIDIA's CUDA libraries; batch_jobs/image/Dockerfile.in)."""
    return ["--build-arg", "VARIANT=gpu"] if uses_gpu else []


@dataclass(frozen=True)
class BuildOptions:
    """How `docker build` reaches the network: `network` (e.g. host, where the engine has no bridge) and a CA
    bundle for a TLS-inspecting proxy, handed to the build as the secret `ca_bundle` (never in the image)."""
    network: str | None = None
    ca_bundle: Path | None = None

    def args(self) -> list[str]:
        return ([f"--network={self.network}"] if self.network else []) + (
            ["--secret", f"id=ca_bundle,src={self.ca_bundle}"] if self.ca_bundle else [])


def build_image(context: Path, image: str, *, platform: str = DEFAULT_PLATFORM, extra_args: Sequence[str] = (),
                options: BuildOptions = BuildOptions(), run: Runner = subprocess.run) -> None:
    """`docker build` of `context` as `image`; raises BuildError with the build's last lines when it fails."""
    # --provenance=false: buildx otherwise pushes an image index with an attestation, which Lambda rejects
    # (older clients, such as Docker 20.10's, attach none and do not know the flag)
    provenance = ["--provenance=false"] if "--provenance" in _docker(run, "build", "--help") else []
    _docker(run, "build", "--platform", platform, *provenance, *options.args(), *extra_args,
            "--tag", image, str(context))


def build_and_push(context: Path, repository: str, tag: str, *, platform: str = DEFAULT_PLATFORM,
                   extra_args: Sequence[str] = (), options: BuildOptions = BuildOptions(),
                   run: Runner = subprocess.run) -> str | None:
    """Build `context` as `repository:tag`, push it and return `repository@sha256:...`, the reference to
    deploy (a digest, so that `avgen apply` changes the function exactly when the image changed).
    Returns None when no Docker engine is available; raises BuildError when a command fails.
    The caller logs in to ECR first (see docs/runtime.md)."""
    if not docker_available(run):
        return None
    image = f"{repository}:{tag}"
    build_image(context, image, platform=platform, extra_args=extra_args, options=options, run=run)
    _docker(run, "push", image)
    digests = _docker(run, "image", "inspect", "--format", "{{range .RepoDigests}}{{println .}}{{end}}", image)
    for line in digests.splitlines():
        if line.startswith(repository + "@sha256:"):
            return line.strip()
    raise BuildError(f"docker pushed {image} but reports no digest for {repository}")


def _docker(run: Runner, *args: str) -> str:
    command = [docker_command(), *args]
    # BuildKit: `--secret` and `RUN --mount` need it, and it is what Docker 23+ uses anyway
    result = run(command, capture_output=True, text=True, env={**os.environ, "DOCKER_BUILDKIT": "1"})
    if result.returncode != 0:
        tail = (result.stderr or result.stdout or "")[-2000:]
        raise BuildError(f"{' '.join(command)} failed with exit code {result.returncode}:\n{tail}")
    return result.stdout or ""
