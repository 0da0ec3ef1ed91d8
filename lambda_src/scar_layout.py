"""Where SCAR users' scripts find the tools of SCAR's images: `cd /opt/darknet; ./darknet …` and
`./audio2srt.py …` in the image's working folder.

avgen's stand-ins (batch_jobs/handlers/scar_tools.py) take those places where the real tools are absent:
- in a function's image, `install_in_image` (run by the Dockerfile at build time) lays them out at
  /opt/darknet and in the image's WORKDIR, unless the base image has something there already;
- wherever a script runs (Lambda, Batch, the sandbox, `avgen run --local`), `lay_out` writes them into the
  invocation's own folder, and the script runs after a prelude that defines a `cd` function: `cd` into a SCAR
  tool folder that does not exist on this machine goes to the stand-ins' copy instead (a function named `cd`
  takes precedence over the builtin in every POSIX sh). The user's /opt is never written outside images.

The script's working folder is, as in SCAR, the image's WORKDIR where the runtime runs inside an image (the
Dockerfile sets AVGEN_SCRIPT_WORKDIR=.); elsewhere there is no image folder, so the script runs in a fresh
folder of its invocation that holds `audio2srt.py` (INPUT_FILE_PATH, TMP_INPUT_DIR, TMP_OUTPUT_DIR are absolute).
"""
from __future__ import annotations

import os
import stat
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

TOOLS_VARIABLE = "AVGEN_SCAR_TOOLS"          # the invocation's stand-in folder, for the prelude's `cd`
WORKDIR_VARIABLE = "AVGEN_SCRIPT_WORKDIR"    # "." (or a folder): the script's working folder; unset: a fresh one
STANDIN_MODULE = "batch_jobs.handlers.scar_tools"
# The first line of every placeholder model file: the darknet stand-in (batch_jobs) tells them from real ones.
PLACEHOLDER_MARK = "# avgen SCAR stand-in placeholder"
# SCAR's tool folders, as its images had them: the executables there, and the model files its scripts name
# (placeholders: the stand-in uses the function's configured model for them).
TOOL_FOLDERS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "/opt/darknet": (("darknet",), ("cfg/yolo.cfg", "cfg/yolov3.cfg", "cfg/yolov3-tiny.cfg", "cfg/coco.data",
                                    "yolo.weights", "yolov3.weights", "yolov3-tiny.weights")),
}
WORKDIR_TOOLS = ("audio2srt.py",)  # called as ./TOOL from the image's working folder
# The commands these provide, as scripts write them (for `avgen run --local`'s check of what is installed).
COMMANDS = {"darknet": "darknet", "./darknet": "darknet", "/opt/darknet/darknet": "darknet",
            "audio2srt.py": "audio2srt.py", "./audio2srt.py": "audio2srt.py"}


@dataclass(frozen=True)
class ScriptTools:
    folder: Path            # the stand-ins' own root (TOOL_FOLDERS laid out under it)
    prelude: Path
    workdir: Path | None    # the script's working folder; None: the runtime's own (an image's WORKDIR)

    @property
    def bin(self) -> Path:
        """Every stand-in by its name, for the end of PATH (a `darknet` the machine has comes first)."""
        return self.folder / "bin"

    def environment(self, path: str) -> dict[str, str]:
        """What the script's environment gets, given its PATH."""
        return {TOOLS_VARIABLE: str(self.folder), "PATH": os.pathsep.join(filter(None, [path, str(self.bin)]))}


def prelude_text() -> str:
    """A POSIX sh `cd` that sends a SCAR tool folder missing here to its stand-in copy; all else is the builtin."""
    patterns = "|".join(f"{folder}|{folder}/*" for folder in sorted(TOOL_FOLDERS))
    return (
        "# avgen: SCAR's tool folders, where this machine lacks them, are avgen's stand-ins (docs/runtime.md)\n"
        "cd() {\n"
        '  if [ "$#" -eq 1 ] && [ ! -d "$1" ]; then\n'
        f'    case "$1" in {patterns}) command cd "${TOOLS_VARIABLE}$1"; return ;; esac\n'
        "  fi\n"
        '  command cd "$@"\n'
        "}\n"
    )


