"""`avgen convert`: SCAR 3.x files (`functions: NAME: {...}`, one function per file) as one file in the current
form, which validates and generates the same Terraform (only the headers that name the input differ).

Round trip through ruamel.yaml, so that comments stay where they can: a file's leading comments go before
its functions, comments on a function's settings follow the settings, and sections that keep their shape
(`batch:`, `iam:`, `environment:`, …) are carried over as they were written, comments and all.
"""
from __future__ import annotations

import io
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from generator.errors import ConvertError
from generator.workdirs import distinct_files, workflow_name
from generator.workflow import scar3
from generator.workflow.findings import Finding, has_errors
from generator.workflow.load import load_workflow


@dataclass
class Conversion:
    text: str | None                      # the new file's text; None when the input has errors
    findings: list[Finding] = field(default_factory=list)  # the input's findings (errors stop the conversion)
    functions: list[str] = field(default_factory=list)     # names of the functions converted from the 3.x form


def _yaml() -> YAML:
    yaml = YAML(typ="rt")
    yaml.indent(mapping=2, sequence=2, offset=0)  # SCAR's own layout: `aws:` then `- lambda:` at the same column
    yaml.width = 4096
    yaml.preserve_quotes = True
    return yaml


def convert(paths: Sequence[Path | str], output: Path | str) -> Conversion:
    """The current form of the workflow the files make together, written for `output`'s folder (init_script
    paths are made relative to it). Nothing is written here. ConvertError when a script lies outside that
    folder, which the new file may not name (the unsafe-script rule)."""
    files = distinct_files([Path(p) for p in paths])
    output = Path(output)
    loaded = load_workflow(files)
    if loaded.workflow is None or has_errors(loaded.findings):
        return Conversion(None, loaded.findings)
    result = Conversion(None, loaded.findings)
    yaml = _yaml()
    entries = CommentedSeq()
    merged = CommentedMap()
    for file in files:
        document = yaml.load(Path(file).read_text(encoding="utf-8"))
        _add_entries(entries, document, Path(file), output, result)
        _merge_settings(merged, document)
    new = CommentedMap()
    new["functions"] = CommentedMap([("aws", entries)])
    for key, value in merged.items():
        new[key] = value
    # the workflow keeps its name (tags and shared resource names in the Terraform), whatever the new file
    # is called
    name = loaded.workflow.name
    if name != workflow_name(output):
        settings = new.setdefault("avgen", CommentedMap())
        if "name" not in settings:
            settings.insert(0, "name", name)
    stream = io.StringIO()
    yaml.dump(new, stream)
    text = stream.getvalue()
    result.text = text if text.endswith("\n") else text + "\n"  # a last value read without its newline
    return result


def _add_entries(entries: CommentedSeq, document: Any, file: Path, output: Path, result: Conversion) -> None:
    """One file's functions in the current form, after a comment that says where they come from."""
    before = len(entries)
    functions = document.get("functions")
    map_form = scar3.is_map_form(document)
    if map_form:
        for name, spec in functions.items():
            if name != "oscar":
                entries.append(_entry_from_map_form(name, spec))
                result.functions.append(str(name))
    else:
        for entry in functions.get("aws", []):
            entries.append(entry)
    for entry in entries[before:]:
        _relative_script(entry, file, output)
    label = f"from {file.name}" + (" (SCAR 3.x form, converted by avgen convert)" if map_form else "")
    if len(entries) > before:
        entries.yaml_set_comment_before_after_key(before, before="\n".join([*_leading_comment(document), label]),
                                                  indent=0)


def _merge_settings(merged: CommentedMap, document: Any) -> None:
    """The file's sections besides `functions`, merged key by key into what earlier files set."""
    for key, value in document.items():
        if key != "functions" and key not in merged:
            merged[key] = value
        elif key != "functions" and isinstance(value, dict) and isinstance(merged[key], dict):
            for inner, inner_value in value.items():  # validated above: files agree where both set a key
                merged[key].setdefault(inner, inner_value)


def _entry_from_map_form(name: Any, spec: Any) -> CommentedMap:
    converted = scar3.convert_function(name, dict(spec))
    entry = _commented(converted.entry)
    # comments written on a setting's line follow the setting to its new place
    lam = entry["lambda"]
    written = spec.ca.items if isinstance(spec, CommentedMap) else {}
    for new, old in converted.moved:
        if len(old) == 1 and old[0] in written:
            target = entry
            for part in new[:-1]:
                target = target.get(part) if isinstance(target, dict) else None
            if isinstance(target, CommentedMap) and new and new[-1] in target:
                target.ca.items[new[-1]] = written[old[0]]
    s3 = spec.get("s3") if isinstance(spec, dict) else None
    if isinstance(s3, CommentedMap):
        for old_key, side in (("input_bucket", "input"), ("output_bucket", "output")):
            if old_key in s3.ca.items and side in lam:
                lam[side][0].ca.items["path"] = s3.ca.items[old_key]
    return entry


def _commented(value: Any) -> Any:
    """Plain dicts and lists built by the conversion as ruamel containers (original ones are kept as they are)."""
    if isinstance(value, (CommentedMap, CommentedSeq)):
        return value
    if isinstance(value, dict):
        return CommentedMap((k, _commented(v)) for k, v in value.items())
    if isinstance(value, list):
        return CommentedSeq(_commented(v) for v in value)
    return value


def _relative_script(entry: Any, source: Path, output: Path) -> None:
    spec = entry.get("lambda") if isinstance(entry, dict) else None
    if not isinstance(spec, dict):
        return
    script = spec.get("init_script")
    if not isinstance(script, str) or not script:
        return
    absolute, folder = (source.parent / script).resolve(), output.parent.resolve()
    if not absolute.is_relative_to(folder):  # the new file would break the unsafe-script rule
        raise ConvertError(f"init_script `{script}` of {source.name} ({absolute}) would lie outside {folder}, the "
                           f"folder of {output.name}, where a script may not be: write {output.name} in a folder "
                           f"that holds the scripts (next to {source.name}, or above it), or copy them there first")
    if not Path(script).is_absolute():
        spec["init_script"] = Path(os.path.relpath(absolute, folder)).as_posix()


def _leading_comment(document: Any) -> list[str]:
    """The comment lines at the top of a file (before `functions:`), without their `#`."""
    lines: list[str] = []
    comment = getattr(document, "ca", None)
    for token in (comment.comment[1] or []) if comment and comment.comment else []:
        for line in token.value.splitlines():
            if line.strip().startswith("#"):
                lines.append(line.strip().lstrip("#").strip())
    return lines
