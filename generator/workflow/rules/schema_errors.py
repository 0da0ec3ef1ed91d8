"""pydantic's validation errors as findings of the rules that own them (unknown key, wrong type, invalid
value, missing key), each at its place in the file.

pydantic adds steps that are not in the file to an error's location: the member of a union it tried
(`…FOO.str`, `…FOO.int`) and `[key]` for a bad mapping key. The location is cut back to the file's own keys
and each place reported once, with every type that would have been accepted there."""
from __future__ import annotations

import types
import typing
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from generator.workflow.findings import Finding, Place
from generator.workflow.rules import invalid_value, missing_key, unknown_key, wrong_type
from generator.workflow.rules.wording import REDACTED, names_a_credential, short_text
from generator.workflow.schema import WorkflowSpec


def schema_findings(exc: ValidationError, data: Any, root: Place) -> list[Finding]:
    groups: dict[tuple, list[ErrorDetails]] = {}
    for error in exc.errors():
        raw = tuple(error["loc"])
        bad_key = raw[-1] if error["type"] == "invalid_key" else raw[-2] if raw[-1:] == ("[key]",) else None
        loc = _split_loc(data, raw, error["type"])
        groups.setdefault((loc, None if bad_key is None else str(bad_key)), []).append(error)
    return [_finding(loc, bad_key, errors, root + loc) for (loc, bad_key), errors in groups.items()]


def _finding(loc: tuple, bad_key: str | None, errors: list[ErrorDetails], place: Place) -> Finding:
    error = errors[0]
    kind = error["type"]
    where = ".".join(str(p) for p in loc if not isinstance(p, int)) or "the file"
    value = error.get("input")
    # what messages and hints may show of the value: nothing at all under a credential-like key
    shown = REDACTED if names_a_credential(loc) else value
    if bad_key is not None:  # `loc` ends with the key when it could be found in the file, else it is its mapping
        return wrong_type.key_not_text(short_text(bad_key), place)
    if kind == "extra_forbidden":
        return unknown_key.schema_key(str(loc[-1]), _allowed_keys(loc[:-1]), place)
    if kind == "missing":
        return missing_key.schema_missing(where, str(loc[-1]), place.parent)
    if kind == "literal_error":
        return invalid_value.schema_choice(where, shown, error, place)
    if kind in invalid_value.RANGE_ERRORS:
        ctx = error.get("ctx", {})
        bounds = _bounds(loc) if "ge" in ctx or "le" in ctx else (None, None)
        return invalid_value.schema_range(where, shown, error, bounds, place)
    return wrong_type.schema_type(where, errors, value, shown, place)


def _split_loc(data: Any, loc: tuple, kind: str) -> tuple:
    """`loc` cut to the longest path that exists in `data` (the missing key itself kept for `missing`)."""
    node = data
    for depth, part in enumerate(loc):
        if (isinstance(node, dict) and part in node) or (
                isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)):
            node = node[part]
        elif kind == "missing" and depth == len(loc) - 1:
            return loc
        else:
            return loc[:depth]
    return loc


def _annotation_at(loc: tuple) -> tuple[Any, Any]:
    """The schema's type at `loc` and the pydantic field it belongs to (None, None when there is none)."""
    annotation: Any = WorkflowSpec
    field_info = None
    for part in loc:
        annotation = _unwrap(annotation)
        if isinstance(part, int):
            args = typing.get_args(annotation)
            annotation = args[0] if args else Any
        elif isinstance(annotation, type) and issubclass(annotation, BaseModel):
            field_info = next((f for n, f in annotation.model_fields.items() if (f.alias or n) == part), None)
            if field_info is None:
                return None, None
            annotation = field_info.annotation
        elif typing.get_origin(annotation) is dict:
            annotation = typing.get_args(annotation)[1]
        else:
            return None, None
    return annotation, field_info


def _allowed_keys(loc: tuple) -> list[str]:
    """The keys the schema accepts at `loc` (for "did you mean"), following lists and maps."""
    annotation = _unwrap(_annotation_at(loc)[0])
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [f.alias or n for n, f in annotation.model_fields.items()]
    return []


# `Optional[X]` and `X | None` (pyupgrade's spelling) are different origins at runtime
UNIONS = (typing.Union, types.UnionType)


def _bounds(loc: tuple) -> tuple[Any, Any]:
    """The (ge, le) limits the schema sets on the number at `loc` (None where there is none)."""
    annotation, field_info = _annotation_at(loc)
    metadata = list(field_info.metadata) if field_info is not None else []
    while annotation is not None:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            base, *extra = typing.get_args(annotation)
            for item in extra:
                metadata.extend(getattr(item, "metadata", [item]))
            annotation = base
        elif origin in UNIONS:
            args = [a for a in typing.get_args(annotation) if a is not type(None)]
            annotation = args[0] if len(args) == 1 else None
        else:
            break
    ge = next((item.ge for item in metadata if getattr(item, "ge", None) is not None), None)
    le = next((item.le for item in metadata if getattr(item, "le", None) is not None), None)
    return ge, le


def _unwrap(annotation: Any) -> Any:
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in UNIONS:
            args = [a for a in typing.get_args(annotation) if a is not type(None)]
            if len(args) != 1:
                return annotation
            annotation = args[0]
        else:
            return annotation
