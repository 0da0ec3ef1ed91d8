"""`avgen outputs` (and the outputs `avgen apply` prints): maps indented under their name, and no sandbox URL
with the port of an emulator that has stopped (#32)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from generator.cli import app
from generator.deploy.core import Deployment, Outcome

WORKFLOW = Path(__file__).parents[2] / "examples" / "video-process" / "workflow.yaml"
QUEUE = "http://127.0.0.1:49061/123456789012/video-process-split-dlq"  # as the apply's emulator wrote it
OUTPUTS = {
    "alerts_topic_arn": {"value": "arn:aws:sns:us-east-1:123456789012:video-process-alerts"},
    "bucket_names": {"value": {"change-me-video-process": "change-me-video-process"}},
    "dead_letter_queue_urls": {"value": {"video-process-split": QUEUE}},
    "secret": {"value": "x", "sensitive": True},
}


@pytest.fixture
def deployed(monkeypatch, tmp_path):
    """`avgen outputs` reading OUTPUTS from a deployment in tmp_path/w (terraform not run)."""
    workdir = tmp_path / "w"

    def outputs(self):
        return Outcome(workdir=workdir, outputs=json.loads(json.dumps(OUTPUTS)))
    monkeypatch.setattr(Deployment, "outputs", outputs)
    return workdir


def outputs_of(*args: str):
    result = CliRunner().invoke(app, ["outputs", str(WORKFLOW), *args])
    assert result.exit_code == 0, result.output
    return result.stdout


def test_a_map_is_indented_under_its_name(deployed):
    lines = outputs_of("-w", str(deployed)).splitlines()
    start = lines.index("  bucket_names = {")
    assert lines[start + 1:start + 3] == ['    "change-me-video-process": "change-me-video-process"', "  }"]
    assert '  alerts_topic_arn = "arn:aws:sns:us-east-1:123456789012:video-process-alerts"' in lines
    assert "  secret = (sensitive)" in lines
    every = lines[lines.index("Outputs") + 1:]
    assert all(line.startswith("  ") for line in every if not line.startswith("next:"))  # nothing at column 0


def test_sandbox_urls_never_name_the_port_of_a_stopped_emulator(deployed):
    text = outputs_of("--sandbox", "-w", str(deployed))
    assert "49061" not in text
    assert '"video-process-split": "$AWS_ENDPOINT_URL/123456789012/video-process-split-dlq"' in text
    assert f'eval "$(avgen sandbox up {WORKFLOW} -w {deployed})"' in text  # how to get one that answers
    as_json = json.loads(outputs_of("--sandbox", "-w", str(deployed), "--format", "json"))["outputs"]
    assert as_json["dead_letter_queue_urls"] == {
        "video-process-split": "$AWS_ENDPOINT_URL/123456789012/video-process-split-dlq"}
    assert as_json["bucket_names"] == OUTPUTS["bucket_names"]["value"]


def test_sandbox_urls_name_the_sandbox_kept_up(deployed, monkeypatch):
    import generator.aws.sandbox as sandbox

    asked = []

    def running_server(state_dir):
        asked.append(Path(state_dir))
        return {"pid": 1, "port": 40123, "region": "us-east-1"}
    monkeypatch.setattr(sandbox, "running_server", running_server)
    text = outputs_of("--sandbox", "-w", str(deployed))
    assert '"video-process-split": "http://127.0.0.1:40123/123456789012/video-process-split-dlq"' in text
    assert "49061" not in text and "AWS_ENDPOINT_URL" not in text
    assert asked == [deployed / "sandbox"]


def test_urls_of_an_aws_deployment_are_shown_as_deployed(deployed):
    """Not the sandbox: a URL is AWS's own, whatever it looks like."""
    assert QUEUE in outputs_of("-w", str(deployed))
