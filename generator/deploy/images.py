"""`avgen build`: one container build context per function, built and pushed where a Docker engine runs.

The contexts come from build.py (the function's image + avgen's runtime and handlers), each named
by content (`ctx-…`, build.context_tag). `push_all` asks ECR for that tag first and builds and pushes only
the images ECR does not hold yet (the repositories are IMMUTABLE: pushing an existing tag again is refused).
The digests are recorded in the working folder as `avgen-images.auto.tfvars.json`, which Terraform loads by
itself, so the next `avgen plan`/`apply` deploys exactly those images. With `--workdir` set to the folder of
the committed Terraform (`avgen generate -o`), the file is committed with it and a pull request's plan shows
the images it deploys; `avgen generate` leaves the file alone.

In the sandbox there is no Docker engine: each function's image is a manifest avgen registers in the
sandbox's ECR under the same content tag (`sandbox_push`), so that Lambda there, as on AWS, only creates a
function whose image exists.
"""
from __future__ import annotations

import base64
import hashlib
import json
import subprocess
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from generator.aws.containers import LOCAL_IMAGES_INDEX
from generator.aws.executor import CONTEXTS_INDEX
from generator.deploy.build import (
    BuildError,
    BuildOptions,
    build_and_push,
    build_args,
    build_image,
    context_tag,
    docker_available,
    docker_command,
    write_build_context,
)
from generator.errors import ImageError
from generator.workflow.model import Workflow

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


@dataclass(frozen=True)
class PushedImage:
    """One function's image after `push_all`: `reference` is REPOSITORY@sha256:DIGEST."""

    function: str
    reference: str
    pushed: bool  # False: ECR held the content tag already, nothing was built or pushed


# Pushes one context to a repository URL and returns REPOSITORY@sha256:DIGEST (None: no Docker engine).
Pusher = Callable[[ImageContext, str], str | None]


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


def repository_name(repository_url: str) -> str:
    """`ACCOUNT.dkr.ecr.REGION.amazonaws.com/NAME` → `NAME`."""
    return repository_url.split("/", 1)[1] if "/" in repository_url else repository_url


def existing_image(ecr_client, repository_url: str, tag: str) -> str | None:
    """REPOSITORY@sha256:DIGEST of the image ECR holds under `tag`, or None when it holds none."""
    import botocore.exceptions

    name = repository_name(repository_url)
    try:
        details = ecr_client.describe_images(repositoryName=name, imageIds=[{"imageTag": tag}])["imageDetails"]
    except botocore.exceptions.ClientError as exc:
        error = exc.response.get("Error", {})
        if error.get("Code") == "ImageNotFoundException":
            return None
        raise ImageError(f"ECR did not say whether {name}:{tag} exists: {error.get('Code')}: "
                         f"{error.get('Message')}") from None
    except botocore.exceptions.BotoCoreError as exc:
        raise ImageError(f"ECR could not be asked whether {name}:{tag} exists: {exc}") from None
    return f"{repository_url}@{details[0]['imageDigest']}" if details else None


def docker_push(run: Runner = subprocess.run, before_first: Callable[[], None] | None = None,
                options: BuildOptions = BuildOptions()) -> Pusher:
    """Build and push with the docker CLI; `before_first` runs once, before the first build (the login)."""
    pending = [before_first] if before_first else []

    def push(context: ImageContext, repository: str) -> str | None:
        while pending:
            pending.pop()()
        try:
            return build_and_push(context.path, repository, context.tag, extra_args=context.build_args,
                                  options=options, run=run)
        except BuildError as exc:
            raise ImageError(str(exc)) from None
    return push


