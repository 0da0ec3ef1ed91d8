"""generator/terraform.py: the argument lists avoid python-terraform's defects, and runs are real terraform."""
from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from generator.deploy.terraform import TerraformError, TerraformNotFound, TerraformOptions, TerraformRunner

REPO = Path(__file__).resolve().parents[2]

needs_terraform = pytest.mark.skipif(shutil.which("terraform") is None, reason="terraform CLI not installed")


def runner(tmp_path, **options) -> TerraformRunner:
    return TerraformRunner(tmp_path, TerraformOptions(**options))


@needs_terraform
def test_plan_argv_is_detailed_noninteractive_and_carries_variables(tmp_path):
    tf = runner(tmp_path, variables=["a=1", "b=two"])
    argv = tf.argv("plan", input=False, out="p.tfplan", detailed_exitcode=True, **tf._variable_flags())
    assert argv[1] == "plan"
    assert "-var=a=1" in argv and "-var=b=two" in argv
    assert "-input=false" in argv and "-out=p.tfplan" in argv and "-no-color" in argv


@needs_terraform
def test_no_command_line_ever_carries_force_or_synchronous(tmp_path, monkeypatch):
    """python-terraform's destroy() adds -force and cmd(synchronous=False) leaks -synchronous: avgen uses neither."""
    seen = []
    tf = runner(tmp_path)
    monkeypatch.setattr(tf, "run", lambda argv, *a, **k: seen.append(argv) or type("R", (), {"returncode": 2})())
    tf.plan(tmp_path / "p", destroy=True, targets=["aws_s3_bucket.a"])
    flat = " ".join(seen[0])
    assert "-destroy" in flat and "-target=aws_s3_bucket.a" in flat
    assert "-force" not in flat and "synchronous" not in flat


@needs_terraform
def test_terraform_errors_reach_the_user_intact(tmp_path):
    (tmp_path / "main.tf").write_text('resource "nonsense" {\n')
    with pytest.raises(TerraformError) as info:
        runner(tmp_path).run(runner(tmp_path).argv("validate"))
    assert ("Unclosed configuration block" in info.value.output
            or "Argument or block definition required" in info.value.output)


@needs_terraform
def test_a_cli_config_that_points_nowhere_is_not_passed_on(tmp_path, monkeypatch):
    monkeypatch.setenv("TF_CLI_CONFIG_FILE", str(tmp_path / "missing.tfrc"))
    (tmp_path / "main.tf").write_text('output "x" { value = 1 }\n')
    tf = runner(tmp_path)
    assert tf.environment["TF_CLI_CONFIG_FILE"] != str(tmp_path / "missing.tfrc")
    result = tf.run(tf.argv("validate"))
    assert "Unable to open CLI configuration file" not in result.stderr


@needs_terraform
def test_init_runs_once_until_the_configuration_changes(tmp_path):
    (tmp_path / "main.tf").write_text('terraform {\n  required_version = ">= 1.6"\n}\noutput "x" { value = 1 }\n')
    tf = runner(tmp_path)
    assert tf.init() is True
    assert tf.init() is False
    (tmp_path / "main.tf").write_text('terraform {\n  required_version = ">= 1.5"\n}\noutput "x" { value = 2 }\n')
    assert tf.init() is True


NEEDS_AWS = 'terraform {\n  required_providers {\n    aws = { source = "hashicorp/aws" }\n  }\n}\n'


@needs_terraform
def test_init_without_the_registry_names_plugin_dir_after_terraforms_text(tmp_path):
    (tmp_path / "main.tf").write_text(NEEDS_AWS)
    # the registry out of reach, for sure: a provider mirror on a closed loopback port
    config = tmp_path / "offline.tfrc"
    config.write_text('provider_installation {\n  network_mirror { url = "https://127.0.0.1:9/" }\n}\n')
    with pytest.raises(TerraformError) as info:
        runner(tmp_path, env={"TF_CLI_CONFIG_FILE": str(config)}).init()
    assert "Failed to query available provider packages" in info.value.output  # terraform's own text, kept
    assert "--plugin-dir DIR" in info.value.hint and "AVGEN_PLUGIN_DIR" in info.value.hint


