"""The one table of checkov skips: every entry is used, has a reason, and no marker lacks an entry."""
from __future__ import annotations

import pytest

from generator.render.checkov_skips import (
    CHECKOV_SKIPS,
    UnknownCheckovSkip,
    apply_checkov_skips,
    checkov_skips_markdown,
    marked_check_ids,
)

from .cases import REPO

SOURCES = sorted([*REPO.glob("modules/*/*.tf"), *REPO.glob("templates/*.j2")])


def markers() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for path in SOURCES:
        for check_id in marked_check_ids(path.read_text()):
            found.setdefault(check_id, []).append(str(path.relative_to(REPO)))
    return found


def test_every_marker_names_a_check_in_the_table():
    assert set(markers()) <= set(CHECKOV_SKIPS), set(markers()) - set(CHECKOV_SKIPS)


def test_every_table_entry_is_used():
    assert set(CHECKOV_SKIPS) <= set(markers()), set(CHECKOV_SKIPS) - set(markers())


@pytest.mark.parametrize("check_id", sorted(CHECKOV_SKIPS))
def test_every_skip_has_a_reason_on_one_line(check_id):
    skip = CHECKOV_SKIPS[check_id]
    assert skip.check_id == check_id and skip.check and skip.resource
    assert len(skip.reason) > 40 and "\n" not in skip.reason


def test_markers_become_inline_skips_and_unknown_ones_fail():
    text = 'resource "aws_sns_topic" "x" {\n  # avgen:checkov-skip CKV_AWS_26\n  name = "x"\n}\n'
    assert f"  #checkov:skip=CKV_AWS_26:{CHECKOV_SKIPS['CKV_AWS_26'].reason}\n" in apply_checkov_skips(text, "t.tf")
    with pytest.raises(UnknownCheckovSkip, match="CKV_AWS_999"):
        apply_checkov_skips("  # avgen:checkov-skip CKV_AWS_999\n", "t.tf")


def test_the_documentation_shows_the_table():
    doc = (REPO / "docs" / "generated-terraform.md").read_text()
    assert checkov_skips_markdown() in doc, "run python3 scripts/regen_golden.py to rewrite the table"
