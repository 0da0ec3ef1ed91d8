#!/usr/bin/env bash
# What `pip install avgen` gives a user today: a new virtual environment resolved from pyproject.toml's ranges
# alone (no lock), then the fast tests and one sandbox apply → put → get. When a release inside the ranges breaks
# avgen, this names the packages whose versions differ from the tested lock.
#
#   bash scripts/check_newest.sh
set -euo pipefail
cd "$(dirname "$0")/.."
venv=${AVGEN_NEWEST_VENV:-.venv-newest}
rm -rf "$venv"
echo "newest allowed: resolving pyproject.toml's ranges into $venv (no lock)" >&2
"${PYTHON:-python3}" -m venv "$venv"
"$venv/bin/python" -m pip install -q --disable-pip-version-check -e '.[media,test,openvino]'

# name==version of what got installed that the lock pins differently (or does not pin)
drift=$("$venv/bin/python" - <<'PY'
import re
from importlib.metadata import distributions
from pathlib import Path

canon = lambda name: re.sub(r"[-_.]+", "-", name).lower()
pinned = {}
for name, version, marker in re.findall(r"^([A-Za-z0-9_.-]+)==(\S+)(?: ; (.*?))? \\$", Path("requirements/dev.txt").read_text(), re.M):
    pinned.setdefault(canon(name), set()).add(version)
for dist in sorted(distributions(), key=lambda d: canon(d.metadata["Name"])):
    name = canon(dist.metadata["Name"])
    if name in ("avgen", "pip", "setuptools") or dist.version in pinned.get(name, ()):
        continue
    print(f"{name}=={dist.version} (lock: {', '.join(sorted(pinned[name])) if name in pinned else 'not in it'})")
PY
)
if [ -n "$drift" ]; then echo "newest allowed differs from the lock in:"$'\n'"$drift" >&2
else echo "newest allowed equals the lock" >&2; fi

pytest=("$venv/bin/python" -m pytest -p no:cacheprovider -q)
if ! { "${pytest[@]}" -n 2 -m "not sandbox" tests &&
       "${pytest[@]}" "tests/deploy/test_sandbox_runs.py::test_an_upload_runs_a_lambda_then_a_batch_job"; }; then
  echo "error: the newest releases pyproject.toml allows fail the tests; the packages that differ from the tested" \
       "lock are listed above: lower that package's upper bound in pyproject.toml, or fix avgen and raise it" >&2
  exit 1
fi
