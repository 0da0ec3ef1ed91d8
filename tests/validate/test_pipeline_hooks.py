"""The pre-commit hooks and the GitHub Action run as a user's repository runs them (the Action's steps as shell)."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from tests.conftest import copy_example

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "video-process"


@pytest.fixture
def repo(tmp_path):
    """A git repository holding a copy of an example and its generated Terraform, and `avgen` on PATH."""
    work = tmp_path / "repo"
    copy_example(EXAMPLE, work / "media")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    shim = bin_dir / "avgen"
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m generator.cli "$@"\n')
    shim.chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "PYTHONPATH": str(ROOT),
           "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@example.com"}
    text = (work / "media" / "workflow.yaml").read_text()
    # a bucket name the user owns instead of the placeholder (AVG029), as the README asks
    (work / "media" / "workflow.yaml").write_text(text.replace("change-me-", "acme-media-"))
    sh(work, env, "git init -q && avgen generate media/workflow.yaml -o media/terraform >/dev/null && "
                  "git add -A && git commit -qm example")
    return work, env


def sh(cwd: Path, env: dict, command: str, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run(["bash", "-c", command], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)
    if check:
        assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


def test_pre_commit_hooks_pass_then_catch_a_typo_and_stale_terraform(repo):
    work, env = repo
    hooks = {hook["id"]: hook for hook in YAML(typ="safe").load((ROOT / ".pre-commit-hooks.yaml").read_text())}
    assert set(hooks) == {"avgen-validate", "avgen-generate-check"}
    # as pre-commit runs a hook: entry, args, then the files
    validate = " ".join([hooks["avgen-validate"]["entry"], *hooks["avgen-validate"]["args"], "media/workflow.yaml"])
    generate = f"{hooks['avgen-generate-check']['entry']} media/workflow.yaml -o media/terraform"
    assert hooks["avgen-generate-check"]["pass_filenames"] is False
    sh(work, env, validate)
    sh(work, env, generate)
    path = work / "media" / "workflow.yaml"
    path.write_text(path.read_text().replace("memory:", "memroy:", 1))
    assert sh(work, env, validate, check=False).returncode == 1
    path.write_text(path.read_text().replace("memroy:", "memory: 4096\n      # was:", 1))
    assert sh(work, env, generate, check=False).returncode == 1


def test_the_action_steps_run_as_shell(repo):
    work, env = repo
    action = YAML(typ="safe").load((ROOT / "action.yml").read_text())
    assert action["runs"]["using"] == "composite" and set(action["inputs"]) >= {"workflow", "generated", "mode"}
    steps = action["runs"]["steps"]
    assert 'pip install "$GITHUB_ACTION_PATH"' in steps[0]["run"]
    inputs = {"workflow": "media/workflow.yaml", "generated": "media/terraform", "strict": "true"}
    ran = 0
    for step in steps[1:]:
        if "if" in step or "run" not in step:
            continue  # plan / apply / the PR comment need AWS and GitHub
        step_env = {**env, **{name: value.replace("${{ inputs.workflow }}", inputs["workflow"])
                              .replace("${{ inputs.generated }}", inputs["generated"])
                              .replace("${{ inputs.strict }}", inputs["strict"])
                              for name, value in step.get("env", {}).items()}}
        proc = sh(work, step_env, step["run"])
        ran += 1
        if "--format github" in step["run"]:
            assert "1 file checked: 0 errors, 0 warnings" in proc.stdout
    assert ran == 2
    # a typo shows up as an annotation on its line, and fails the step
    path = work / "media" / "workflow.yaml"
    path.write_text(path.read_text().replace("memory:", "memroy:", 1))
    validate = next(step for step in steps if "--format github" in step.get("run", ""))
    proc = sh(work, {**env, "WORKFLOW": inputs["workflow"], "STRICT": "true"}, validate["run"], check=False)
    assert proc.returncode == 1 and "::error file=media/workflow.yaml,line=" in proc.stdout
    assert "title=AVG002::unknown key `memroy`" in proc.stdout


def test_the_action_plan_step_fails_on_a_usage_error_and_accepts_changes(tmp_path):
    """The Plan step's shell as written, against a stand-in `avgen plan` that exits as asked: changes (2) pass,
    failures fail; and the real CLI's answer to a mistyped option (64, never 2) fails the step."""
    steps = YAML(typ="safe").load((ROOT / "action.yml").read_text())["runs"]["steps"]
    (plan,) = [step for step in steps if step.get("name") == "Plan"]
    assert "--detailed-exitcode" in plan["run"]
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    stub = bin_dir / "avgen"
    stub.write_text('#!/bin/sh\necho "$@" > "$ARGS_FILE"\nexit "$PLAN_EXIT"\n')
    stub.chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "ARGS_FILE": str(tmp_path / "args"),
           "WORKFLOW": "media/workflow.yaml", "GENERATED": "media/terraform"}
    outcomes = {code: sh(tmp_path, {**env, "PLAN_EXIT": str(code)}, plan["run"], check=False).returncode
                for code in (0, 1, 2, 64)}
    assert outcomes == {0: 0, 1: 1, 2: 0, 64: 64}
    assert "--detailed-exitcode" in (tmp_path / "args").read_text()
    # the real CLI, given the step's command line with a mistyped option: a usage error, so the step fails
    shim = bin_dir / "avgen"
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m generator.cli "$@"\n')
    typo = plan["run"].replace("--no-color", "--no-colour")
    proc = sh(tmp_path, {**env, "PYTHONPATH": str(ROOT)}, typo, check=False)
    assert proc.returncode == 64 and "No such option: --no-colour" in proc.stderr


