"""Every rule's check, each rule id in one module with its logic (docs/rules.md says how to add one).

Checks on the resolved workflow register here with `@check` (gpu.py, topology.py) and run once it loaded
without errors; the others run while the file is read and resolved: the loader hands them values with
their places (`Place`) and collects what they find."""
from __future__ import annotations

from collections.abc import Callable, Iterable

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

__all__ = ["CHECKS", "RULES", "Rule", "rule", "run_checks"]
