"""Tests that deploy an example copy the example as the checkout holds it, not what a user left in it."""
from __future__ import annotations

import subprocess

from tests.conftest import copy_example
from tests.tools import requires_tools


@requires_tools("git")
def test_only_the_files_git_tracks_are_copied(tmp_path):
    example = tmp_path / "checkout" / "scar-3x"
    (example / "sub").mkdir(parents=True)
    (example / "split.yaml").write_text("functions: {}\n")
    (example / "sub" / "split.sh").write_text("ffmpeg\n")
    subprocess.run(["git", "init", "-q", str(tmp_path / "checkout")], check=True)
    subprocess.run(["git", "add", "."], cwd=example, check=True)
    # what following the example's README leaves behind
    (example / "video-process.yaml").write_text("functions: {}\n")
    (example / ".avgen" / "state").mkdir(parents=True)
    copy = copy_example(example, tmp_path / "copy")
    assert sorted(p.relative_to(copy).as_posix() for p in copy.rglob("*") if p.is_file()) == [
        "split.yaml", "sub/split.sh"]
