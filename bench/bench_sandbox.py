#!/usr/bin/env python3
"""The sandbox's cost: does a command get slower as history grows, and what does running a workflow add?

In one run, against the small workflow of tests/data/sandbox-workflow deployed with `avgen apply --sandbox`:

1. `avgen ls --sandbox` (whole process, best of 3) right after the apply — the reference;
2. the same after N more commands and MB of uploads into a folder that triggers nothing (history grows);
3. the same with `avgen sandbox up` serving the commands;
4. put → results: the wall time of `avgen put --sandbox` (upload, the Lambda, the Batch job, waiting)
   against the sum of the invocations' own run times as the executor measured them.

    python3 bench/bench_sandbox.py [--commands 50] [--megabytes 200] [--plugin-dir DIR]
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
WORKFLOW_DATA = REPO / "tests" / "data" / "sandbox-workflow"
BUCKET = "avgen-sandbox-test"


def avgen(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, "-m", "generator.cli", *map(str, args)], cwd=REPO,
                            capture_output=True, text=True)
    if check and result.returncode != 0:
        raise SystemExit(f"avgen {' '.join(map(str, args))} failed:\n{result.stdout}\n{result.stderr}")
    return result


def best_of(repeat: int, command) -> float:
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        command()
        times.append(time.perf_counter() - began)
    return min(times)


def history_size(workdir: Path) -> str:
    state = workdir / "sandbox"
    lines = sum(1 for _ in open(state / "requests.jsonl", "rb"))
    bodies = sum(p.stat().st_size for p in (state / "bodies").glob("*")) if (state / "bodies").is_dir() else 0
    return f"{lines} requests, {bodies / 2**20:.0f} MiB of bodies"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--commands", type=int, default=50)
    parser.add_argument("--megabytes", type=int, default=200)
    parser.add_argument("--plugin-dir", default=os.environ.get("AVGEN_PLUGIN_DIR", "/opt/tf-plugins"))
    options = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="avgen-bench-sandbox-"))
    try:
        shutil.copytree(WORKFLOW_DATA, root / "wf")
        workflow, workdir = root / "wf" / "workflow.yaml", root / "deploy"
        began = time.perf_counter()
        avgen("apply", workflow, "--sandbox", "--auto-approve", "--plugin-dir", options.plugin_dir, "-w", workdir)
        print(f"apply --sandbox: {time.perf_counter() - began:.1f} s ({history_size(workdir)})")

        def ls() -> None:
            avgen("ls", "-b", f"{BUCKET}/data", "--sandbox", "-w", workdir)

        fresh = best_of(3, ls)
        # history: N commands, of which a few carry the megabytes (files of up to 50 MB, multipart uploads)
        big = max(1, options.megabytes // 50)
        files = root / "files"
        files.mkdir()
        for index in range(options.commands):
            size = (options.megabytes * 2**20 // big) if index < big else 1024
            path = files / f"f{index}.bin"
            path.write_bytes(os.urandom(size))
            avgen("put", workflow, path, "-b", f"{BUCKET}/data", "--sandbox", "-w", workdir)
            path.unlink()
        grown = best_of(3, ls)
        print(f"after {options.commands} more commands and {options.megabytes} MB of uploads: "
              f"{history_size(workdir)}")

        avgen("sandbox", "up", workflow, "-w", workdir)
        try:
            served = best_of(3, ls)
            source = files / "clip.txt"
            source.write_text("hello\n")
            began = time.perf_counter()
            put = avgen("put", workflow, source, "-b", f"{BUCKET}/in", "--sandbox", "-w", workdir)
            wall = time.perf_counter() - began
            port = json.loads((workdir / "sandbox" / "server.json").read_text())["port"]
            import requests

            report = requests.get(f"http://127.0.0.1:{port}/_avgen/activity", timeout=10).json()
        finally:
            avgen("sandbox", "down", workflow, "-w", workdir, check=False)
        compute = sum(a["seconds"] for a in report["activities"])

        print()
        print("| measure | seconds | ratio |")
        print("|---|---|---|")
        print(f"| `avgen ls --sandbox` right after the apply (reference) | {fresh:.2f} | 1.00 |")
        print(f"| the same after {options.commands} commands and {options.megabytes} MB of uploads "
              f"| {grown:.2f} | {grown / fresh:.2f} |")
        print(f"| the same with `avgen sandbox up` running | {served:.2f} | {served / fresh:.2f} |")
        print(f"| `avgen put --sandbox` → results ({len(report['activities'])} invocations and jobs, "
              f"served) | {wall:.2f} | {wall / compute:.2f}× their own run time ({compute:.2f} s) |")
        if put.returncode != 0:
            print(put.stdout, put.stderr, file=sys.stderr)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
