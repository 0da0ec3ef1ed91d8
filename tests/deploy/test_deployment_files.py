"""Where deployments keep their files, whatever folder avgen is started from."""
from __future__ import annotations

from pathlib import Path

import pytest

from generator.deploy.core import Deployment, DeployError, DeployOptions
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
    with pytest.raises(DeployError, match="main.tf"):
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
    with pytest.raises(DeployError, match="was destroyed .*buckets kept: media.*avgen apply"):
        deployment.outputs()
