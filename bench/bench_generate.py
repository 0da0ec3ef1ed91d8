#!/usr/bin/env python3
"""How `avgen generate` and `avgen validate` scale with the number of functions, and how fast they start.

Synthetic workflows of 50, 500 and 5,000 functions, each function reading its own input folder and writing
its own output folder, every fourth one in lambda-batch mode. Two layouts: all folders in one shared bucket
(one notification configuration with N rules), or a bucket per function (N of them).

For each size it times, in this process (best of several runs): loading the YAML into the model, the checks
(rules, the trigger graph; on a freshly loaded model, as `avgen validate` runs them), rendering, and writing the
folder; then `avgen generate` as a whole process. Growth ratios are (time for N / time for the previous N): 10.0
for 10x the functions is linear. The checks are timed once more right after flushing the CPU caches: a model of
500 functions stays in them, one of 5,000 does not, and that alone makes each of its steps slower.

With --instructions it counts, instead of timing, the machine instructions each step executes (valgrind's
cachegrind, one child process per count): a count is the same on every run and on a busy machine, and it
grows with the work alone, not with how much of the model fits in the CPU's caches.

Start-up: `avgen validate` of the av-workflow example as a whole process, next to a minimal two-command Typer
app's `--help` on the same interpreter (medians of alternated runs; wall and CPU time), and their ratio.

    python3 bench/bench_generate.py [--sizes 50 500 5000] [--repeat 3] [--startup-runs 15]
    python3 bench/bench_generate.py --instructions [--sizes 50 500 5000]    # about 11 minutes
    python3 bench/bench_generate.py --styles [--sizes 5000] [--repeat 5]     # about a minute

With --styles it loads the same workflow written in each YAML style (block, flow, an anchor merged into every
function, block-scalar environment values) and prints each one's load time next to block style's, as a ratio.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from generator.render.root import render, write_output  # noqa: E402
from generator.workflow.load import load_text  # noqa: E402
from generator.workflow.rules import run_checks  # noqa: E402
from generator.workflow.source import gc_paused, parse_text, to_plain  # noqa: E402

CLI = "from generator.cli import app; app()"
AV_WORKFLOW = REPO / "examples" / "av-workflow" / "workflow.yaml"
MINIMAL_TYPER = """
import typer
app = typer.Typer()
@app.command()
def hello(name: str):
    print(name)
@app.command()
def bye(name: str):
    print(name)
app()
"""
STEPS = ("load", "checks", "render", "write")


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


STYLES = ("block", "flow", "anchors", "block-scalars")
BENCH_FILE = Path("bench.yaml")


def styled_workflow(functions: int, style: str) -> str:
    """The same workflow (what each function holds) written in one YAML style: block; flow (a function a line);
    anchors (the first function's settings merged into every other with `<<: *defaults`, its container an
    alias); block-scalars (every environment value a `|` block scalar)."""
    lines = ["functions:", "  aws:"]
    for index in range(functions):
        name, mode, memory = f"fn{index:04d}", "lambda-batch" if index % 4 == 3 else "lambda", 512 + 64 * (index % 8)
        folders = f"media/{name}"
        if style == "flow":
            lines.append(f"  - {{lambda: {{name: {name}, container: {{image: 'example/bench:1', environment: "
                         f"{{Variables: {{GREETING: hello world}}}}}}, execution_mode: {mode}, "
                         f"memory: {memory}, input: [{{storage_provider: s3, path: {folders}-in}}], "
                         f"output: [{{storage_provider: s3, path: {folders}-out}}]}}}}")
            continue
        if style == "anchors" and index:
            lines += ["  - lambda:", "      <<: *defaults", f"      name: {name}"]
        else:
            lines += ["  - lambda: &defaults" if style == "anchors" else "  - lambda:", f"      name: {name}",
                      "      container:", "        image: example/bench:1", "        environment:",
                      "          Variables:"]
            if style == "block-scalars":
                lines += ["            GREETING: |-", "              hello world"]
            else:
                lines += ["            GREETING: hello world"]
        lines += [f"      execution_mode: {mode}", f"      memory: {memory}", "      input:",
                  "      - storage_provider: s3", f"        path: {folders}-in", "      output:",
                  "      - storage_provider: s3", f"        path: {folders}-out"]
    lines += ["avgen:", "  region: us-east-1", "  name_prefix: bench-"]
    return "\n".join(lines) + "\n"


def compare_styles(sizes: list[int], repeat: int) -> int:
    """Load time (YAML -> model, no rules; best of `repeat`) of each style against block style's."""
    print(f"{'functions':>10}" + "".join(f"{style:>22}" for style in STYLES))
    for functions in sizes:
        times, models = {}, set()
        for style in STYLES:
            text = styled_workflow(functions, style)
            result = load_text(text, BENCH_FILE, run_rules=False)
            assert result.workflow is not None, [f.message for f in result.findings][:5]
            models.add(json.dumps(to_plain(parse_text(text, "bench.yaml").root), sort_keys=True))
            times[style] = best_of(repeat, lambda text=text: load_text(text, BENCH_FILE, run_rules=False))
        assert len(models) == 1, "the styles do not write the same workflow"
        print(f"{functions:>10}" + "".join(f"{times[s] * 1000:>12.0f} ms {times[s] / times['block']:>5.2f}x"
                                          for s in STYLES))
    print("\nload: YAML -> model, no rules, best of runs; ratio: time / block style's time")
    return 0


