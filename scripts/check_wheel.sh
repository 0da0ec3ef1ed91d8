#!/usr/bin/env bash
# Builds avgen's wheel, installs it in a fresh virtual environment (no checkout on its path) and runs
# `avgen validate` (text and SARIF), `avgen generate` and `avgen schema` from there: the templates, modules and
# the docs read at run time must travel inside the package.
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python=${PYTHON:-.venv/bin/python}   # setup's virtual environment: the locked dependencies
"$python" -m pip wheel -q --no-deps --disable-pip-version-check -w "$work/dist" . >/dev/null
# only what runs ships: no tests, no development data, no test-only helper left in the package
"$python" -c 'import sys, zipfile; bad = [n for n in zipfile.ZipFile(sys.argv[1]).namelist() if n.split("/")[0] in ("tests", "devdata", "bench", "scripts") or n.endswith("/schema_check.py")]; sys.exit(f"shipped but not run: {bad}" if bad else 0)' "$work"/dist/avgen-*.whl
"$python" -m venv "$work/venv"
# avgen itself from the wheel; its dependencies from $python's environment, which the .pth below adds after
# the new one's site-packages (a path a .pth names is not scanned for .pth files: the editable avgen stays out)
"$work/venv/bin/pip" install -q --disable-pip-version-check --no-deps "$work"/dist/avgen-*.whl
deps=$("$python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
"$work/venv/bin/python" -c 'import sys, sysconfig; from pathlib import Path; Path(sysconfig.get_paths()["purelib"], "deps.pth").write_text(sys.argv[1] + "\n")' "$deps"
cd "$work"   # away from the checkout, so that only the installed package can answer
"$work/venv/bin/python" -c 'import generator, sys; assert "/site-packages/" in generator.__file__ and sys.argv[1] not in generator.__file__, generator.__file__' "$OLDPWD"
for example in av-workflow video-process; do
  cp -r "$OLDPWD/examples/$example" "$work/$example"
  "$work/venv/bin/avgen" validate "$work/$example/workflow.yaml" >/dev/null
  # the rules' help (from the shipped docs/rules.md) in SARIF
  "$work/venv/bin/avgen" validate "$work/$example/workflow.yaml" --format sarif >"$work/sarif.json"
  grep -q '"fullDescription"' "$work/sarif.json"
  "$work/venv/bin/avgen" generate "$work/$example/workflow.yaml" -o "$work/out-$example" >/dev/null
  test -f "$work/out-$example/main.tf" && test -d "$work/out-$example/modules"
done
# the schema's descriptions come from the shipped docs/workflow-format.md
"$work/venv/bin/avgen" schema >"$work/schema.json"
grep -q '"description"' "$work/schema.json"
echo "wheel ok: $(basename "$work"/dist/avgen-*.whl) generates both examples from a fresh virtual environment"
