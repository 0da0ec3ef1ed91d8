#!/usr/bin/env python3
"""How `avgen generate` scales with the number of functions.

Synthetic workflows of 1, 10, 100 and 500 functions, each function reading its own input folder and
writing its own output folder, every fourth one in lambda-batch mode. Two layouts: all folders in one
shared bucket (one notification configuration with N rules), or a bucket per function (N of them).

For each size it times, in this process (best of several runs): loading and checking the YAML, rendering,
writing the folder, and checking it (--check). Then the whole command in a fresh Python (`avgen generate`
as a user runs it), next to the cost of starting Python and importing avgen's CLI. It prints the render
time per function and growth ratios, (time for N / time for the previous N) / (N / previous N), of the
render alone and of everything in-process: they stay near 1.0 while the cost grows linearly.

    python3 bench/bench_generate.py [--sizes 1 10 100 500] [--repeat 3]
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from generator.workflow.load import load_text  # noqa: E402
from generator.render.root import render, write_output  # noqa: E402

CLI = "from generator.cli import app; app()"


def synthetic_workflow(functions: int, layout: str) -> str:
    lines = ["functions:", "  aws:"]
    for index in range(functions):
        name = f"fn{index:04d}"
        bucket = "bench-shared-media" if layout == "shared" else f"bench-media-{index:04d}"
        lines += [
            "  - lambda:",
            f"      name: {name}",
            "      container:",
            "        image: example/bench:1",
            f"      execution_mode: {'lambda-batch' if index % 4 == 3 else 'lambda'}",
            f"      memory: {512 + 64 * (index % 8)}",
            "      input:",
            "      - storage_provider: s3",
            f"        path: {bucket}/{name}-in",
            "      output:",
            "      - storage_provider: s3",
            f"        path: {bucket}/{name}-out",
        ]
    lines += ["avgen:", "  region: us-east-1", "  name_prefix: bench-"]
    return "\n".join(lines) + "\n"


def best_of(repeat: int, step) -> float:
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        step()
        times.append(time.perf_counter() - began)
    return min(times)


def measure(functions: int, layout: str, repeat: int, scratch: Path) -> dict[str, float]:
    text = synthetic_workflow(functions, layout)
    source = scratch / f"bench-{layout}-{functions}.yaml"
    source.write_text(text)
    result = load_text(text, source)
    assert result.ok, [f.message for f in result.findings][:5]
    files = render(result.workflow)
    out = scratch / f"out-{layout}-{functions}"

    def write_fresh():
        target = Path(tempfile.mkdtemp(dir=scratch))
        write_output(target, files)

    write_output(out, files)
    timings = {
        "load": best_of(repeat, lambda: load_text(text, source)),
        "render": best_of(repeat, lambda: render(result.workflow)),
        "write": best_of(repeat, write_fresh),
        "check": best_of(repeat, lambda: write_output(out, files, check=True)),
    }
    timings["in-process"] = sum(timings.values())
    command = [sys.executable, "-c", CLI, "generate", str(source), "-o", str(scratch / f"cli-{layout}-{functions}")]
    timings["command"] = best_of(max(1, repeat - 1), lambda: subprocess.run(command, cwd=REPO, check=True,
                                                                         capture_output=True))
    return timings


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 10, 100, 500])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    startup = best_of(3, lambda: subprocess.run([sys.executable, "-c", "import generator.cli"], cwd=REPO,
                                                check=True, capture_output=True))
    print(f"python start-up + import of avgen's CLI: {startup * 1000:.0f} ms (included in `command`)\n")
    header = (f"{'layout':<9}{'functions':>10}{'files':>7}{'load':>9}{'render':>9}{'write':>9}{'check':>9}"
              f"{'command':>10}{'render/fn':>11}{'growth: render':>16}{'all':>6}")
    print(header)
    print("-" * len(header))
    with tempfile.TemporaryDirectory(prefix="avgen-bench-") as scratch:
        for layout in ("shared", "separate"):
            previous = None
            for functions in args.sizes:
                t = measure(functions, layout, args.repeat, Path(scratch))
                files = len(render(load_text(synthetic_workflow(functions, layout), Path(scratch) / "x.yaml")
                                   .workflow))
                render_growth = growth = ""
                if previous:
                    scale = functions / previous[0]
                    render_growth = f"{t['render'] / previous[1]['render'] / scale:.2f}"
                    growth = f"{t['in-process'] / previous[1]['in-process'] / scale:.2f}"
                print(f"{layout:<9}{functions:>10}{files:>7}{t['load'] * 1000:>7.1f}ms{t['render'] * 1000:>7.1f}ms"
                      f"{t['write'] * 1000:>7.1f}ms{t['check'] * 1000:>7.1f}ms{t['command'] * 1000:>8.0f}ms"
                      f"{t['render'] / functions * 1000:>9.3f}ms{render_growth:>16}{growth:>6}")
                previous = (functions, t)
    print("\ngrowth: (time for N / for the previous N) / (N / previous N), of the render and of all in-process "
          "steps; 1.00 is linear.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