@needs_terraform
def test_a_plugin_dir_without_the_provider_is_named_after_terraforms_text(tmp_path, aws_credentials):
    from typer.testing import CliRunner

    from generator.cli import app

    empty = tmp_path / "plugins"
    empty.mkdir()
    # the example's S3 backend would need AWS before the providers; keep the state local here
    example = REPO / "examples/av-workflow/workflow.yaml"
    local = example.with_name("local-state.workflow.yaml")
    text = example.read_text()
    local.write_text(text[:text.index("  backend:\n")] + "  backend: {type: local}\n")
    try:
        result = CliRunner().invoke(app, ["plan", str(local), "--plugin-dir", str(empty), "-w", str(tmp_path / "w")])
    finally:
        local.unlink()
    assert result.exit_code == 1, result.output
    text = result.stderr
    assert "not found in any of the" in text
    assert text.index("not found in any of the") < text.index(f"hint: the providers must be in --plugin-dir {empty}")


def test_missing_terraform_is_a_clear_error(tmp_path):
    with pytest.raises(TerraformNotFound, match="--terraform-bin"):
        runner(tmp_path, terraform_bin="no-such-terraform-binary")


def test_a_binary_that_is_not_terraform_gets_a_message_not_a_traceback(tmp_path):
    from generator.deploy.terraform import TerraformOptions, TerraformRunner
    from generator.errors import TerraformNotFound

    with pytest.raises(TerraformNotFound, match="did not answer as terraform does"):
        TerraformRunner(tmp_path, TerraformOptions(terraform_bin="/usr/bin/true"))


def test_an_old_terraform_is_refused_with_the_version_needed(tmp_path):
    from generator.deploy.terraform import TerraformOptions, TerraformRunner
    from generator.errors import TerraformNotFound

    old = tmp_path / "terraform"
    old.write_text("#!/bin/sh\necho '{\"terraform_version\": \"1.5.7\"}'\n")
    old.chmod(0o755)
    with pytest.raises(TerraformNotFound, match=r"Terraform 1\.5\.7; avgen needs Terraform >= 1\.10"):
        TerraformRunner(tmp_path, TerraformOptions(terraform_bin=str(old)))


INTERRUPTED_RUN = """
import sys
from pathlib import Path
from generator.deploy.terraform import TerraformOptions, TerraformRunner

folder = Path(sys.argv[1])
runner = TerraformRunner(folder, TerraformOptions())
try:
    runner.run(["sh", str(folder / "fake-terraform.sh")])
except KeyboardInterrupt:
    (folder / "avgen-saw-the-interrupt").write_text("yes")
    sys.exit(130)
"""
# Stands in for a terraform apply: on SIGINT it takes a moment to write its state, then stops.
FAKE_TERRAFORM = """
trap 'echo int >> interrupts; sleep 1; echo saved > terraform.tfstate; exit 1' INT
echo started > started
while true; do sleep 0.1; done
"""


@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGINT])
def test_an_interrupted_avgen_lets_terraform_finish_writing_its_state(tmp_path, how):
    (tmp_path / "fake-terraform.sh").write_text(FAKE_TERRAFORM)
    avgen = subprocess.Popen([sys.executable, "-c", INTERRUPTED_RUN, str(tmp_path)], cwd=REPO)
    deadline = time.monotonic() + 20
    while not (tmp_path / "started").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    avgen.send_signal(how)
    assert avgen.wait(timeout=30) == 130
    assert (tmp_path / "terraform.tfstate").read_text() == "saved\n"  # waited for it, did not kill it
    assert (tmp_path / "interrupts").read_text() == "int\n"  # passed on exactly once
    assert (tmp_path / "avgen-saw-the-interrupt").exists()


def test_a_killed_avgen_leaves_terraform_running_to_the_end(tmp_path):
    script = tmp_path / "fake-terraform.sh"
    script.write_text("echo started > started\nsleep 1\necho saved > terraform.tfstate\n")
    avgen = subprocess.Popen([sys.executable, "-c", INTERRUPTED_RUN, str(tmp_path)], cwd=REPO)
    deadline = time.monotonic() + 20
    while not (tmp_path / "started").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    avgen.kill()
    avgen.wait()
    deadline = time.monotonic() + 10
    while not (tmp_path / "terraform.tfstate").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert (tmp_path / "terraform.tfstate").read_text() == "saved\n"
