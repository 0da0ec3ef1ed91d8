"""A key the format does not have, often a typo: the hint offers the closest valid key."""
from __future__ import annotations

import difflib

from generator.workflow.findings import Finding, Place
from generator.workflow.rules.catalog import rule
from generator.workflow.rules.wording import short_text

RULE = rule("AVG002")
SCAR3_S3_KEYS = ("input_bucket", "input_folder", "output_bucket", "output_folder")


def schema_key(name: str, allowed: list[str], place: Place) -> Finding:
    """A key the schema forbids; `allowed`: the keys it accepts there."""
    close = difflib.get_close_matches(name, allowed, n=1, cutoff=0.6)
    hint = f"did you mean `{close[0]}`?" if close else ""
    if allowed:
        hint = (hint + " " if hint else "") + f"valid keys here: {', '.join(allowed)}"
    return RULE.at(place, f"unknown key `{short_text(name)}`", hint, key=True)


def scar3_s3_key(name: str, place: Place) -> Finding:
    """A key under SCAR 3.x's `s3:` section that its conversion does not know."""
    return RULE.at(place, f"unknown key `{short_text(name)}`", f"valid keys here: {', '.join(SCAR3_S3_KEYS)}",
                   key=True)
