"""Generated files that pull requests can share (issue 27): the same workflow gives the same bytes from any
checkout or output folder, and two branches that change or add different functions merge without a conflict
in the generated Terraform or its manifest."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from generator.cli.app import app
from generator.render.root import MANIFEST

from .cases import CASES

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="git not installed")

NEW_FUNCTION = """  - lambda:
      name: {name}
      container:
        image: debian:bookworm-slim
      init_script: ffmpeg-script.sh
      input:
      - storage_provider: s3
        path: change-me-av-workflow/{name}-in
      output:
      - storage_provider: s3
        path: change-me-av-workflow/{name}-out
"""


def generate(workflow: Path, out: Path) -> None:
    result = CliRunner().invoke(app, ["generate", str(workflow), "-o", str(out)])
    assert result.exit_code == 0, result.output


def generate_check(workflow: Path, out: Path) -> int:
    return CliRunner().invoke(app, ["generate", str(workflow), "-o", str(out), "--check"]).exit_code


def files_of(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("case", ["av-workflow", "video-process"])
def test_the_same_workflow_gives_the_same_bytes_from_any_folder(case, tmp_path):
    checkouts = [tmp_path / "checkout" / case, tmp_path / "elsewhere" / "renamed-copy"]
    for checkout in checkouts:
        shutil.copytree(CASES[case].parent, checkout)
    generate(checkouts[0] / "workflow.yaml", checkouts[0] / "infra")
    generate(checkouts[1] / "workflow.yaml", tmp_path / "out" / "terraform")
    first, second = files_of(checkouts[0] / "infra"), files_of(tmp_path / "out" / "terraform")
    assert MANIFEST in first and "main.tf" in first
    assert first == second
    for text in first.values():
        assert str(tmp_path).encode() not in text and b"renamed-copy" not in text


def git(repo: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args], cwd=repo,
                          capture_output=True, text=True)


def branch(repo: Path, name: str, edit) -> None:
    assert git(repo, "checkout", "-q", "-b", name, "main").returncode == 0
    workflow = repo / "workflow.yaml"
    workflow.write_text(edit(workflow.read_text()))
    generate(workflow, repo / "infra")
    assert git(repo, "commit", "-qam", name).returncode == 0


def replace_nth(text: str, old: str, new: str, n: int) -> str:
    parts = text.split(old)
    return old.join(parts[:n + 1]) + new + old.join(parts[n + 1:])


@pytest.mark.parametrize("edits", [
    # one function's memory each (the first and the second `memory: 1024`)
    (lambda t: replace_nth(t, "memory: 1024", "memory: 2048", 0),
     lambda t: replace_nth(t, "memory: 1024", "memory: 3008", 1)),
    # a function each, whose names sort apart (one before the workflow's functions, one after)
    (lambda t: t.replace("  aws:\n", "  aws:\n" + NEW_FUNCTION.format(name="aa-thumbs"), 1),
     lambda t: t.replace("\navgen:\n", "\n" + NEW_FUNCTION.format(name="zz-archive") + "avgen:\n", 1)),
], ids=["change-two-functions", "add-two-functions"])
def test_two_branches_on_different_functions_merge_without_a_conflict(edits, tmp_path):
    repo = tmp_path / "repo"
    shutil.copytree(CASES["av-workflow"].parent, repo)
    generate(repo / "workflow.yaml", repo / "infra")
    assert git(repo, "init", "-q", "-b", "main").returncode == 0
    git(repo, "add", ".")
    assert git(repo, "commit", "-qm", "base").returncode == 0
    branch(repo, "one", edits[0])
    branch(repo, "two", edits[1])
    merged = git(repo, "merge", "--no-edit", "one")
    assert merged.returncode == 0, merged.stdout + merged.stderr
    # what git merged is what avgen generates from the merged workflow, and both changes are in it
    assert generate_check(repo / "workflow.yaml", repo / "infra") == 0
    changed = git(repo, "diff", "--stat", "main", "HEAD", "--", "infra").stdout
    assert "main.tf" in changed
