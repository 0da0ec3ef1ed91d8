"""The package as pip builds it: every Python package of the checkout is listed, the data travels with it."""
from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def listed_packages() -> set[str]:
    text = (ROOT / "pyproject.toml").read_text()
    block = re.search(r"^packages = \[(.*?)\]", text, re.S | re.M).group(1)
    return set(re.findall(r'"([\w.]+)"', block))


def test_every_package_of_the_checkout_is_in_the_wheel():
    on_disk = {".".join(p.parent.relative_to(ROOT).parts) for top in ("generator", "lambda_src", "batch_jobs")
               for p in (ROOT / top).rglob("__init__.py")}
    assert on_disk <= listed_packages(), sorted(on_disk - listed_packages())


def test_templates_modules_and_docs_are_package_data():
    text = (ROOT / "pyproject.toml").read_text()
    assert '"generator.templates" = "templates"' in text and '"generator.modules" = "modules"' in text
    # the rules' help in SARIF and the schema's descriptions are read from the docs (generator/workflow/docs.py)
    assert '"generator.docs" = "docs"' in text
    assert '"generator.docs" = ["rules.md", "workflow-format.md"]' in text
    assert {"generator.templates", "generator.modules", "generator.docs"} <= listed_packages()


def test_help_shows_no_python_types():
    """typer ≥ 0.27 prints `<bool>` and `<list[Path]>` as metavars; the pinned one reads as a person expects."""
    from typer.testing import CliRunner

    from generator.cli import app

    for command in ("validate", "put", "apply", "run"):
        text = CliRunner().invoke(app, [command, "--help"], env={"COLUMNS": "200"}).output
        assert "<bool>" not in text and "list[" not in text, text


def test_help_paragraphs_wrap_at_the_terminal_width_and_examples_keep_their_lines():
    """The docstrings' source line breaks do not reach the help (at 200 columns a paragraph is one line),
    while indented command examples, in a group's command too, stay one a line."""
    from typer.testing import CliRunner

    from generator.cli import app

    def help_of(*command: str) -> str:
        return CliRunner().invoke(app, [*command, "--help"], env={"COLUMNS": "200"}).output

    assert "(--auto-approve for pipelines); prints the outputs you need next. Triggers on" in help_of("apply")
    put = help_of("put")
    assert re.search(r"^ +avgen put workflow.yaml my_video.mp4 +# to the folder", put, re.M), put
    assert re.search(r"^ +avgen put clips/ -b my-bucket/input", put, re.M), put
    fetch = help_of("models", "fetch")
    assert "`YOLO_WEIGHTS: s3://BUCKET/models/yolov3.weights` in its environment (avgen grants" in fetch, fetch
    assert re.search(r"^ +avgen models fetch yolov3 --to s3://my-bucket/models", fetch, re.M), fetch


def test_every_commands_help_has_an_example():
    """A newcomer reads `avgen CMD --help` first: each command shows at least one command line to start from."""
    import typer
    from typer.testing import CliRunner

    from generator.cli import app

    def commands(group, path: tuple[str, ...] = ()):
        for name, command in group.commands.items():
            if hasattr(command, "commands"):  # a group (typer's own click, not the click package)
                yield from commands(command, (*path, name))
            else:
                yield (*path, name)

    every = list(commands(typer.main.get_command(app)))
    assert ("schema",) in every and ("sandbox", "down") in every
    for command in every:
        text = CliRunner().invoke(app, [*command, "--help"], env={"COLUMNS": "200"}).output
        assert re.search(rf"Examples?:\s+[^\n]*\bavgen {' '.join(command)}\b", text), text


# Which rooms of generator/ each room may import (data flows cli → workflow → render → deploy/verbs → aws;
# docs/architecture.md says why).
MAY_IMPORT = {
    # workdirs: a leaf that names a workflow from its files (one rule for its name and its folders)
    # shipped: a leaf that finds the repository's folders shipped as package data (templates, docs)
    "workflow": {"workflow", "errors", "workdirs", "shipped"},
    "render": {"render", "workflow", "errors", "shipped"},
    # interrupts: a leaf that turns the signals ending avgen into one exception, and watches what avgen started
    "aws": {"aws", "errors", "workdirs", "interrupts"},
    "verbs": {"verbs", "workflow", "aws", "errors", "workdirs", "interrupts"},
    "deploy": {"deploy", "render", "workflow", "aws", "errors", "workdirs", "interrupts"},
    "errors": set(), "workdirs": set(), "interrupts": set(), "shipped": set(),
}


