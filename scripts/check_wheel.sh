#!/usr/bin/env bash
# Builds avgen's wheel, installs it in a fresh virtual environment (no checkout on its path) and runs
# `avgen validate` and `avgen generate` on both examples from there: the templates and modules must travel
# inside the package.
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 -m pip wheel -q --no-deps --disable-pip-version-check -w "$work/dist" . >/dev/null
python3 -m venv --system-site-packages "$work/venv"   # dependencies from the machine, avgen itself from the wheel
"$work/venv/bin/pip" install -q --disable-pip-version-check --no-deps --force-reinstall "$work"/dist/avgen-*.whl
cd "$work"   # away from the checkout, so that only the installed package can answer
for example in av-workflow video-process; do
  cp -r "$OLDPWD/examples/$example" "$work/$example"
  "$work/venv/bin/avgen" validate "$work/$example/workflow.yaml" >/dev/null
  "$work/venv/bin/avgen" generate "$work/$example/workflow.yaml" -o "$work/out-$example" >/dev/null
  test -f "$work/out-$example/main.tf" && test -d "$work/out-$example/modules"
done
echo "wheel ok: $(basename "$work"/dist/avgen-*.whl) generates both examples from a fresh virtual environment"
