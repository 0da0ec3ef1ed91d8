"""Checks on the resolved workflow. Each check is a small function registered with its rule ids."""
from __future__ import annotations

from typing import Callable, Iterable

from generator.workflow.findings import Finding
from generator.workflow.graph import graph_kept
from generator.workflow.model import Workflow
from generator.workflow.rules.catalog import RULES, Rule, rule

Check = Callable[[Workflow], Iterable[Finding]]
CHECKS: list[Check] = []


def check(func: Check) -> Check:
    CHECKS.append(func)
    return func


def run_checks(workflow: Workflow) -> list[Finding]:
    findings: list[Finding] = []
    with graph_kept(workflow):
        for func in CHECKS:
            findings.extend(func(workflow))
    return findings


from generator.workflow.rules import gpu, topology  # noqa: E402,F401  (registers the checks)

__all__ = ["RULES", "Rule", "rule", "run_checks", "CHECKS"]
