#!/usr/bin/env bash
# Installs everything avgen, its handlers and its test-suite need, on a fresh Debian machine (as root or
# with sudo): the media tools from Debian, avgen and its Python dependencies, and checkov in a virtual
# environment of its own (checkov pins an old boto3 and ships a module that clashes with python-hcl2).
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" != 0 ] && command -v sudo >/dev/null; then SUDO=sudo; fi
if command -v apt-get >/dev/null; then
  missing=""
  for tool in ffmpeg espeak-ng sox; do command -v "$tool" >/dev/null || missing="$missing $tool"; done
  if [ -n "$missing" ]; then
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
  fi
fi

PYTHON=${PYTHON:-python3}
"$PYTHON" -m pip install -q --disable-pip-version-check -e '.[media,test]'

if [ ! -x .venv-checkov/bin/checkov ]; then
  "$PYTHON" -m venv .venv-checkov
  .venv-checkov/bin/pip install -q --disable-pip-version-check 'checkov>=3,<4'
fi

command -v terraform >/dev/null || echo "note: terraform is not on PATH; install Terraform >= 1.6 to plan and apply" >&2
echo "avgen is ready: $(avgen --version)"
