#!/usr/bin/env bash
# The av-workflow, whole, in the sandbox (no AWS account): deploy it with Terraform, upload the real models
# and a sample video, let the deployed functions and Batch jobs run, and fetch the results into demo-results/.
set -euo pipefail
cd "$(dirname "$0")/.."
workflow=examples/av-workflow/workflow.yaml
bucket=change-me-av-workflow
avgen=.venv/bin/avgen   # what scripts/setup.sh installed
[ -x "$avgen" ] || { echo "error: no .venv/bin/avgen: run bash scripts/setup.sh first" >&2; exit 1; }
python=.venv/bin/python

[ -f .avgen-demo/sample/sample.mp4 ] || "$python" scripts/fetch_models.py >&2
plugin=()
for dir in "${AVGEN_PLUGIN_DIR:-}" /opt/tf-plugins; do   # an offline copy of the AWS provider, where there is one
  if [ -n "$dir" ] && [ -d "$dir/registry.terraform.io" ]; then plugin=(--plugin-dir "$dir"); break; fi
done

# One emulator for the whole demo: without it, each command starts its own and first replays everything the
# earlier ones did (the deployment, 108 MiB of models), 20-50 s of silence per command.
eval "$("$avgen" sandbox up "$workflow")"
trap '"$avgen" sandbox down "$workflow" >/dev/null 2>&1 || true' EXIT
"$avgen" apply "$workflow" --sandbox --auto-approve "${plugin[@]}"
# Where a Docker engine answers, the functions' real images are built and each invocation runs in its image
# (AVGEN_DEMO_IN_PROCESS=1: not; AVGEN_CA_BUNDLE: a TLS-inspecting proxy's CA bundle for the build's pip).
if [ -z "${AVGEN_DEMO_IN_PROCESS:-}" ] && "${AVGEN_DOCKER:-docker}" info >/dev/null 2>&1; then
  "$avgen" build "$workflow" --local --network host ${AVGEN_CA_BUNDLE:+--ca-bundle "$AVGEN_CA_BUNDLE"}
fi
"$avgen" put "$workflow" .avgen-demo/models -b "$bucket/models" --sandbox
"$avgen" put "$workflow" .avgen-demo/sample/sample.mp4 --sandbox      # runs the workflow, waits for it
rm -rf demo-results
"$avgen" get "$workflow" --sandbox -p demo-results
ffmpeg -loglevel error -y -ss 1 -i demo-results/result/sample.avi -frames:v 1 demo-results/sample-frame.png
echo
echo "results: demo-results/result/sample.avi (video with boxes), demo-results/result/sample.srt (subtitles),"
echo "         demo-results/sample-frame.png (one frame). The subtitles:"
cat demo-results/result/sample.srt
