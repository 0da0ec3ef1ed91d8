#!/usr/bin/env python3
"""What running the real images costs in the sandbox, against running the runtime in-process.

In one run, against tests/data/image-workflow deployed with `avgen apply --sandbox`:

1. N uploads to its `tools/` folder run in-process (no image built yet) — the reference: each invocation's
   own time, as the executor measured it (the REPORT line's Duration);
2. `avgen build --local` (the images; cold or cached as the engine's build cache stands), and their sizes;
3. the same N uploads, now each in its function's image (`docker run`, the Runtime API, the container's end).

Needs a Docker engine with the local bases (`eval "$(bash scripts/docker_engine.sh)"`).

    python3 bench/bench_images.py [--uploads 5] [--plugin-dir DIR] [--network host] [--ca-bundle FILE]
"""
from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from generator.deploy.build import docker_command

REPO = Path(__file__).resolve().parents[1]
WORKFLOW_DATA = REPO / "tests" / "data" / "image-workflow"
BUCKET = "avgen-image-test"


def avgen(*args: str) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, "-m", "generator.cli", *map(str, args)], cwd=REPO,
                            capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"avgen {' '.join(map(str, args))} failed:\n{result.stdout}\n{result.stderr}")
    return result


def invocation_seconds(workflow: Path, workdir: Path, folder: Path, uploads: int, label: str) -> list[float]:
    seconds = []
    for index in range(uploads):
        source = folder / f"{label}-{index}.txt"
        source.write_text(f"{label} {index}\n")
        report = json.loads(avgen("put", workflow, source, "-b", f"{BUCKET}/tools", "--sandbox", "-w", workdir,
                                  "--format", "json").stdout)
        [activity] = report["put"]["activities"]
        assert bool(activity["image"]) == (label == "image"), activity
        seconds.append(activity["seconds"])
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--uploads", type=int, default=5)
    parser.add_argument("--plugin-dir", default="/opt/tf-plugins")
    parser.add_argument("--network", default="host")
    parser.add_argument("--ca-bundle")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="avgen-bench-images-") as temp:
        root = Path(temp)
        shutil.copytree(WORKFLOW_DATA, root / "wf")
        workflow, workdir = root / "wf" / "workflow.yaml", root / "deploy"
        plugin = ["--plugin-dir", options.plugin_dir] if Path(options.plugin_dir).is_dir() else []
        avgen("apply", workflow, "--sandbox", "--auto-approve", *plugin, "-w", workdir)
        in_process = invocation_seconds(workflow, workdir, root, options.uploads, "in-process")
        began = time.monotonic()
        avgen("build", workflow, "--local", "--network", options.network,
              *(["--ca-bundle", options.ca_bundle] if options.ca_bundle else []), "-w", workdir)
        build_s = time.monotonic() - began
        images = json.loads((workdir / "images" / "local-images.json").read_text())
        in_image = invocation_seconds(workflow, workdir, root, options.uploads, "image")
        sizes = {name: subprocess.run([docker_command(), "image", "inspect", "--format", "{{.Size}}", image],
                                      capture_output=True, text=True).stdout.strip() for name, image in images.items()}
    reference, measured = statistics.median(in_process), statistics.median(in_image)
    print(f"one invocation of img-tools (median of {options.uploads}): in-process {reference:.2f} s, "
          f"in its image {measured:.2f} s: {measured / reference:.2f}x (+{measured - reference:.2f} s per invocation)")
    print(f"avgen build --local of {len(images)} images: {build_s:.1f} s")
    for name, size in sorted(sizes.items()):
        print(f"  {name}: {int(size) / 1e6:.0f} MB")


if __name__ == "__main__":
    main()
