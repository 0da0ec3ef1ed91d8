"""The workflows whose generated Terraform is kept as golden files, shared by the tests and
scripts/regen_golden.py."""
from __future__ import annotations

import re
from pathlib import Path

from generator.render.root import render
from generator.workflow.load import load_workflow
from generator.workflow.model import Workflow

REPO = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
GOLDEN_DIR = HERE / "golden"
DATA_DIR = HERE / "data"

CASES = {
    "av-workflow": REPO / "examples" / "av-workflow" / "workflow.yaml",
    "video-process": REPO / "examples" / "video-process" / "workflow.yaml",
    "edge-cases": HERE / "fixtures" / "edge-cases.yaml",
}
EXAMPLES = ("av-workflow", "video-process")


def project_version() -> str:
    """avgen's version as pyproject.toml states it: golden files don't depend on how avgen was installed."""
    text = (REPO / "pyproject.toml").read_text()
    project = text.split("[project]", 1)[1]
    return re.search(r'^version\s*=\s*"([^"]+)"', project, re.M).group(1)


def load_case(name: str) -> Workflow:
    result = load_workflow(CASES[name])
    assert result.ok, [str(f.location) + " " + f.message for f in result.findings]
    return result.workflow


def render_case(name: str) -> dict[str, str]:
    return render(load_case(name), avgen_version=project_version())


def golden_files(name: str) -> dict[str, str]:
    """The root module's files: the modules are copies of modules/ (tested as such), and keeping them here
    three times over would bury a template change in copies."""
    return {path: text for path, text in render_case(name).items() if not path.startswith("modules/")}