def push_all(contexts: list[ImageContext], repositories: dict[str, str], ecr_client, *,
             push: Pusher | None = None, run: Runner = subprocess.run,
             on_image: Callable[[PushedImage], None] | None = None) -> dict[str, str]:
    """Build and push every context whose content tag ECR does not hold yet; returns
    {function: REPOSITORY@sha256:DIGEST} for all of them (an unchanged one keeps the digest ECR has)."""
    push = push or docker_push(run)
    images = {}
    for context in contexts:
        repository = repositories.get(context.function)
        if repository is None:
            raise ImageError(f"no ECR repository is deployed for `{context.function}`")
        reference = existing_image(ecr_client, repository, context.tag)
        result = PushedImage(context.function, reference, pushed=False) if reference else None
        if result is None:
            reference = push(context, repository)
            if reference is None:
                raise ImageError("no Docker engine answers (`docker info` failed)")
            result = PushedImage(context.function, reference, pushed=True)
        images[context.function] = result.reference
        if on_image:
            on_image(result)
    return images


LOCAL_REPOSITORY = "avgen-local"      # where `avgen build --local` tags images: avgen-local/FUNCTION:ctx-…


def build_local(contexts: list[ImageContext], resource_names: dict[str, str], options: BuildOptions,
                run: Runner = subprocess.run,
                on_building: Callable[[str, str], None] | None = None) -> dict[str, str]:
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


# -- the digests Terraform deploys -------------------------------------------------------------------


def images_file_text(images: dict[str, str]) -> str:
    """The images file: one line per function, sorted, with a blank line between them, so that two pull
    requests that change different functions' images merge without a conflict (git takes changes to
    adjacent lines as one)."""
    if not images:
        return json.dumps({IMAGES_VARIABLE: {}}) + "\n"
    entries = ",\n\n".join(f"    {json.dumps(name)}: {json.dumps(reference)}"
                           for name, reference in sorted(images.items()))
    return f'{{\n  "{IMAGES_VARIABLE}": {{\n{entries}\n  }}\n}}\n'


def recorded_images(workdir: Path) -> dict[str, str]:
    """{function: image} of the working folder's images file ({} when there is none)."""
    path = Path(workdir) / IMAGES_VARS_FILE
    try:
        text = path.read_text()
    except FileNotFoundError:
        return {}
    try:
        images = json.loads(text).get(IMAGES_VARIABLE, {})
    except (ValueError, AttributeError):
        images = None
    if not isinstance(images, dict) or not all(isinstance(v, str) for v in images.values()):
        raise ImageError(f"{path} is not an images file avgen can read (a merge conflict left in it?): it holds "
                         f'{{"{IMAGES_VARIABLE}": {{"FUNCTION": "REPOSITORY@sha256:DIGEST", ...}}}}; fix it, or '
                         "remove it and run `avgen build --push` again")
    return {str(k): v for k, v in images.items()}


def record_images(workdir: Path, pushed: dict[str, str], functions: Iterable[str] | None = None) -> Path:
    """Merge the pushed digests into the working folder's images file (other functions' stay); with
    `functions` (the workflow's), entries of functions that are gone are dropped: Terraform refuses a key of
    function_images that names no function."""
    path = Path(workdir) / IMAGES_VARS_FILE
    current = {**recorded_images(workdir), **pushed}
    if functions is not None:
        keep = set(functions)
        current = {name: image for name, image in current.items() if name in keep}
    text = images_file_text(current)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists() or path.read_text() != text:
        path.write_text(text)
    return path


def push_images(deployment, contexts: list[ImageContext], confirm, *,
                on_image: Callable[[PushedImage], None] | None = None,
                options: BuildOptions = BuildOptions()) -> Path:
    """Create the ECR repositories (a targeted apply), build and push every image ECR does not hold yet,
    record the digests. Returns the file the digests were written to; the next plan/apply of `deployment`
    deploys them."""
    from generator.aws.clients import boto_session

    outcome = deployment.apply(confirm, targets=("module.image",))
    # applied, or nothing to change (the repositories are there from an earlier push)
    if outcome.blocked or (not outcome.applied and (outcome.summary is None or outcome.summary.has_changes)):
        raise ImageError("the repositories were not created, so nothing was pushed")
    repositories = outcome.outputs.get("ecr_repository_urls", {}).get("value", {})
    ecr = boto_session(region=deployment.workflow.settings.region).client("ecr")
    login = (lambda: ecr_login(next(iter(repositories.values())), ecr)) if repositories else None
    pushed = push_all(contexts, repositories, ecr, push=docker_push(before_first=login, options=options),
                      on_image=on_image)
    return record_images(deployment.workdir, pushed, functions=[f.name for f in deployment.workflow.functions])