def best_of(repeat: int, step) -> float:
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        step()
        times.append(time.perf_counter() - began)
    return min(times)


_FLUSH = bytearray(64 << 20)  # larger than this machine's CPU caches


def checks_cold(text: str, source: Path, repeat: int) -> float:
    """The checks right after the CPU caches were flushed, at every size: their work alone, without the
    advantage a model small enough to stay in the caches (500 functions here) has over a large one."""
    workflow = load_text(text, source, run_rules=False).workflow
    times = []
    for _ in range(repeat):
        for position in range(0, len(_FLUSH), 64):
            _FLUSH[position] ^= 1
        with gc_paused():
            began = time.perf_counter()
            run_checks(workflow)
            times.append(time.perf_counter() - began)
    return min(times)


def checks_after_load(text: str, source: Path, repeat: int) -> float:
    """The checks as `avgen validate` runs them: once, on a model just built (a fresh one each time), with
    the collector paused as load_text pauses it. Timing them again and again on one model would measure a
    model that sits in the CPU's caches at 500 functions and cannot at 5,000."""
    times = []
    for _ in range(repeat):
        workflow = load_text(text, source, run_rules=False).workflow
        with gc_paused():
            began = time.perf_counter()
            run_checks(workflow)
            times.append(time.perf_counter() - began)
    return min(times)


def measure(functions: int, layout: str, repeat: int, scratch: Path) -> dict[str, float]:
    text = synthetic_workflow(functions, layout)
    source = scratch / f"bench-{layout}-{functions}.yaml"
    source.write_text(text)
    result = load_text(text, source)
    assert result.ok, [f.message for f in result.findings][:5]
    files = render(result.workflow)

    def write_fresh():
        write_output(Path(tempfile.mkdtemp(dir=scratch)), files)

    timings = {
        "load": best_of(repeat, lambda: load_text(text, source, run_rules=False)),
        "checks": checks_after_load(text, source, repeat),
        "checks_cold": checks_cold(text, source, repeat),
        "render": best_of(repeat, lambda: render(result.workflow)),
        "write": best_of(repeat, write_fresh),
    }
    command = [sys.executable, "-c", CLI, "generate", str(source), "-o", str(scratch / f"cli-{layout}-{functions}")]
    timings["command"] = best_of(max(1, repeat - 1), lambda: subprocess.run(command, cwd=REPO, check=True,
                                                                         capture_output=True))
    return timings


def startup(runs: int) -> dict[str, dict[str, float]]:
    """Medians of `avgen validate` (av-workflow) and a minimal Typer app's --help, runs alternated: wall time
    and CPU time (user + system; steadier where other work shares the machine). Both run as installed, with
    their bytecode cached (pip compiles it at install; a checkout run with PYTHONDONTWRITEBYTECODE would
    compile avgen's sources on every start and only avgen's)."""
    avgen = [sys.executable, "-c", CLI, "validate", str(AV_WORKFLOW)]
    minimal = [sys.executable, "-c", MINIMAL_TYPER, "--help"]
    times: dict[str, dict[str, list[float]]] = {"avgen": {"wall": [], "cpu": []}, "minimal": {"wall": [], "cpu": []}}
    with tempfile.TemporaryDirectory(prefix="avgen-bench-pyc-") as pycache:
        env = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}
        env["PYTHONPYCACHEPREFIX"] = pycache
        for command in (avgen, minimal):  # write the bytecode once
            subprocess.run(command, cwd=REPO, env=env, check=True, capture_output=True)
        for _ in range(runs):
            for name, command in (("avgen", avgen), ("minimal", minimal)):
                before = resource.getrusage(resource.RUSAGE_CHILDREN)
                began = time.perf_counter()
                subprocess.run(command, cwd=REPO, env=env, check=True, capture_output=True)
                times[name]["wall"].append(time.perf_counter() - began)
                after = resource.getrusage(resource.RUSAGE_CHILDREN)
                times[name]["cpu"].append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
    return {name: {kind: statistics.median(values) for kind, values in kinds.items()} for name, kinds in times.items()}


COUNTED_STEPS = ("load", "checks", "render")
COUNTED_REPEATS = 2


