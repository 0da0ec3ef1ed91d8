"""Where deployments keep their files, whatever folder avgen is started from."""
from __future__ import annotations

from pathlib import Path

import pytest

from generator.deploy.core import DeployError, Deployment, DeployOptions
from generator.workdirs import default_workdir


def test_working_folders_are_absolute_when_given_relative(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "media").mkdir()
    by_default = Deployment(Path("media/workflow.yaml"), DeployOptions(sandbox=True))
    given = Deployment(Path("media/workflow.yaml"), DeployOptions(workdir=Path("out/deploy")))
    assert by_default.workdir == tmp_path / "media" / ".avgen" / "media-sandbox"
    assert given.workdir == tmp_path / "out" / "deploy"


def test_sandbox_and_real_deployments_never_share_a_folder():
    workflow = Path("examples/av-workflow/workflow.yaml")
    assert default_workdir(workflow, sandbox=True) != default_workdir(workflow, sandbox=False)
    assert default_workdir(Path("scar-av-workflow.yaml"), sandbox=False) == Path(".avgen/scar-av-workflow")


def test_a_file_avgen_did_not_write_stops_the_deployment(tmp_path):
    example = Path(__file__).parents[2] / "examples" / "video-process" / "workflow.yaml"
    (tmp_path / "main.tf").write_text("# someone else's configuration\n")
    deployment = Deployment(example, DeployOptions(workdir=tmp_path))
    deployment.load()
    with pytest.raises(DeployError, match=r"main.tf"):
        deployment.generate()
    assert (tmp_path / "main.tf").read_text() == "# someone else's configuration\n"  # left alone


def test_working_folders_are_never_committed(tmp_path):
    from generator.workdirs import make_workdir

    folder = make_workdir(tmp_path / ".avgen" / "demo-sandbox")
    assert folder.is_dir()
    assert (tmp_path / ".avgen" / ".gitignore").read_text().splitlines()[-1] == "*"


def test_the_working_folder_does_not_depend_on_how_the_path_was_typed(tmp_path, monkeypatch):
    workflow = tmp_path / "av-workflow" / "workflow.yaml"
    workflow.parent.mkdir()
    monkeypatch.chdir(workflow.parent)
    inside = default_workdir(Path("workflow.yaml"), sandbox=False).resolve()
    monkeypatch.chdir(tmp_path)
    outside = default_workdir(Path("av-workflow/workflow.yaml"), sandbox=False).resolve()
    assert inside == outside == workflow.parent / ".avgen" / "av-workflow"


def test_outputs_after_a_destroy_do_not_read_as_live(tmp_path):
    from generator.deploy.core import DESTROYED_MARKER

    workdir = tmp_path / "deploy"
    workdir.mkdir()
    (workdir / "terraform.tfstate").write_text("{}")
    (workdir / DESTROYED_MARKER).write_text("destroyed; buckets kept: media\n")
    deployment = Deployment(Path(__file__).parents[2] / "examples" / "video-process" / "workflow.yaml",
                            DeployOptions(workdir=workdir))
    with pytest.raises(DeployError, match=r"was destroyed .*buckets kept: media.*avgen apply"):
        deployment.outputs()


def test_outputs_without_sandbox_asks_about_the_sandbox_deployment_there_is(tmp_path):
    from tests.conftest import copy_example

    folder = tmp_path / "video-process"
    copy_example(Path(__file__).parents[2] / "examples" / "video-process", folder)
    workflow = folder / "workflow.yaml"
    with pytest.raises(DeployError) as nothing:
        Deployment(workflow, DeployOptions()).outputs()
    assert "run `avgen apply` first" in str(nothing.value) and "--sandbox" not in str(nothing.value)
    sandbox = default_workdir(workflow, sandbox=True)
    sandbox.mkdir(parents=True)
    (sandbox / "terraform.tfstate").write_text("{}")  # what `avgen apply --sandbox` leaves
    with pytest.raises(DeployError, match=r"did you mean --sandbox?"):
        Deployment(workflow, DeployOptions()).outputs()


def test_destroy_without_a_terminal_says_it_destroys(tmp_path, aws_credentials):
    from typer.testing import CliRunner

    from generator.cli import app

    empty = tmp_path / "plugins"
    empty.mkdir()  # terraform init fails at once: the line says what was started
    workflow = Path(__file__).parents[2] / "examples" / "video-process" / "workflow.yaml"
    result = CliRunner().invoke(app, ["destroy", str(workflow), "-w", str(tmp_path / "w"), "--auto-approve",
                                      "--plugin-dir", str(empty)])
    assert "terraform destroy…" in result.stderr and "apply" not in result.stderr.splitlines()[0]


def _workflow_without_backend(tmp_path: Path, extra: str = "") -> Path:
    path = tmp_path / "workflow.yaml"
    path.write_text("functions:\n  aws:\n  - lambda:\n      name: f\n      container: {image: alpine:3}\n"
                    "      input: [{storage_provider: s3, path: acme-media-in/videos}]\n" + extra)
    return path


