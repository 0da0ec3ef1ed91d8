"""Where avgen keeps its files for a workflow: deployments, sandboxes and local runs.

Everything lives in `.avgen/` next to the workflow file, named after the workflow, so that the same file
always finds the same folders however its path was typed.
"""
from __future__ import annotations

from pathlib import Path

SANDBOX_STATE = "sandbox"  # the emulator's own state, inside a sandbox deployment's folder
IMAGES_DIR = "images"      # build contexts (`avgen build`; in the sandbox, what runs in place of the images)


def workflow_name(workflow_file: Path) -> str:
    """`examples/av-workflow/workflow.yaml` → `av-workflow`; `video.yaml` → `video`."""
    workflow_file = Path(workflow_file).resolve()
    return workflow_file.parent.name if workflow_file.stem == "workflow" else workflow_file.stem


def default_workdir(workflow_file: Path, sandbox: bool) -> Path:
    """`.avgen/NAME` next to the workflow (`NAME-sandbox` for the sandbox, so states never mix)."""
    workflow_file = Path(workflow_file)
    name = workflow_name(workflow_file)
    return workflow_file.parent / ".avgen" / (f"{name}-sandbox" if sandbox else name)


GITIGNORE = "# Written by avgen: state, plans, sandboxes and local runs are not for version control.\n*\n"


def make_workdir(path: Path) -> Path:
    """Create a working folder; a `.avgen/` folder gets a .gitignore so that state and plans are never committed."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    for folder in (path, *path.parents):
        if folder.name == ".avgen":
            ignore = folder / ".gitignore"
            if not ignore.exists():
                ignore.write_text(GITIGNORE)
            break
    return path


def sandbox_dir(workdir: Path) -> Path:
    """The emulator's state folder of a sandbox deployment."""
    return Path(workdir) / SANDBOX_STATE


def local_store(workflow_file: Path) -> Path:
    """The default folder of a local run's buckets: `.avgen/NAME-local` next to the workflow."""
    workflow_file = Path(workflow_file)
    return workflow_file.parent / ".avgen" / f"{workflow_name(workflow_file)}-local"


def local_run_log(workflow_file: Path) -> Path:
    """Where `avgen run --local` appends the runtime's JSON log lines."""
    store = local_store(workflow_file)
    return store.with_name(store.name + "-run.jsonl")
