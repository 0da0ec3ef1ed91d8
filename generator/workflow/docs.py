"""The user documentation as data: the rules' sections of docs/rules.md (SARIF's rule help) and the key
tables of docs/workflow-format.md (the JSON Schema's descriptions). The docs are the one source: they ship
in the package (pyproject.toml: `generator.docs`), and are parsed when first needed, so a rule or key added
to them needs no code here."""
from __future__ import annotations

import re
from functools import lru_cache

from generator.shipped import shipped_folder

_RULE_HEADING = re.compile(r"^## (AVG\d{3}) [\w-]+\n", re.M)
_LOCAL_LINK_ASIDE = re.compile(r" ?\(\[[^\]]+\]\(#[^)]*\)\)")  # "([below](#lambda))": no use outside the page
_LINK = re.compile(r"\[([^\]]+)\]\([^)]*\)")


@lru_cache(maxsize=None)
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
