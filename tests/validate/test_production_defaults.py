"""What a production reviewer asks of a workflow: a shared state backend (AVG034), Batch off the default VPC
unless chosen on purpose (AVG031), and `validate --strict` failing until then."""
from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from generator.cli import app
from generator.workflow.findings import Severity
from generator.workflow.load import load_workflow

BATCH = """\
functions:
  aws:
  - lambda:
      name: video-split
      execution_mode: batch
      container:
        image: grycap/ffmpeg
    batch:
      vcpus: 2
avgen:
  backend: {type: s3, bucket: acme-state, key: w.tfstate, region: eu-west-1, use_lockfile: true}
"""


def findings(tmp_path: Path, text: str):
    path = tmp_path / "workflow.yaml"
    path.write_text(text)
    return path, load_workflow(path).findings


def test_batch_in_the_default_vpc_is_a_warning_that_fails_strict(tmp_path):
    path, found = findings(tmp_path, BATCH)
    (vpc,) = [f for f in found if f.rule_id == "AVG031"]
    assert vpc.severity is Severity.WARNING
    assert "private" in vpc.hint and "security_group_ids" in vpc.hint and "allow_default_vpc" in vpc.hint
    assert CliRunner().invoke(app, ["validate", "--strict", str(path)]).exit_code == 1


def test_the_default_vpc_chosen_on_purpose_is_a_note(tmp_path):
    path, found = findings(tmp_path, BATCH + "  allow_default_vpc: true\n")
    (vpc,) = [f for f in found if f.rule_id == "AVG031"]
    assert vpc.severity is Severity.INFO and "on purpose" in vpc.message
    assert CliRunner().invoke(app, ["validate", "--strict", str(path)]).exit_code == 0


def test_no_backend_is_a_warning_that_fails_strict(tmp_path):
    text = BATCH.replace("  backend: {type: s3, bucket: acme-state, key: w.tfstate, region: eu-west-1, "
                         "use_lockfile: true}\n", "  allow_default_vpc: true\n")
    path, found = findings(tmp_path, text)
    (state,) = [f for f in found if f.rule_id == "AVG034"]
    assert state.severity is Severity.WARNING and "use_lockfile: true" in state.hint
    assert CliRunner().invoke(app, ["validate", "--strict", str(path)]).exit_code == 1
    path, found = findings(tmp_path, text + "  backend: {type: local}\n")
    assert "AVG034" not in {f.rule_id for f in found}
    assert CliRunner().invoke(app, ["validate", "--strict", str(path)]).exit_code == 0
