"""`avgen build`: one container build context per function, built and pushed where a Docker engine runs.

The contexts come from batch_jobs/build.py (the function's image + avgen's runtime and handlers). The
pushed digests are recorded in the working folder as `avgen-images.auto.tfvars.json`, which Terraform
loads by itself, so the next `avgen plan`/`apply` deploys exactly those images.
"""
from __future__ import annotations

import base64
import json
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

from generator.deploy.build import (
    BuildError, BuildOptions, build_and_push, build_args, build_image, context_tag, docker_available, docker_command,
    write_build_context,
)

from generator.workflow.model import Workflow
from generator.aws.executor import CONTEXTS_INDEX
from generator.errors import ImageError

IMAGES_VARS_FILE = "avgen-images.auto.tfvars.json"
IMAGES_VARIABLE = "function_images"
Runner = Callable[..., subprocess.CompletedProcess]


@dataclass(frozen=True)
class ImageContext:
    function: str
    path: Path
    tag: str
    build_args: tuple[str, ...] = ()

    def commands(self, repository: str) -> list[str]:
        """What to run by hand where avgen cannot reach a Docker engine."""
        image = f"{repository}:{self.tag}"
        extra = "".join(f"{arg} " for arg in self.build_args)
        return [f"docker build --platform linux/amd64 --provenance=false {extra}--tag {image} {self.path}",
                f"docker push {image}"]


def write_contexts(workflow: Workflow, dest: Path) -> list[ImageContext]:
    contexts = []
    for function in workflow.functions:
        if function.script is None:
            raise ImageError(f"function `{function.name}` has no init_script: avgen's runtime runs that script "
                             "in the image; add `init_script: SCRIPT.sh` next to the workflow")
        folder = Path(dest) / function.name
        try:
            files = write_build_context(folder, function_name=function.resource_name, base_image=function.image,
                                        script=function.script,
                                        script_folder=function.script_folder or workflow.source.parent)
        except (ValueError, FileNotFoundError) as exc:
            raise ImageError(f"function `{function.name}`: {exc}") from None
        contexts.append(ImageContext(function.name, folder, context_tag(folder, files),
                                     tuple(build_args(function.uses_gpu))))
    # how the sandbox's executor finds a deployed function's context (by the name AVGEN_FUNCTION carries)
    index = {f.resource_name: f.name for f in workflow.functions}
    (Path(dest) / CONTEXTS_INDEX).write_text(json.dumps(index, indent=2, sort_keys=True) + "\n")
    return contexts


def engine_available(run: Runner = subprocess.run) -> bool:
    return docker_available(run)


def ecr_login(repository_url: str, ecr_client, run: Runner = subprocess.run) -> None:
    """`docker login` to the registry of `repository_url` with a token from ECR."""
    token = ecr_client.get_authorization_token()["authorizationData"][0]["authorizationToken"]
    user, password = base64.b64decode(token).decode().split(":", 1)
    registry = repository_url.split("/", 1)[0]
    result = run([docker_command(), "login", "--username", user, "--password-stdin", registry],
                 input=password, capture_output=True, text=True)
    if result.returncode != 0:
        raise ImageError(f"docker login to {registry} failed: {(result.stderr or result.stdout).strip()}")


def push_all(contexts: list[ImageContext], repositories: dict[str, str],
             run: Runner = subprocess.run, on_pushed: Optional[Callable[[str, str], None]] = None) -> dict[str, str]:
    """Build and push every context; returns {function: REPOSITORY@sha256:DIGEST}."""
    pushed = {}
    for context in contexts:
        repository = repositories.get(context.function)
        if repository is None:
            raise ImageError(f"no ECR repository is deployed for `{context.function}`")
        try:
            reference = build_and_push(context.path, repository, context.tag, extra_args=context.build_args,
                                       run=run)
        except BuildError as exc:
            raise ImageError(str(exc)) from None
        if reference is None:
            raise ImageError("no Docker engine answers (`docker info` failed)")
        pushed[context.function] = reference
        if on_pushed:
            on_pushed(context.function, reference)
    return pushed


