"""Every file path and module named in prose exists: the docs, the READMEs, comments and docstrings, and the
messages the package prints. A file moved or renamed leaves no pointer to where it used to be."""
from __future__ import annotations

import ast
import io
import os
import re
import subprocess
import tokenize
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# Something shaped like a file path: folders, then a name with one of the extensions the project uses.
FILE_PATH = re.compile(r"(?<![\w./~$<-])((?:\.\./|\./)?(?:[A-Za-z_][\w.-]*/)+[\w.-]*"
                       r"\.(?:py|md|sh|toml|tf|j2|json|ya?ml|txt|in|cfg|lock|names))(?![\w/])")
# A dotted name inside one of the project's own packages: generator.render.root, batch_jobs.handlers.cli…
MODULE = re.compile(r"(?<![\w.])((?:generator|lambda_src|batch_jobs|devdata|tests)(?:\.[A-Za-z_]\w*)+)")
SHIPPED = ("generator/", "lambda_src/", "batch_jobs/")  # their string literals are messages users read

# Paths named in prose that are not files of this checkout, each with why it is named.
NOT_OURS = {
    r"^cfg/": "the model files of SCAR's images that users' scripts name (cfg/yolo.cfg), stood in for at run time",
    r"^(\.\./)?scripts/split(-video)?\.sh$": "a user's script, in the examples of docs/rules.md and its messages",
    r"^media/workflow\.yaml$": "a user's workflow file, in examples of commands",
    r"avgen-images\.auto\.tfvars\.json$": "written by `avgen build` into the user's deployment folder",
    r"^(scar|storage|src)/": "files of SCAR's and faas-supervisor's repositories, cited for SCAR's semantics",
    r"^path/to/": "a placeholder",
    r"^bench/bench_x\.py$": "a placeholder for any benchmark",
    r"^skimage/": "a member of scikit-image's wheel (the real photos)",
    r"^(in|mid|out)/": "S3 keys in the tests' buckets",
    r"^WORKDIR/": "inside a user's deployment folder (--workdir)",
}
NOT_MODULES = {"generator.NAME": "a placeholder for any folder shipped as package data",
               "generator.cli.cmd_GROUP": "a placeholder for any command group's module",
               "generator.cli.cmd_": "the prefix the command groups' modules share"}
# Folders shipped under another name (pyproject's package-dir): generator.templates is templates/, …
PACKAGE_DIRS = {"generator.templates", "generator.modules", "generator.docs"}


def tracked_files() -> list[str]:
    listed = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                            capture_output=True, text=True)
    if listed.returncode != 0:
        pytest.skip("not a git checkout")  # an sdist has no history to compare against; the checkout does
    return [name for name in listed.stdout.split() if (ROOT / name).is_file()]


def prose_files(files: list[str]) -> list[str]:
    def wanted(name: str) -> bool:
        if name.startswith("tests/generate/golden/") or "/fixtures/" in name:
            return False  # generated output and inputs of tests, not prose
        return ((name.endswith(".md") and (name.startswith("docs/") or name.endswith("README.md")))
                or name.endswith(".py") or name.startswith(("scripts/", ".ci/")) or name == "pyproject.toml"
                or name.startswith("batch_jobs/image/"))
    return [name for name in files if wanted(name)]


def prose_of(name: str) -> list[tuple[int, str]]:
    """(line, text) of what a person reads in the file: all of a Markdown file; a Python file's comments and
    docstrings (and every string of the shipped package: its messages); the comments of the others."""
    text = (ROOT / name).read_text(errors="replace")
    if name.endswith(".md"):
        return list(enumerate(text.splitlines(), 1))
    if not name.endswith(".py"):
        return [(number, line.split("#", 1)[1]) for number, line in enumerate(text.splitlines(), 1) if "#" in line]
    found = [(token.start[0], token.string) for token in tokenize.generate_tokens(io.StringIO(text).readline)
             if token.type == tokenize.COMMENT]
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            docstring = ast.get_docstring(node)
            if docstring:
                found.append((node.body[0].lineno, docstring))
        elif name.startswith(SHIPPED) and isinstance(node, ast.Constant) and isinstance(node.value, str):
            found.append((node.lineno, node.value))
    return found


def file_exists(path: str, mentioned_in: str, files: set[str]) -> bool:
    """Named from the root, from the mentioning file's folder, or as the end of a path (`render/root.py`)."""
    return (path in files or os.path.normpath(os.path.join(os.path.dirname(mentioned_in), path)) in files
            or any(name.endswith("/" + path) for name in files))


def top_level_names(path: Path) -> set[str]:
    names = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names |= {n.id for target in targets for n in ast.walk(target) if isinstance(n, ast.Name)}
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names |= {(alias.asname or alias.name).split(".")[0] for alias in node.names}
    return names


def module_exists(dotted: str, files: set[str]) -> bool:
    """A module or package of the checkout, or a name defined at the top of one (`lambda_src.handler.handler`)."""
    parts = dotted.split(".")
    for length in range(len(parts), 0, -1):
        stem = "/".join(parts[:length])
        source = next((c for c in (f"{stem}.py", f"{stem}/__init__.py") if c in files), None)
        if source is not None:
            return length == len(parts) or parts[length] in top_level_names(ROOT / source)
        if ".".join(parts[:length]) in PACKAGE_DIRS:
            return True
    return False


def test_every_path_named_in_prose_exists():
    files = tracked_files()
    present = set(files)
    missing = []
    for name in prose_files(files):
        for line, text in prose_of(name):
            for match in FILE_PATH.finditer(text):
                path = match.group(1)
                if not file_exists(path, name, present) and not any(re.search(p, path) for p in NOT_OURS):
                    missing.append(f"{name}:{line}: {path}")
            for match in MODULE.finditer(text):
                dotted = match.group(1)
                if dotted not in NOT_MODULES and not module_exists(dotted, present):
                    missing.append(f"{name}:{line}: {dotted}")
    assert not missing, "named in prose but not in the checkout:\n" + "\n".join(sorted(set(missing)))


def test_the_check_finds_a_stale_path_and_a_stale_module():
    """The checker itself: a docstring naming a file that moved, and a module that was renamed, are found."""
    present = {"generator/render/checkov_skips.py", "generator/render/__init__.py", "generator/__init__.py"}
    assert file_exists("generator/render/checkov_skips.py", "docs/x.md", present)
    assert file_exists("render/checkov_skips.py", "docs/x.md", present)  # the end of a real path
    assert not file_exists("generator/checkov_skips.py", "docs/x.md", present)
    assert [m.group(1) for m in FILE_PATH.finditer("edit `generator/checkov_skips.py`; see docs/rules.md.")] \
        == ["generator/checkov_skips.py", "docs/rules.md"]
    assert module_exists("generator.render.checkov_skips", present)
    assert not module_exists("generator.render.schema_check", present)
