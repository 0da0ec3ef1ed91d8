"""Watching processes from tests: is it still running, and wait until it is gone."""
from __future__ import annotations

import time
from pathlib import Path


def alive(pid: int) -> bool:
    """True while the process exists and is not a zombie (nobody may reap orphans in a container)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state not in ("Z", "X")


def wait_dead(pid: int, within: float = 3.0) -> bool:
    end = time.monotonic() + within
    while time.monotonic() < end:
        if not alive(pid):
            return True
        time.sleep(0.05)
    return False