# Where the docs tell users to install avgen from: the Action (`avgen/avgen@REF`), pip
# (`git+https://github.com/avgen/avgen@REF`) and pre-commit (`rev: REF` under avgen's repository).
INSTALL_REF = re.compile(r"avgen/avgen@([^\s\"'`)]+)|github\.com/avgen/avgen\n\s*rev:\s*(\S+)")


def install_refs() -> list[tuple[str, str]]:
    files = [ROOT / "README.md", ROOT / ".pre-commit-hooks.yaml", ROOT / "action.yml",
             *sorted((ROOT / "docs").rglob("*.md")), *sorted((ROOT / "docs").rglob("*.yml"))]
    found = []
    for path in files:
        # the hooks file's example is commented out: read it as the YAML it shows
        text = re.sub(r"^#\s?", "", path.read_text(encoding="utf-8"), flags=re.M)
        found += [(path.name, a or b) for a, b in INSTALL_REF.findall(text)]
    return found


def test_the_docs_install_avgen_from_something_that_exists():
    """avgen has no release yet: a snippet pinned to a tag that does not exist (`@v0.1.0`, `rev: v0.1.0`)
    fails for whoever copies it (pre-commit exits 3). The docs name the `<commit>` placeholder they explain,
    or a tag of this repository."""
    refs = install_refs()
    assert {name for name, _ in refs} >= {"deploy.md", "avgen-pipeline.yml", ".pre-commit-hooks.yaml"}
    tags = set(subprocess.run(["git", "tag", "--list"], cwd=ROOT, capture_output=True, text=True,
                              check=True).stdout.split())
    wrong = [(name, ref) for name, ref in refs if ref != "<commit>" and ref not in tags]
    assert not wrong, f"no such tag (fetch tags if it is a new release): {wrong}"
    assert "<commit>" in (ROOT / "docs" / "deploy.md").read_text(encoding="utf-8").split("In this section", 1)[1]


def test_the_validate_hook_takes_strict_from_its_args():
    """pre-commit replaces a hook's `args` with the user's, never its entry: `--strict` belongs in args."""
    (hook,) = [h for h in YAML(typ="safe").load((ROOT / ".pre-commit-hooks.yaml").read_text())
               if h["id"] == "avgen-validate"]
    assert "--strict" not in hook["entry"].split() and hook["args"] == ["--strict"]
