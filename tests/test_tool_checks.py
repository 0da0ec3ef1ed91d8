"""Where a program or the media extras are missing: a test that needs them is skipped on a developer's machine
and fails in CI (CI=true); `-m "not media"` collects without the extras."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
NEEDS_A_MISSING_TOOL = """
from tests.tools import requires_tools

@requires_tools("sh", "no-such-tool-avgen-tests")
def test_it():
    pass
"""


@pytest.mark.parametrize("ci, outcome, status", [("true", "1 error", 1), ("", "1 skipped", 0)])
def test_a_missing_tool_skips_locally_and_fails_in_ci(tmp_path, ci, outcome, status):
    (tmp_path / "test_needs_a_tool.py").write_text(NEEDS_A_MISSING_TOOL)
    # the suite's own conftest as a plugin, on a test file outside the suite (whose other checks stay out)
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-rfEs", "-p", "no:cacheprovider",
                             "-p", "tests.conftest", "-c", os.devnull, "--rootdir", str(tmp_path),
                             str(tmp_path / "test_needs_a_tool.py")],
                            cwd=REPO, env={**os.environ, "CI": ci}, capture_output=True, text=True, timeout=120)
    assert result.returncode == status and outcome in result.stdout, result.stdout + result.stderr
    assert "needs no-such-tool-avgen-tests on PATH" in result.stdout  # only the missing one named
    if ci:
        assert "CI must run this check" in result.stdout


# imported before pytest: the media extras cannot be imported, as where they are not installed
WITHOUT_MEDIA_EXTRAS = """
import sys

import pytest

class NotInstalled:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {"numpy", "cv2", "pocketsphinx", "faster_whisper", "onnxruntime", "onnx"}:
            raise ModuleNotFoundError(f"No module named '{name}'", name=name)
        return None

sys.meta_path.insert(0, NotInstalled())
sys.exit(pytest.main(sys.argv[1:]))
"""


def test_the_suite_collects_without_the_media_extras():
    env = {key: value for key, value in os.environ.items() if key != "CI"}
    result = subprocess.run([sys.executable, "-c", WITHOUT_MEDIA_EXTRAS, "--collect-only", "-q", "-rs",
                             "-p", "no:cacheprovider", "-m", "not media", "tests"],
                            cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "needs the media extras" in result.stdout  # the modules that import them at the top, skipped
    assert "tests/deploy/test_terraform_driver.py::" in result.stdout  # and the others collected