LOCAL_REPOSITORY = "avgen-local"      # where `avgen build --local` tags images: avgen-local/FUNCTION:ctx-…
LOCAL_IMAGES_INDEX = "local-images.json"  # beside the contexts: resource name → its locally built image


def build_local(contexts: list[ImageContext], resource_names: dict[str, str], options: BuildOptions,
                run: Runner = subprocess.run,
                on_building: Optional[Callable[[str, str], None]] = None) -> dict[str, str]:
    """Build every context into the local Docker engine (for the sandbox's container runs and for tests);
    returns {function: image} and records it beside the contexts, where the sandbox's executor looks."""
    built = {}
    for context in contexts:
        image = f"{LOCAL_REPOSITORY}/{resource_names[context.function].lower()}:{context.tag}"
        if on_building:
            on_building(context.function, image)
        try:
            build_image(context.path, image, extra_args=context.build_args, options=options, run=run)
        except BuildError as exc:
            raise ImageError(f"function `{context.function}`: {exc}") from None
        built[context.function] = image
    if contexts:
        index_path = contexts[0].path.parent / LOCAL_IMAGES_INDEX
        index = json.loads(index_path.read_text()) if index_path.is_file() else {}
        index.update({resource_names[name]: image for name, image in built.items()})
        index_path.write_text(json.dumps(dict(sorted(index.items())), indent=2) + "\n")
    return built


def record_images(workdir: Path, pushed: dict[str, str]) -> Path:
    """Merge the pushed digests into the working folder's images file (other functions' stay)."""
    path = Path(workdir) / IMAGES_VARS_FILE
    current = json.loads(path.read_text()).get(IMAGES_VARIABLE, {}) if path.exists() else {}
    current.update(pushed)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({IMAGES_VARIABLE: dict(sorted(current.items()))}, indent=2) + "\n")
    return path


def push_images(deployment, contexts: list[ImageContext], confirm, *,
                on_pushed: Optional[Callable[[str, str], None]] = None) -> Path:
    """Create the ECR repositories (a targeted apply), build and push every image, record the digests.

    Returns the file the digests were written to; the next plan/apply of `deployment` deploys them.
    """
    from generator.aws.clients import boto_session

    outcome = deployment.apply(confirm, targets=("module.image",))
    if outcome.blocked or not outcome.applied:
        raise ImageError("the repositories were not created, so nothing was pushed")
    repositories = outcome.outputs.get("ecr_repository_urls", {}).get("value", {})
    if repositories:
        ecr_login(next(iter(repositories.values())),
                  boto_session(region=deployment.workflow.settings.region).client("ecr"))
    pushed = push_all(contexts, repositories, on_pushed=on_pushed)
    return record_images(deployment.workdir, pushed)


def functions_without_images(workflow: Workflow, workdir: Path, ecr_client) -> list[str]:
    """The functions whose image is neither recorded by `avgen build --push` nor in ECR as `latest`.

    Lambda refuses CreateFunction for an image that does not exist ("Source image … does not exist"), so a
    first apply must not start with any of these. An ECR that cannot be asked (no credentials, no network)
    answers nothing here: terraform will say what is wrong with the same credentials.
    """
    import botocore.exceptions

    path = Path(workdir) / IMAGES_VARS_FILE
    recorded = json.loads(path.read_text()).get(IMAGES_VARIABLE, {}) if path.exists() else {}
    missing = []
    for function in workflow.functions:
        if function.name in recorded:
            continue
        try:
            ecr_client.describe_images(repositoryName=function.resource_name.lower(),
                                       imageIds=[{"imageTag": "latest"}])
        except botocore.exceptions.ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("RepositoryNotFoundException", "ImageNotFoundException"):
                missing.append(function.name)
                continue
            return []
        except botocore.exceptions.BotoCoreError:
            return []
    return missing
