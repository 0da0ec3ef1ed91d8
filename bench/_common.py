"""Shared helpers of the benchmark scripts: machine description, timing, child-process memory, tables."""
from __future__ import annotations

import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))  # run as `python bench/bench_x.py` from anywhere


def machine_summary() -> str:
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ffmpeg = subprocess.run(["ffmpeg", "-version"], capture_output=True, text=True).stdout.split("\n")[0]
    return f"{os.cpu_count()} vCPU {model}; Python {platform.python_version()}; {ffmpeg}"


def seconds_of(action: Callable[[], object], repeat: int = 1) -> float:
    """Best wall time of `repeat` runs (the least disturbed by other load)."""
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        best = min(best, time.perf_counter() - started)
    return best


def interleaved_best(actions: dict[str, Callable[[], object]], rounds: int) -> dict[str, float]:
    """Best wall time of each action over `rounds`, running them in turn each round, so that a burst of
    load from elsewhere on the machine hits every action alike rather than the one that happened to run then."""
    best = {name: float("inf") for name in actions}
    for _ in range(rounds):
        for name, action in actions.items():
            best[name] = min(best[name], seconds_of(action))
    return best


def run_child(args: Sequence[str], **kwargs) -> tuple[float, int, subprocess.CompletedProcess]:
    """Run a process to completion: (wall seconds, its peak RSS in MiB, result).

    The peak comes from GNU time: a child forked straight from this (large) benchmark process inherits
    this process' memory high-water mark in its own rusage, which would hide the child's real figure.
    """
    with tempfile.NamedTemporaryFile(mode="r", suffix=".rss") as rss:
        wrapper = ["/usr/bin/time", "-f", "%M", "-o", rss.name] if Path("/usr/bin/time").exists() else []
        started = time.perf_counter()
        result = subprocess.run([*wrapper, *args], capture_output=True, text=True, **kwargs)
        elapsed = time.perf_counter() - started
        peak_kib = int(rss.read().strip().splitlines()[-1] or 0) if wrapper else 0
    return elapsed, peak_kib // 1024, result


def print_table(title: str, header: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    """A Markdown table, ready to paste into docs/performance.md."""
    print(f"\n### {title}\n")
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join("---" for _ in header) + "|")
    for row in rows:
        print("| " + " | ".join(f"{cell:.3g}" if isinstance(cell, float) else str(cell) for cell in row) + " |")
    sys.stdout.flush()
