"""Where avgen keeps its files for a workflow: deployments, sandboxes and local runs.

Everything lives in `.avgen/` next to the workflow file, named after the workflow, so that the same file
always finds the same folders however its path was typed, and through whatever symlinks (to the file or to
a folder above it): `.avgen/` is next to the file the links lead to.
"""
from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

# One workflow file, or several given together (`avgen apply A.yaml B.yaml`)
WorkflowFiles = Path | Sequence[Path]

SANDBOX_STATE = "sandbox"  # the emulator's own state, inside a sandbox deployment's folder
IMAGES_DIR = "images"      # build contexts (`avgen build`; in the sandbox, what runs in place of the images)


def workflow_name(workflow_file: Path) -> str:
    """`examples/av-workflow/workflow.yaml` → `av-workflow`; `video.yaml` → `video`."""
    workflow_file = Path(workflow_file).resolve()
    return workflow_file.parent.name if workflow_file.stem == "workflow" else workflow_file.stem


def distinct_files(files: str | Path | Sequence[str | Path]) -> list[Path]:
    """The files of a workflow, each once, sorted by their resolved paths: the order they were given in and
    how their paths were spelled change nothing (each keeps the spelling it was first given, for messages)."""
    if isinstance(files, (str, Path)):
        files = [Path(files)]
    first: dict[Path, Path] = {}
    for file in files:
        first.setdefault(Path(file).resolve(), Path(file))
    return [first[key] for key in sorted(first)]


def _home_and_name(files: WorkflowFiles) -> tuple[Path, str]:
    """Where a workflow's `.avgen/` lives and its name. One file: its folder and name (as always). Several:
    the deepest folder holding them all, and their names sorted and joined with `+`
    (`scar-batch-ffmpeg-split+scar-lambda-darknet`)."""
    if isinstance(files, (str, Path)):
        files = [Path(files)]
    resolved = [f.resolve() for f in distinct_files(files)]
    if len(resolved) == 1:
        return _folder_of(Path(next(iter(files))), resolved[0]), workflow_name(resolved[0])
    home = Path(os.path.commonpath([str(f.parent) for f in resolved]))
    return home, "+".join(sorted(workflow_name(f) for f in resolved))


def _folder_of(spelled: Path, resolved: Path) -> Path:
    """The folder of the workflow file itself: as it was typed when that names it, else (a symlinked file, or
    a path through a symlinked folder) the target's folder, so that every spelling finds one deployment."""
    return spelled.parent if spelled.parent.resolve() == resolved.parent else resolved.parent


def default_workdir(workflow_file: WorkflowFiles, sandbox: bool) -> Path:
    """`.avgen/NAME` next to the workflow (`NAME-sandbox` for the sandbox, so states never mix)."""
    home, name = _home_and_name(workflow_file)
    return home / ".avgen" / (f"{name}-sandbox" if sandbox else name)


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


def local_store(workflow_file: WorkflowFiles) -> Path:
    """The default folder of a local run's buckets: `.avgen/NAME-local` next to the workflow."""
    home, name = _home_and_name(workflow_file)
    return home / ".avgen" / f"{name}-local"


def local_run_log(workflow_file: WorkflowFiles) -> Path:
    """Where `avgen run --local` appends the runtime's JSON log lines."""
    store = local_store(workflow_file)
    return store.with_name(store.name + "-run.jsonl")
