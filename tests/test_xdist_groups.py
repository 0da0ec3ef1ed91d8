"""The suite relies on `--dist loadgroup`: the tests of one xdist_group share a worker, so that a module's
sandbox is deployed once and its tests run one after the other (tests/deploy/test_sandbox_runs.py), and the
README runs never go beside the image builds. pytest 9.2 keeps node ids where pytest-xdist 3.8 cannot rename
them, and the groups were then split without a word; this runs a small suite and looks where its tests ran."""
from __future__ import annotations

import subprocess
import sys

GROUPED = '''
import os
import time

import pytest

pytestmark = pytest.mark.xdist_group("together")


@pytest.mark.parametrize("n", range(8))
def test_grouped(n, tmp_path_factory):
    time.sleep(0.1)  # long enough that a free worker would take the next one
    (tmp_path_factory.getbasetemp().parent / f"ran-{n}").write_text(os.environ["PYTEST_XDIST_WORKER"])
'''


def test_the_tests_of_one_xdist_group_run_on_one_worker(tmp_path):
    (tmp_path / "pytest.ini").write_text("[pytest]\n")  # its own rootdir: not this project's settings
    (tmp_path / "test_grouped.py").write_text(GROUPED)
    run = subprocess.run([sys.executable, "-m", "pytest", "-n", "2", "--dist", "loadgroup", "-p", "no:cacheprovider",
                          "-q", f"--basetemp={tmp_path / 'base'}", "test_grouped.py"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    workers = {path.read_text() for path in tmp_path.glob("base/ran-*")}
    assert len(list(tmp_path.glob("base/ran-*"))) == 8
    assert len(workers) == 1, f"one group ran on {sorted(workers)}"
