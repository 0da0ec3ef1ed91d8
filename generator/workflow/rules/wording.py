"""How findings show values from the file: short, typed in plain words, and never a secret."""
from __future__ import annotations

import collections.abc
import datetime
import re
import reprlib
from typing import Any

# Keys that look like they hold a secret (secret_key, API_TOKEN, …): a message never shows their values.
SECRET_NAME = re.compile(r"(SECRET|PASSWORD|PASSWD|TOKEN|PRIVATE_KEY|ACCESS_KEY)", re.IGNORECASE)


class _Redacted:
    def __repr__(self) -> str:
        return "<redacted>"


REDACTED = _Redacted()

_REPR = reprlib.Repr()
_REPR.maxlevel, _REPR.maxstring, _REPR.maxother = 2, 60, 60


def names_a_credential(path: tuple) -> bool:
    """True for a place under a key that looks like it holds a secret."""
    return any(isinstance(part, str) and SECRET_NAME.search(part) for part in path)


def short_text(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[:limit] + "…"


def short_repr(value: Any) -> str:
    """A value for a message: short even for a huge string or a deeply nested, alias-shared list."""
    return short_text(_REPR.repr(value), 60)


def short(value: Any) -> str:
    """A scalar in parentheses for a type error's message; nothing for a collection."""
    if isinstance(value, (dict, list, collections.abc.Set)) or value is None:
        return ""
    if hasattr(value, "tag") and hasattr(value, "value"):  # ruamel's TaggedScalar
        value = value.value
    text = _REPR.repr(value)
    return f"({text[:40]}…)" if len(text) > 40 else f"({text})"


def type_name(value: Any) -> str:
    name = {dict: "a mapping", list: "a list", str: "text", bool: "a boolean", int: "a number",
            float: "a number", type(None): "nothing"}.get(type(value))
    if name:
        return name
    # what else ruamel makes of YAML: dates, !!binary, !!set, custom tags (!tag value)
    if isinstance(value, (datetime.date, datetime.datetime)):
        return "a date"
    if isinstance(value, (bytes, bytearray)):
        return "binary data"
    if isinstance(value, collections.abc.Set):
        return "a set"
    if hasattr(value, "tag") and hasattr(value, "value"):
        return f"a value tagged {short_text(str(getattr(value.tag, 'value', value.tag)), 30)}"
    return type(value).__name__
