"""The user documentation as data: the rules' sections of docs/rules.md (SARIF's rule help) and the key
tables of docs/workflow-format.md (the JSON Schema's descriptions). The docs are the one source: they ship
in the package (pyproject.toml: `generator.docs`), and are parsed when first needed, so a rule or key added
to them needs no code here."""
from __future__ import annotations

import re
from functools import cache

from generator.shipped import shipped_folder

_RULE_HEADING = re.compile(r"^## (AVG\d{3}) [\w-]+\n", re.M)
_HEADING = re.compile(r"^#{1,6} (.+)\n", re.M)
_LOCAL_LINK_ASIDE = re.compile(r" ?\(\[[^\]]+\]\(#[^)]*\)\)")  # "([below](#lambda))": no use outside the page
_LINK = re.compile(r"\[([^\]]+)\]\([^)]*\)")


@cache
def doc_text(name: str) -> str:
    return (shipped_folder("docs") / name).read_text(encoding="utf-8")


def rule_sections(text: str) -> dict[str, str]:
    """Rule id → the Markdown of its `## AVGnnn slug` section, heading left out."""
    sections = {}
    starts = list(_RULE_HEADING.finditer(text))
    for match in starts:
        body = text[match.end():]
        end = re.search(r"^#{1,2} |^---$", body, re.M)
        sections[match.group(1)] = (body[:end.start()] if end else body).strip()
    return sections


def first_paragraph(markdown: str) -> str:
    return markdown.strip().split("\n\n", 1)[0]


def plain(markdown: str) -> str:
    """Markdown as plain text: no emphasis, links as their words, links within the page left out, each
    paragraph on one line (the docs' lines are wrapped at 120 columns); code blocks as they are."""
    parts = re.split(r"(```.*?```)", markdown, flags=re.S)
    for i in range(0, len(parts), 2):  # the parts between code blocks
        text = _LINK.sub(r"\1", _LOCAL_LINK_ASIDE.sub("", parts[i]))
        parts[i] = re.sub(r"(?<=\S)\n(?=\S)", " ", text.replace("**", ""))
    return "".join(parts)


def _cells(line: str) -> list[str]:
    # `|` inside code (`json\|sarif`) is escaped in the docs
    return [cell.strip().replace("\\|", "|") for cell in re.split(r"(?<!\\)\|", line.strip().strip("|"))]


@cache
def tables(text: str) -> dict[str, list[list[dict[str, str]]]]:
    """Heading → the tables under it (before the next heading), each a list of rows {column: cell}.
    Cached: do not change what it returns."""
    found: dict[str, list[list[dict[str, str]]]] = {}
    text = re.sub(r"```.*?```", "", text, flags=re.S)  # a `# comment` in a code block is no heading
    headings = list(_HEADING.finditer(text))
    for i, heading in enumerate(headings):
        end = headings[i + 1].start() if i + 1 < len(headings) else len(text)
        body = text[heading.end():end]
        for block in re.findall(r"(?:^\|.*\n?)+", body, re.M):
            lines = block.strip().splitlines()
            if len(lines) < 2 or not set(lines[1]) <= set("|-: "):
                continue
            columns = _cells(lines[0])
            rows = [dict(zip(columns, _cells(line), strict=False)) for line in lines[2:]]
            found.setdefault(heading.group(1).strip(), []).append(rows)
    return found


def row_keys(cell: str) -> list[str]:
    """The keys a table row is about: each code span's leading name, last dotted part
    (`functions.aws` → aws, `BUCKET.create` → create, `s3: {input_bucket: B}` → s3)."""
    names = []
    for span in re.findall(r"`([^`]+)`", cell):
        match = re.match(r"[\w.]+", span)
        if match:
            names.append(match.group(0).rsplit(".", 1)[-1])
    return names
