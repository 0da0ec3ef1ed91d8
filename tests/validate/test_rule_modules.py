"""Every rule id lives in one module under generator/workflow/rules/, with its logic, and a rule module
reports where a value was written from the place handed to it."""
from __future__ import annotations

import re
from pathlib import Path

from generator.workflow.findings import Location, Place
from generator.workflow.rules import RULES, invalid_value
from generator.workflow.source import parse_text

RULES_DIR = Path(__file__).resolve().parents[2] / "generator" / "workflow" / "rules"
WORKFLOW_DIR = RULES_DIR.parent
RULE_ID = re.compile(r"AVG\d{3}")


def modules_naming(rule_id: str) -> list[str]:
    return sorted(p.name for p in RULES_DIR.glob("*.py") if p.name != "catalog.py" and rule_id in p.read_text())


def test_every_catalog_id_is_in_exactly_one_rule_module():
    places = {rule_id: modules_naming(rule_id) for rule_id in RULES}
    wrong = {rule_id: found for rule_id, found in places.items() if len(found) != 1}
    assert not wrong, f"rule ids not in exactly one module of generator/workflow/rules/: {wrong}"


def test_no_workflow_code_outside_rules_names_a_rule_id():
    """Loading, resolving and converting code hands values to the rules; only they (and the schema's
    descriptions, which are documentation shown to users) name an id."""
    named = {p.name: sorted(set(RULE_ID.findall(p.read_text()))) for p in WORKFLOW_DIR.glob("*.py")
             if p.name not in ("schema.py", "report.py")}
    assert {name: ids for name, ids in named.items() if ids} == {}


def test_a_rule_module_reports_at_the_place_it_is_handed():
    text = "functions:\n  aws:\n  - lambda:\n      name: not a name!\n"
    document = parse_text(text, "flow.yaml")
    place = Place(("functions", "aws", 0, "lambda", "name"), lambda path, key: document.locate(path, key=key))
    [finding] = invalid_value.function_name("not a name!", "not a name!", place)
    assert (finding.rule_id, finding.location) == ("AVG004", Location("flow.yaml", 4, 13))
    assert list(invalid_value.function_name("fine", "fine", place)) == []
