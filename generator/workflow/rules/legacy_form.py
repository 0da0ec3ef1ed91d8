"""Old SCAR spellings, accepted and rewritten to the current form; the warning says what to write instead."""
from __future__ import annotations

from typing import Any

from generator.workflow.findings import Finding, Place
from generator.workflow.rules.catalog import rule
from generator.workflow.schema import LOG_LEVELS

RULE = rule("AVG006")


def rewrite(entry: Any, place: Place, renamed: dict[tuple, tuple]) -> list[Finding]:
    """Rewrite one function entry of the plain data in place (`place`: the entry's). A key moved to its new
    name is recorded in `renamed` (new path → old path), so that later findings point at what the user wrote."""
    spec = entry.get("lambda") if isinstance(entry, dict) else None
    if not isinstance(spec, dict):
        return []
    base = place / "lambda"
    return [*_image(spec, base, renamed), *_time(spec, base, renamed), *_log_level(spec, base)]


def _image(spec: dict, base: Place, renamed: dict[tuple, tuple]) -> list[Finding]:
    if "image" not in spec:
        return []
    image = spec.pop("image")
    if spec.get("container") is None:
        spec["container"] = {}
    container = spec["container"]
    if isinstance(container, dict) and "image" not in container:
        container["image"] = image
        renamed[base.path + ("container", "image")] = base.path + ("image",)
    return [RULE.at(base / "image", "`lambda.image` is SCAR's old spelling", "write it as `container: {image: ...}`",
                    key=True)]


def _time(spec: dict, base: Place, renamed: dict[tuple, tuple]) -> list[Finding]:
    if "time" not in spec:
        return []
    time = spec.pop("time")
    if "timeout" in spec:
        return [RULE.at(base / "time", "`lambda.time` is SCAR's old spelling of `timeout`, which is also written; "
                        "`time` is ignored", "remove `time:`", key=True)]
    spec["timeout"] = time
    renamed[base.path + ("timeout",)] = base.path + ("time",)
    return [RULE.at(base / "time", "`lambda.time` is SCAR's old spelling", "write `timeout:` (seconds)", key=True)]


def _log_level(spec: dict, base: Place) -> list[Finding]:
    level = spec.get("log_level")
    if not (isinstance(level, str) and level != level.upper() and level.upper() in LOG_LEVELS):
        return []
    spec["log_level"] = level.upper()
    return [RULE.at(base / "log_level", f"log_level `{level}` is written in lower case",
                    f"write `log_level: {level.upper()}`")]
