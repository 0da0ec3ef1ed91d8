#!/usr/bin/env bash
# Regenerates the lock files that setup, CI and the function images install from, with hashes, from the ranges
# in pyproject.toml, requirements/*.in and batch_jobs/image/requirements.txt:
#
#   requirements/dev.txt               avgen[media,test,openvino] + the tools (ruff, mypy, uv); Python >= 3.10, any OS
#   requirements/checkov.txt           checkov, for its own virtual environment (.venv-checkov)
#   batch_jobs/image/requirements.lock what an image installs into /opt/avgen: Python 3.11 (Debian 12's, which the image carries), x86_64 manylinux 2.28
#   batch_jobs/image/requirements-gpu.lock  what a GPU function's image adds: onnxruntime-gpu and NVIDIA's CUDA libraries
#
#   bash scripts/lock.sh            # keep every pinned version that still satisfies the ranges
#   bash scripts/lock.sh --upgrade  # the newest releases the ranges allow
#   bash scripts/lock.sh --check    # fail when a lock no longer matches its ranges, or a set does not resolve
set -euo pipefail
cd "$(dirname "$0")/.."

mode=${1:-}
case "$mode" in ""|--upgrade|--check) ;; *) echo "usage: bash scripts/lock.sh [--upgrade | --check]" >&2; exit 2 ;; esac
uv=$(command -v uv || echo .venv/bin/uv)
[ -x "$uv" ] || { echo "error: uv is not installed: run bash scripts/setup.sh (it installs uv into .venv/)" >&2; exit 1; }
# uv reads no pip.conf: hand it the CA bundle pip trusts, where the machine has one
[ -z "${SSL_CERT_FILE:-}" ] && [ -f /etc/ssl/certs/ca-certificates.crt ] && export SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt

upgrade=(); [ "$mode" = --upgrade ] && upgrade=(--upgrade)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
stale=0

# lock OUTPUT ARGS...: compile into OUTPUT (starting from its pins, as uv does), or into a copy with --check
lock() {
  local output=$1; shift
  local target=$output
  if [ "$mode" = --check ]; then target="$work/$(basename "$output")"; [ -f "$output" ] && cp "$output" "$target"; fi
  echo "locking $output" >&2
  "$uv" pip compile --quiet --generate-hashes --custom-compile-command "bash scripts/lock.sh" \
    "${upgrade[@]}" -o "$target" "$@"
  if [ "$mode" = --check ] && ! cmp -s "$output" "$target"; then
    echo "error: $output is stale; run bash scripts/lock.sh and commit it:" >&2
    diff -u "$output" "$target" | head -40 >&2 || true
    stale=1
  fi
}

lock requirements/dev.txt --universal --python-version 3.10 \
  pyproject.toml --extra media --extra test --extra openvino requirements/tools.in
lock requirements/checkov.txt --universal --python-version 3.10 requirements/checkov.in
# pocketsphinx publishes no aarch64 wheels, so arm64 images have no lock yet
lock batch_jobs/image/requirements.lock --python-platform x86_64-manylinux_2_28 --python-version 3.11 \
  --only-binary :all: batch_jobs/image/requirements.txt
# a GPU image's additions, at the versions the image already has
lock batch_jobs/image/requirements-gpu.lock --python-platform x86_64-manylinux_2_28 --python-version 3.11 \
  --only-binary :all: -c batch_jobs/image/requirements.lock batch_jobs/image/requirements-gpu.txt
exit $stale
