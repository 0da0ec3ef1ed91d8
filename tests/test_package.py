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


def test_templates_and_modules_are_package_data():
    text = (ROOT / "pyproject.toml").read_text()
    assert '"generator.templates" = "templates"' in text and '"generator.modules" = "modules"' in text
    assert {"generator.templates", "generator.modules"} <= listed_packages()


def test_help_shows_no_python_types():
    """typer ≥ 0.27 prints `<bool>` and `<list[Path]>` as metavars; the pinned one reads as a person expects."""
    from typer.testing import CliRunner

    from generator.cli import app

    for command in ("validate", "put", "apply", "run"):
        text = CliRunner().invoke(app, [command, "--help"], env={"COLUMNS": "200"}).output
        assert "<bool>" not in text and "list[" not in text, text