# -- the sandbox's images --------------------------------------------------------------------------

MANIFEST_TYPE = "application/vnd.docker.distribution.manifest.v2+json"


def sandbox_manifest(context: ImageContext) -> str:
    """The image manifest that stands for a context's image in the sandbox: its config and its one layer are
    named after the content tag, so the same context always gets the same manifest, and the same digest."""
    def blob(kind: str) -> str:
        return "sha256:" + hashlib.sha256(f"avgen sandbox {kind} {context.tag}".encode()).hexdigest()

    manifest = {
        "schemaVersion": 2,
        "mediaType": MANIFEST_TYPE,
        "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": 0,
                   "digest": blob("config")},
        "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "size": 0,
                    "digest": blob("layer")}],
    }
    return json.dumps(manifest, sort_keys=True, separators=(",", ":"))


def manifest_digest(manifest: str) -> str:
    """A manifest's digest as ECR computes it: the sha256 of its bytes."""
    return "sha256:" + hashlib.sha256(manifest.encode()).hexdigest()


def sandbox_push(ecr_client) -> Pusher:
    """`avgen build --push` of the sandbox: register the context's manifest under its content tag."""
    def push(context: ImageContext, repository: str) -> str:
        manifest = sandbox_manifest(context)
        digest = manifest_digest(manifest)
        ecr_client.put_image(repositoryName=repository_name(repository), imageManifest=manifest,
                             imageManifestMediaType=MANIFEST_TYPE, imageTag=context.tag, imageDigest=digest)
        return f"{repository}@{digest}"
    return push


def sandbox_reference(registry: str, repository: str, context: ImageContext) -> str:
    """What `sandbox_push` records for a context, known before the repository exists (a plan)."""
    return f"{registry}/{repository}@{manifest_digest(sandbox_manifest(context))}"


# -- before an apply on AWS ------------------------------------------------------------------------


@dataclass
class MissingImages:
    """Functions Lambda could not be created for: no image recorded, or a recorded one ECR does not hold."""

    unrecorded: list[str]
    absent: list[str]

    def __bool__(self) -> bool:
        return bool(self.unrecorded or self.absent)


def functions_without_images(workflow: Workflow, workdir: Path, ecr_client=None) -> MissingImages:
    """The functions whose image is not recorded by `avgen build --push`, and (with `ecr_client`) those
    whose recorded image ECR does not hold.

    Lambda refuses CreateFunction for an image that does not exist ("Source image … does not exist"), so an
    apply must not start with any of these. An ECR that cannot be asked (no credentials, no network) answers
    nothing here: terraform will say what is wrong with the same credentials.
    """
    import botocore.exceptions

    recorded = recorded_images(workdir)
    missing = MissingImages([f.name for f in workflow.functions if f.name not in recorded], [])
    if ecr_client is None:
        return missing
    for function in workflow.functions:
        reference = recorded.get(function.name)
        if reference is None or "@" not in reference:
            continue
        location, digest = reference.split("@", 1)
        try:
            ecr_client.describe_images(repositoryName=repository_name(location), imageIds=[{"imageDigest": digest}])
        except botocore.exceptions.ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("RepositoryNotFoundException", "ImageNotFoundException"):
                missing.absent.append(function.name)
                continue
            return missing
        except botocore.exceptions.BotoCoreError:
            return missing
    return missing
