"""Checks on the resolved workflow. Each check is a small function registered with its rule ids."""
from __future__ import annotations

from typing import Callable, Iterable

from ..findings import Finding
from ..model import Workflow
from .catalog import RULES, Rule, rule

Check = Callable[[Workflow], Iterable[Finding]]
CHECKS: list[Check] = []


def check(func: Check) -> Check:
    CHECKS.append(func)
    return func


def run_checks(workflow: Workflow) -> list[Finding]:
    findings: list[Finding] = []
    for func in CHECKS:
        findings.extend(func(workflow))
    return findings


from . import gpu, topology  # noqa: E402,F401  (registers the checks)

__all__ = ["RULES", "Rule", "rule", "run_checks", "CHECKS"]