def imported_modules(path: Path) -> set[str]:
    """Every module a file imports, at the top or inside functions (TYPE_CHECKING blocks left out)."""
    import ast

    tree = ast.parse(path.read_text())
    skipped = {id(node) for block in ast.walk(tree) if isinstance(block, ast.If)
               and "TYPE_CHECKING" in ast.unparse(block.test) for node in ast.walk(block)}
    found = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def test_data_flows_one_way_through_the_rooms():
    wrong = []
    for path in sorted((ROOT / "generator").rglob("*.py")):
        parts = path.relative_to(ROOT / "generator").with_suffix("").parts
        room = parts[0]
        if room not in MAY_IMPORT:
            continue  # cli/ and the package's __init__ may import every room
        for module in imported_modules(path):
            if module.startswith("generator."):
                target = module.split(".")[1]
                if target not in MAY_IMPORT[room]:
                    wrong.append(f"generator/{'/'.join(parts)}.py imports {module}")
    assert not wrong, wrong


def test_the_runtime_and_the_handlers_never_import_the_generator():
    for top in ("lambda_src", "batch_jobs"):
        for path in (ROOT / top).rglob("*.py"):
            assert not any(m == "generator" or m.startswith("generator.") for m in imported_modules(path)), path


def test_long_work_without_a_terminal_prints_plain_lines_now_and_then(monkeypatch):
    import threading

    from generator.cli import console

    printed: list[str] = []
    changed = threading.Condition()

    class NoTerminal:  # stands in for the error console: records what it is asked to print
        is_terminal = False

        def print(self, text, **options):
            with changed:
                printed.append(text)
                changed.notify_all()

    monkeypatch.setattr(console, "err", NoTerminal())
    monkeypatch.setattr(console, "HEARTBEAT_S", 0.01)
    running = set(threading.enumerate())
    with console.status_line("terraform plan…"):
        with changed:  # the work lasts until three heartbeats came, however slowly the machine runs
            assert changed.wait_for(lambda: len(printed) >= 4, timeout=60), printed
    assert printed[0] == "terraform plan…"
    assert all(line.startswith("terraform plan: still running (") for line in printed[1:]), printed
    assert set(threading.enumerate()) <= running  # the block's end stopped the heartbeat: its thread is gone


def test_the_package_never_imports_the_tests_or_the_development_data():
    """What ships (pyproject's packages) stands alone: test helpers live under tests/, shared data under devdata/."""
    wrong = [f"{path.relative_to(ROOT)} imports {module}" for top in ("generator", "lambda_src", "batch_jobs")
             for path in sorted((ROOT / top).rglob("*.py")) for module in imported_modules(path)
             if module.split(".")[0] in {"tests", "devdata"}]
    assert not wrong, wrong


def test_scripts_and_benchmarks_take_the_pinned_real_data_from_devdata_not_from_the_tests():
    wrong = [f"{path.relative_to(ROOT)} imports {module}" for top in ("scripts", "bench")
             for path in sorted((ROOT / top).rglob("*.py")) for module in imported_modules(path)
             if module == "tests.realdata" or module.startswith("tests.handlers")]
    assert not wrong, wrong
    assert "devdata.realdata" in imported_modules(ROOT / "scripts" / "fetch_models.py")


def _import_graph(folder: Path, package: str) -> dict[str, set[str]]:
    """Module → the modules of the same folder it imports (relative or absolute, anywhere in the file)."""
    import ast

    modules = {path.stem: path for path in folder.glob("*.py")}
    graph = {}
    for name, path in modules.items():
        found = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level == 1:
                found |= {node.module.split(".")[0]} if node.module else {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith(package + "."):
                found.add(node.module[len(package) + 1:].split(".")[0])
        graph[name] = found & modules.keys()
    return graph


def test_no_import_circles_in_the_handlers_or_the_runtime():
    """A module never imports, through any chain, one that imports it back: each shared piece has one home."""
    circles = []
    for folder, package in (("batch_jobs/handlers", "batch_jobs.handlers"), ("lambda_src", "lambda_src")):
        graph = _import_graph(ROOT / folder, package)
        for start in graph:
            reached, todo = set(), list(graph[start])
            while todo:
                module = todo.pop()
                if module not in reached:
                    reached.add(module)
                    todo += graph[module]
            if start in reached:
                circles.append(f"{folder}/{start}.py")
    assert not circles, circles
