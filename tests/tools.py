"""Tests that run executables other than Python: a missing one skips the test on a developer's machine and
fails it in CI (CI=true), where every check must run. The check itself is `pytest_runtest_setup` in
tests/conftest.py; this module imports nothing heavy, so any test module can use it."""
from __future__ import annotations

import pytest


def requires_tools(*names: str):
    """Mark a test (or module, via `pytestmark`) that runs the named executables."""
    return pytest.mark.tools(*names)
