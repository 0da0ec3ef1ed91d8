"""The file is not readable YAML: a syntax error, a tab, a duplicate key, an alias bomb, a file too large or
not UTF-8. generator/workflow/source.py finds these while reading and raises YamlSyntaxError with the place;
this is the finding it becomes."""
from __future__ import annotations

from generator.errors import YamlSyntaxError
from generator.workflow.findings import Finding
from generator.workflow.rules.catalog import rule

RULE = rule("AVG001")


def unreadable(exc: YamlSyntaxError) -> Finding:
    return RULE.finding(exc.message, exc.location)
