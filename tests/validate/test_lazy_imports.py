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
