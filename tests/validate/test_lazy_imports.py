"""The short commands (`--help`, validate, graph, generate) start without boto3, requests or the deploy core."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
AV_WORKFLOW = ROOT / "examples" / "av-workflow" / "workflow.yaml"
HEAVY = {"boto3", "botocore", "moto", "requests"}
CORE = ("generator.deploy", "generator.aws", "generator.verbs")

PROGRAM = """
import json, sys
from typer.testing import CliRunner
from generator.cli import app
result = CliRunner().invoke(app, sys.argv[1:])
print(json.dumps({
    "exit": result.exit_code,
    "heavy": sorted(m for m in sys.modules if m.split('.')[0] in %r),
    "core": sorted(m for m in sys.modules if m.startswith(%r)),
}))
"""


def imported_by(*args: str) -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", PROGRAM % (HEAVY, CORE), *args], capture_output=True, text=True,
                          env=env, cwd=ROOT, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("args", [["--help"], ["validate", str(AV_WORKFLOW)], ["graph", str(AV_WORKFLOW)],
                                  ["generate", str(AV_WORKFLOW), "-o", "{tmp}"]], ids=lambda a: a[0])
def test_short_commands_import_no_aws_or_deploy_core(args, tmp_path):
    found = imported_by(*[a.replace("{tmp}", str(tmp_path / "tf")) for a in args])
    assert found["exit"] == 0
    assert found["heavy"] == []
    assert found["core"] == []


def run_avgen(*args: str) -> subprocess.CompletedProcess:
    """The real entry point (`avgen ARGS`), not Typer's test runner."""
    code = ("import json, sys; from generator.cli import app\n"
            "try:\n    app()\nfinally:\n"
            "    shown = ('generator.cli.', 'rich', 'ruamel')\n"
            "    print(json.dumps(sorted(m for m in sys.modules if m.startswith(shown))), file=sys.stderr)")
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, cwd=ROOT,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})


def test_one_command_registers_only_its_module():
    """`avgen validate` builds a command line of that one command: the other commands' modules, rich and
    ruamel stay unloaded, and what it prints and its exit code are those of the whole application (Typer's
    runner builds it all)."""
    from typer.testing import CliRunner

    from generator.cli import app

    done = run_avgen("validate", str(AV_WORKFLOW))
    modules = json.loads(done.stderr.strip().splitlines()[-1])
    assert "generator.cli.cmd_check" in modules
    assert not {"generator.cli.cmd_deploy", "generator.cli.cmd_files", "generator.cli.cmd_sandbox"} & set(modules)
    # without a terminal its text is printed without rich, and a plain document is read without ruamel
    assert not [m for m in modules if m.split(".")[0] in ("rich", "ruamel")]
    whole = CliRunner().invoke(app, ["validate", str(AV_WORKFLOW)])
    assert (done.returncode, done.stdout) == (whole.exit_code, whole.stdout)


@pytest.mark.parametrize("args", [["--help"], ["sandbox", "--help"], ["valdate", "x.yaml"], ["--version"]],
                         ids=lambda a: " ".join(a))
def test_whole_command_line_where_it_is_shown(args):
    """The list of commands, a group's commands, a mistyped command and --version see every command."""
    done = run_avgen(*args)
    modules = set(json.loads(done.stderr.strip().splitlines()[-1]))
    assert {"generator.cli.cmd_deploy", "generator.cli.cmd_files", "generator.cli.cmd_sandbox"} <= modules
    if args == ["--help"]:
        assert done.returncode == 0 and "validate" in done.stdout and "sandbox" in done.stdout
    if args[0] == "valdate":
        assert done.returncode == 64 and "No such command" in done.stderr


@pytest.mark.parametrize("command", ["validate", "generate", "plan"])
def test_one_command_help_is_the_whole_applications(command):
    from typer.testing import CliRunner

    from generator.cli import app

    done = run_avgen(command, "--help")
    whole = CliRunner().invoke(app, [command, "--help"], prog_name="-c")
    assert (done.returncode, done.stdout) == (whole.exit_code, whole.output)
