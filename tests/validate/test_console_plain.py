"""Without a terminal, avgen prints text without importing rich (start-up), exactly as rich prints it."""
from __future__ import annotations

import io
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console
from rich.errors import MarkupError
from rich.markup import escape as rich_escape

from generator.cli import console
from generator.cli.console import LazyConsole, escape, print_findings
from generator.workflow.load import load_workflow

ROOT = Path(__file__).resolve().parents[2]
PIECES = st.sampled_from(["[", "]", "\\", "/", "[/]", "[bold]", "[dim]", "[/dim]", "[@click]", "[link=x]", "\\[",
                          "a", "b", "=", ":", ":smile:", " ", "\n", "\t", "é", "漢", "x y", "[red]", "[#fff]",
                          "  ", "\r", "s3://b/k"])
TEXT = st.lists(PIECES, max_size=12).map("".join)


def rich_prints(text: str, **options) -> str:
    stream = io.StringIO()
    Console(file=stream, highlight=False, soft_wrap=True, width=console.WIDE).print(text, **options)
    return stream.getvalue()


def lazy_prints(text: str, **options) -> str:
    stream = io.StringIO()
    saved, sys.stdout = sys.stdout, stream
    try:
        LazyConsole().print(text, **options)
    finally:
        sys.stdout = saved
    return stream.getvalue()


@settings(max_examples=400, deadline=None)
@given(TEXT)
def test_escape_is_richs(text):
    assert escape(text) == rich_escape(text)


@settings(max_examples=400, deadline=None)
@given(TEXT)
def test_markup_as_rich_prints_it(text):
    try:
        expected = rich_prints(text)
    except MarkupError:
        assert console._without_markup(text) is None  # rich says what is wrong with it
        return
    plain = console._without_markup(text)
    assert plain is None or plain + "\n" == expected
    escaped = console._without_markup(escape(text))  # as messages are printed: escaped, inside tags
    assert escaped is None or escaped + "\n" == rich_prints(escape(text))


@settings(max_examples=200, deadline=None)
@given(TEXT, st.sampled_from([{}, {"markup": False}, {"markup": False, "highlight": False}]))
def test_lazy_console_prints_what_rich_prints(text, options):
    try:
        expected = rich_prints(text, **options)
    except MarkupError:
        with pytest.raises(MarkupError):
            lazy_prints(text, **options)
        return
    assert lazy_prints(text, **options) == expected


@pytest.mark.parametrize("path", sorted((Path(__file__).parent / "cases").glob("*.yaml"))
                         + sorted(ROOT.glob("examples/*/workflow.yaml")), ids=lambda p: p.name)
def test_findings_print_as_with_rich(path, monkeypatch, capsys):
    """Every fixture's findings, as `avgen validate` prints them, byte for byte what rich prints."""
    result = load_workflow(path)
    print_findings(str(path), result.findings, show_info=True)
    plain = capsys.readouterr().out
    stream = io.StringIO()
    monkeypatch.setattr(console, "out", Console(file=stream, highlight=False, soft_wrap=True, width=console.WIDE))
    print_findings(str(path), result.findings, show_info=True)
    assert plain == stream.getvalue()