def test_plan_and_apply_on_aws_without_a_backend_stop_before_terraform(tmp_path):
    workflow = _workflow_without_backend(tmp_path)
    for run in (lambda d: d.plan(), lambda d: d.apply(confirm=lambda summary: pytest.fail("not reached"))):
        deployment = Deployment(workflow, DeployOptions(workdir=tmp_path / "deploy"))
        with pytest.raises(DeployError) as refused:
            run(deployment)
        message = str(refused.value)
        assert "\n" not in message and "names no avgen.backend" in message
        assert "use_lockfile: true" in message and "backend: {type: local}" in message
        assert not (tmp_path / "deploy" / ".terraform").exists()  # terraform never ran


def test_local_state_chosen_on_purpose_and_the_sandbox_are_not_refused(tmp_path):
    from generator.aws.sandbox import OVERRIDE_FILE

    local = Deployment(_workflow_without_backend(tmp_path, "avgen:\n  backend: {type: local}\n"),
                       DeployOptions(workdir=tmp_path / "local"))
    local.load()
    local.require_backend()
    sandbox = Deployment(_workflow_without_backend(tmp_path), DeployOptions(workdir=tmp_path / "sb", sandbox=True))
    sandbox.load()
    sandbox.require_backend()
    # a workflow with an S3 backend: the sandbox's own override keeps the state in its working folder
    example = Deployment(Path(__file__).parents[2] / "examples" / "video-process" / "workflow.yaml",
                         DeployOptions(workdir=tmp_path / "example", sandbox=True))
    example.load()
    example.generate()
    assert 'backend "s3"' in (tmp_path / "example" / "backend.tf").read_text()
    assert 'backend "local" {}' in (tmp_path / "example" / OVERRIDE_FILE).read_text()


def test_a_symlinked_workflow_file_finds_the_deployment_of_its_target(tmp_path, monkeypatch):
    real = tmp_path / "av-workflow"
    real.mkdir()
    (real / "workflow.yaml").write_text("functions: {}\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "video.yaml").symlink_to(real / "workflow.yaml")
    (tmp_path / "linked-folder").symlink_to(real, target_is_directory=True)
    expected = (real / ".avgen" / "av-workflow").resolve()
    monkeypatch.chdir(tmp_path)
    for spelling in (real / "workflow.yaml", Path("av-workflow/workflow.yaml"), Path("elsewhere/video.yaml"),
                     elsewhere / "video.yaml", Path("linked-folder/workflow.yaml"),
                     Path("elsewhere/../av-workflow/workflow.yaml")):
        assert default_workdir(spelling, sandbox=False).resolve() == expected, spelling
        assert default_workdir([spelling], sandbox=True).resolve() == expected.with_name("av-workflow-sandbox")


def test_destroy_forgets_batchs_service_linked_role_instead_of_deleting_it(tmp_path, monkeypatch):
    """A deployment made by an earlier avgen with create_batch_service_linked_role holds the account's
    AWSServiceRoleForBatch in its state; a destroy plan would delete it (Terraform applies a `removed` block
    on apply only), so `avgen destroy` takes it out of the state first."""
    import contextlib

    from generator.deploy.planview import PlanSummary

    role = "module.batch_shared.aws_iam_service_linked_role.batch[0]"
    calls: list[tuple] = []

    class FakeTerraform:
        options = type("Options", (), {"env": {}})()

        def init(self, on_line=None):
            calls.append(("init",))

        def state_list(self):
            return [role, 'module.function["f"].aws_lambda_function.this', 'module.bucket["b"].aws_s3_bucket.this']

        def state_rm(self, addresses):
            calls.append(("state rm", *addresses))

    planned: list[tuple[str, ...]] = []
    workflow = _workflow_without_backend(tmp_path, "avgen:\n  backend: {type: local}\n")
    deployment = Deployment(workflow, DeployOptions(workdir=tmp_path / "deploy"))
    monkeypatch.setattr(Deployment, "terraform", lambda self, need_aws=True: contextlib.nullcontext(FakeTerraform()))
    monkeypatch.setattr(Deployment, "_plan", lambda self, tf, on_line, destroy=False, targets=():
                        planned.append(targets) or PlanSummary(workflow="w"))
    deployment.destroy(confirm=lambda summary: False)
    assert ("state rm", role) in calls
    assert planned == [('module.function["f"].aws_lambda_function.this',)]  # and the bucket kept, as always


def test_backend_settings_with_the_sandbox_are_refused_before_anything_is_written(tmp_path):
    from generator.deploy.terraform import TerraformOptions

    example = Path(__file__).parents[2] / "examples" / "av-workflow" / "workflow.yaml"
    options = DeployOptions(workdir=tmp_path / "deploy", sandbox=True,
                            terraform=TerraformOptions(backend_config=["bucket=team-state"]))
    with pytest.raises(DeployError, match=r"--backend-config .*--sandbox never uses one"):
        Deployment(example, options)
    assert not (tmp_path / "deploy").exists()
    # without the sandbox they go to terraform init as before
    real = Deployment(example, DeployOptions(workdir=tmp_path / "real",
                                             terraform=TerraformOptions(backend_config=["bucket=team-state"])))
    assert real.options.terraform.backend_config == ["bucket=team-state"]
