"""A value of the wrong type: text where a number belongs, a list where a mapping does, a key that is not text."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic_core import ErrorDetails

from generator.workflow.findings import Finding, Place
from generator.workflow.rules.catalog import rule
from generator.workflow.rules.wording import short, type_name

RULE = rule("AVG003")
_SCALARS = ("text", "a number", "a whole number", "true or false")
_EXPECTED = {
    "int_type": "a whole number", "int_from_float": "a whole number", "string_type": "text",
    "bool_type": "true or false", "dict_type": "a mapping (key: value)", "list_type": "a list",
    "model_type": "a mapping (key: value)", "model_attributes_type": "a mapping (key: value)",
    "float_type": "a number",
}


def not_a_mapping(data: Any, place: Place) -> Finding:
    """The whole file is something else than a mapping."""
    return RULE.at(place, f"the file must hold a mapping with a `functions` key, not {type_name(data)}")


def part_not_a_mapping(place: Place) -> Finding:
    """One of several files given together is not a mapping."""
    return RULE.at(place, "the file must hold a mapping with a `functions` key")


def functions_not_a_list(place: Place) -> Finding:
    return RULE.at(place, "`functions` must hold an `aws:` list of functions", key=True)


def key_not_text(name: str, place: Place) -> Finding:
    """A mapping key that is a number, a list, … (`place` ends with the key when the file has it)."""
    return RULE.at(place, f"key `{name}` must be text", f"quote it: \"{name}\"", key=True)


def schema_type(where: str, errors: Sequence[ErrorDetails], value: Any, shown: Any, place: Place) -> Finding:
    """The schema's type errors at one place: every type that would have been accepted there."""
    kinds = [_expected_type(e) for e in errors]
    expected = " or ".join(dict.fromkeys(kinds))
    if len(errors) > 1 and set(kinds) <= set(_SCALARS):
        expected = "text, a number or true/false"
    return RULE.at(place, f"`{where}` must be {expected}, not {type_name(value)} {short(shown)}".rstrip(),
                   _type_hint(expected, shown))


def _expected_type(error: ErrorDetails) -> str:
    return _EXPECTED.get(error["type"], error["msg"].replace("Input should be ", "").rstrip("."))


def _type_hint(expected: str, value: Any) -> str:
    if expected == "a whole number" and isinstance(value, str) and value.strip().isdigit():
        return f"write {value.strip()} without quotes"
    if expected == "a list" and isinstance(value, str):
        return f"write it as a list: [{value}]"
    if expected == "text" and isinstance(value, (int, float, bool)):
        return f"quote it: \"{value}\""
    return ""