def run_counted_step(functions: int, layout: str, step: str, repeats: int) -> None:
    """The child that valgrind counts: build the model once, then run `step` `repeats` times."""
    text = synthetic_workflow(functions, layout)
    source = Path(f"bench-{layout}-{functions}.yaml")
    workflow = load_text(text, source, run_rules=False).workflow
    for _ in range(repeats):
        with gc_paused():
            if step == "load":
                load_text(text, source, run_rules=False)
            elif step == "checks":
                run_checks(workflow)
            else:
                render(workflow)


def instructions_of(functions: int, layout: str, step: str) -> float:
    """Instructions one run of `step` executes: a child that runs it 1 + COUNTED_REPEATS times, less one
    that does everything else (Python's start, building the text and the model) and runs it once, which
    also pays for what only a first run does (imports, compiling the templates)."""
    counts = []
    for repeats in (1, 1 + COUNTED_REPEATS):
        command = ["valgrind", "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null",
                   sys.executable, __file__, "--count-child", str(functions), layout, step, str(repeats)]
        finished = subprocess.run(command, cwd=REPO, capture_output=True, text=True, check=True)
        counts.append(int(re.search(r"I\s+refs:\s+([\d,]+)", finished.stderr).group(1).replace(",", "")))
    return (counts[1] - counts[0]) / COUNTED_REPEATS


def count_instructions(sizes: list[int]) -> int:
    if shutil.which("valgrind") is None:
        print("--instructions needs valgrind (Debian: apt-get install valgrind)", file=sys.stderr)
        return 2
    print(f"{'layout':<9}{'functions':>10}" + "".join(f"{step + ' Minstr':>16}" for step in COUNTED_STEPS)
          + "   growth: " + " ".join(f"{step:>7}" for step in COUNTED_STEPS))
    for layout in ("shared", "separate"):
        previous: dict[str, float] | None = None
        for functions in sizes:
            counted = {step: instructions_of(functions, layout, step) for step in COUNTED_STEPS}
            line = f"{layout:<9}{functions:>10}" + "".join(f"{counted[s] / 1e6:>16.1f}" for s in COUNTED_STEPS)
            if previous:
                line += "           " + " ".join(f"{counted[s] / previous[s]:>7.2f}" for s in COUNTED_STEPS)
            print(line, flush=True)
            previous = counted
    print("\ngrowth: instructions for N / instructions for the previous N (10.0 for 10x the functions is linear)")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[50, 500, 5000])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--startup-runs", type=int, default=15)
    parser.add_argument("--instructions", action="store_true",
                        help="count each step's machine instructions under valgrind instead of timing it")
    parser.add_argument("--styles", action="store_true",
                        help="load the same workflow in each YAML style, timed against block style")
    parser.add_argument("--count-child", nargs=4, metavar=("FUNCTIONS", "LAYOUT", "STEP", "REPEATS"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.count_child:
        functions, layout, step, repeats = args.count_child
        run_counted_step(int(functions), layout, step, int(repeats))
        return 0
    if args.instructions:
        return count_instructions(args.sizes)
    if args.styles:
        return compare_styles(args.sizes, args.repeat)

    started = startup(args.startup_runs)
    print(f"start-up (medians of {args.startup_runs} alternated runs): avgen validate av-workflow / minimal "
          "two-command Typer app --help")
    for kind in ("wall", "cpu"):
        validate, minimal = started["avgen"][kind], started["minimal"][kind]
        print(f"  {kind:>4}: {validate * 1000:.0f} ms / {minimal * 1000:.0f} ms, ratio {validate / minimal:.2f}")
    print()
    header = (f"{'layout':<9}{'functions':>10}" + "".join(f"{step:>10}" for step in STEPS) + f"{'generate':>10}"
              + "   growth: " + " ".join(f"{step:>6}" for step in STEPS) + f"{'all':>6}{'gen':>6}")
    print(header)
    print("-" * len(header))
    cold: list[str] = []
    with tempfile.TemporaryDirectory(prefix="avgen-bench-") as scratch:
        for layout in ("shared", "separate"):
            previous: dict[str, float] | None = None
            for functions in args.sizes:
                t = measure(functions, layout, args.repeat, Path(scratch))
                t["all"] = sum(t[step] for step in STEPS)
                line = f"{layout:<9}{functions:>10}" + "".join(f"{t[s] * 1000:>8.1f}ms" for s in STEPS)
                line += f"{t['command']:>9.2f}s"
                if previous:
                    line += "           " + " ".join(f"{t[s] / previous[s]:>6.1f}" for s in STEPS)
                    line += f"{t['all'] / previous['all']:>6.1f}{t['command'] / previous['command']:>6.1f}"
                print(line)
                cold_growth = f" (growth {t['checks_cold'] / previous['checks_cold']:.1f})" if previous else ""
                cold.append(f"{layout} {functions}: {t['checks_cold'] * 1000:.1f} ms{cold_growth}")
                previous = t
    print("\nchecks after flushing the CPU caches: " + "; ".join(cold))
    print("\ngrowth: time for N / time for the previous N (10.0 for 10x the functions is linear); "
          "generate: the whole `avgen generate` process, best of runs.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