def _launcher(tool: str, python: str, isolated: bool) -> str:
    """An executable that runs the stand-in with the runtime's own Python, the way the runtime runs it
    (`-I` in images, so that the base image's PYTHONPATH never reaches avgen's interpreter)."""
    flags = "-I " if isolated else ""
    return (f"#!/bin/sh\n# avgen stand-in for SCAR's {tool} (docs/runtime.md)\n"
            f'exec "{python}" {flags}-m {STANDIN_MODULE} {tool} "$@"\n')


def _write(path: Path, text: str, executable: bool = False) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    if executable:
        path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)


def _placeholder(name: str) -> str:
    return (f"{PLACEHOLDER_MARK}: {name}\n# avgen's darknet stand-in uses the function's model here: YOLO_CFG, "
            "YOLO_WEIGHTS, YOLO_NAMES (paths or s3://), else the cfg and names bundled with avgen.\n")


def write_tool_folder(folder: Path, scar_folder: str, *, python: str, isolated: bool) -> None:
    """The stand-ins of one SCAR tool folder (e.g. /opt/darknet's `darknet` and cfg/ placeholders) in `folder`."""
    executables, placeholders = TOOL_FOLDERS[scar_folder]
    for tool in executables:
        _write(folder / tool, _launcher(tool, python, isolated), executable=True)
    for name in placeholders:
        _write(folder / name, _placeholder(name))


def write_workdir_tools(folder: Path, *, python: str, isolated: bool, keep_existing: bool = False) -> None:
    for tool in WORKDIR_TOOLS:
        if not (keep_existing and os.path.lexists(folder / tool)):
            _write(folder / tool, _launcher(tool, python, isolated), executable=True)


def lay_out(folder: Path, *, environ: Mapping[str, str] | None = None, python: str | None = None,
            isolated: bool | None = None) -> ScriptTools:
    """The stand-ins and the prelude of one invocation, in `folder` (which the invocation removes after)."""
    environ = os.environ if environ is None else environ
    python = python or sys.executable
    isolated = bool(sys.flags.isolated) if isolated is None else isolated
    for scar_folder in TOOL_FOLDERS:
        write_tool_folder(folder / scar_folder.lstrip("/"), scar_folder, python=python, isolated=isolated)
    for tool in (*(t for executables, _ in TOOL_FOLDERS.values() for t in executables), *WORKDIR_TOOLS):
        _write(folder / "bin" / tool, _launcher(tool, python, isolated), executable=True)
    prelude = folder / "prelude.sh"
    _write(prelude, prelude_text())
    chosen = environ.get(WORKDIR_VARIABLE)
    if chosen:
        workdir = None if chosen == "." else Path(chosen)
    else:
        workdir = folder / "work"
        write_workdir_tools(workdir, python=python, isolated=isolated)
    return ScriptTools(folder, prelude, workdir)


def install_in_image(workdir: Path | None = None, root: Path = Path("/")) -> list[str]:
    """At image build time: the stand-ins at SCAR's places where the base image has nothing there.

    Returns one line per decision, for the build log. A base image that has the real tools keeps them, and
    a folder this build user cannot write is left alone (the runtime's `cd` mapping still finds /opt/darknet's
    stand-ins; `./audio2srt.py` then needs the real tool in the image).
    """
    workdir = Path.cwd() if workdir is None else workdir
    python, isolated = sys.executable, bool(sys.flags.isolated)
    done = []
    for scar_folder, (executables, _) in TOOL_FOLDERS.items():
        target = root / scar_folder.lstrip("/")
        if any(os.path.lexists(target / tool) for tool in executables):
            done.append(f"{scar_folder}: kept the base image's own tools")
            continue
        try:
            write_tool_folder(target, scar_folder, python=python, isolated=isolated)
            done.append(f"{scar_folder}: avgen's stand-ins for {', '.join(executables)}")
        except OSError as error:
            done.append(f"{scar_folder}: not written ({error.strerror}); the runtime maps `cd {scar_folder}`")
    for tool in WORKDIR_TOOLS:
        if os.path.lexists(workdir / tool):
            done.append(f"{workdir / tool}: kept the base image's own")
            continue
        try:
            write_workdir_tools(workdir, python=python, isolated=isolated, keep_existing=True)
            done.append(f"{workdir / tool}: avgen's stand-in")
        except OSError as error:
            done.append(f"{workdir / tool}: not written ({error.strerror})")
    return done


if __name__ == "__main__":  # the Dockerfile: python -I -m lambda_src.scar_layout
    for line in install_in_image():
        print(f"avgen: {line}")
