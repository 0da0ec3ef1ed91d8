"""The moto internals the sandbox patches: every one exists in the installed moto, and a moto that lacks one
stops the sandbox with one line naming the supported releases (not an AttributeError in the server's log)."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import tomllib

from generator.aws import moto_internals
from generator.aws.moto_internals import INTERNALS, SUPPORTED, MotoUnsupported, check_moto, internal

REPO = Path(__file__).resolve().parents[2]
# both spellings of Batch's CreateJobQueue handler: createjobqueue (moto 5.2.1-5.2.5), create_job_queue (5.2.6)
CREATE_JOB_QUEUE = "moto.batch.responses:BatchResponse.create_job_queue|createjobqueue"


@pytest.mark.parametrize("path", INTERNALS)
def test_every_internal_the_sandbox_touches_exists_in_the_installed_moto(path):
    found = internal(path)
    assert found.name in path.split(":")[1].split(".")[-1].split("|")
    assert getattr(found.owner, found.name) is found.value


def test_the_supported_range_is_the_one_pyproject_allows():
    dependencies = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    low, high = SUPPORTED
    assert f"moto[server]>={low},<={high}" in dependencies


def test_an_internal_not_listed_is_a_bug_not_a_user_error():
    with pytest.raises(ValueError, match="not listed"):
        internal("moto.s3.models:FakeBucket.name")


def test_a_moto_without_an_internal_names_the_supported_releases(monkeypatch):
    from moto.batch.responses import BatchResponse

    for name in ("create_job_queue", "createjobqueue"):
        monkeypatch.delattr(BatchResponse, name, raising=False)
    monkeypatch.setattr(moto_internals, "moto_version", lambda: "5.9.0")
    with pytest.raises(MotoUnsupported) as raised:
        check_moto()
    message = str(raised.value)
    assert message == ("the sandbox needs moto 5.2.1 to 5.2.6, found moto 5.9.0 (no moto.batch.responses."
                       "BatchResponse.create_job_queue or createjobqueue): pip install 'moto[server]>=5.2.1,<=5.2.6'")


def test_a_missing_module_is_reported_the_same_way(monkeypatch):
    monkeypatch.setitem(sys.modules, "moto.batch_simple.models", None)  # import fails as for a moved module
    with pytest.raises(MotoUnsupported, match=r"needs moto 5\.2\.1 to 5\.2\.6, found moto .*no module "
                                              r"moto\.batch_simple\.models"):
        internal("moto.batch_simple.models:BatchSimpleBackend._mark_job_as_finished")


def test_the_sandbox_with_such_a_moto_stops_with_one_line(tmp_path):
    """The emulator is another process: a sitecustomize on its path takes the handler away there, as an
    unsupported moto release would."""
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(textwrap.dedent("""
        from moto.batch.responses import BatchResponse
        for name in ("create_job_queue", "createjobqueue"):
            if name in vars(BatchResponse):
                delattr(BatchResponse, name)
    """))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(hook), str(REPO)])}
    result = subprocess.run([sys.executable, "-m", "generator.cli", "sandbox", "up", "-w", str(tmp_path / "deploy")],
                            env=env, capture_output=True, text=True, timeout=120, cwd=tmp_path)
    if result.returncode == 0:  # not expected: take the detached emulator down again
        subprocess.run([sys.executable, "-m", "generator.cli", "sandbox", "down", "-w", str(tmp_path / "deploy")],
                       env=env, capture_output=True, timeout=60, cwd=tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "the sandbox needs moto 5.2.1 to 5.2.6, found moto " in lines[0]
    assert "BatchResponse.create_job_queue or createjobqueue" in lines[0] and "Traceback" not in result.stderr
