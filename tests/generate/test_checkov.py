"""checkov finds nothing to fail in the generated Terraform, and every check it skips carries the reason
from generator/render/checkov_skips.py."""
from __future__ import annotations

import json
import subprocess

import pytest

from generator.render.checkov_skips import CHECKOV_SKIPS
from generator.render.root import write_output

from .cases import CASES, render_case


def scan(checkov_bin: str, folder) -> dict:
    # The report goes to stdout, never into the scanned folder.
    result = subprocess.run(
        [checkov_bin, "-d", str(folder), "--framework", "terraform", "--skip-download", "-o", "json", "--compact"],
        capture_output=True, text=True, timeout=600,
    )
    assert result.returncode in (0, 1), result.stderr[-2000:]
    report = json.loads(result.stdout)
    return report[0] if isinstance(report, list) else report


@pytest.mark.checkov
@pytest.mark.parametrize("name", sorted(CASES))
def test_checkov_reports_no_failed_check(name, tmp_path, checkov_bin):
    write_output(tmp_path, render_case(name))
    report = scan(checkov_bin, tmp_path)
    failed = [f"{c['check_id']} {c['resource']} ({c['file_path']})" for c in report["results"]["failed_checks"]]
    assert failed == []
    assert report["summary"]["passed"] > 100
    for skipped in report["results"]["skipped_checks"]:
        skip = CHECKOV_SKIPS[skipped["check_id"]]
        assert skipped["check_result"]["suppress_comment"] == skip.reason, skipped["check_id"]
