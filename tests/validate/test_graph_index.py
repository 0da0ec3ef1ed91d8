"""The trigger index (graph.TriggerIndex) finds exactly what comparing every pair finds."""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from generator.workflow.graph import (
    cycles,
    edges,
    may_write_into,
    overlapping_trigger_pairs,
    triggers_overlap,
    workflow_results,
    workflow_starts,
)
from generator.workflow.load import load_text

FOLDERS = st.sampled_from(["", "a", "a/b", "ab", "b", "a/b/c", "in", "in/x"])
SUFFIXES = st.lists(st.sampled_from(["jpg", "png", ".jpg", "g"]), max_size=2)


def workflow_text(functions) -> str:
    lines = ["functions:", "  aws:"]
    for index, (bucket, inp, in_suffix, out, out_suffix) in enumerate(functions):
        lines += ["  - lambda:", f"      name: f{index}", "      container: {image: x/y:1}",
                  "      input:", "      - storage_provider: s3", f"        path: {bucket}/{inp}".rstrip("/"),
                  f"        suffix: {list(in_suffix)}",
                  "      output:", "      - storage_provider: s3", f"        path: {bucket}/{out}".rstrip("/"),
                  f"        suffix: {list(out_suffix)}"]
    return "\n".join(lines) + "\n"


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["bucket-one", "bucket-two"]), FOLDERS, SUFFIXES, FOLDERS, SUFFIXES),
                min_size=1, max_size=8))
def test_index_matches_all_pairs(functions):
    workflow = load_text(workflow_text(functions), run_rules=False).workflow
    assert workflow is not None
    brute_edges = {(s.name, id(o), d.name, id(t)) for s in workflow.functions for o in s.outputs
                   for d in workflow.functions for t in d.triggers if may_write_into(o, t)}
    assert {(e.source.name, id(e.output), e.target.name, id(e.trigger)) for e in edges(workflow)} == brute_edges
    triggers = [(f, t) for f in workflow.functions for t in f.triggers]
    brute_pairs = {(id(a[1]), id(b[1])) for i, a in enumerate(triggers) for b in triggers[i + 1:]
                   if triggers_overlap(a[1], b[1])}
    assert {(id(a[1]), id(b[1])) for a, b in overlapping_trigger_pairs(workflow)} == brute_pairs


def _brute_successors(workflow) -> dict[str, set[str]]:
    """Each function's name -> the names of the other functions that one of its outputs may trigger."""
    successors: dict[str, set[str]] = {f.name: set() for f in workflow.functions}
    for s in workflow.functions:
        for d in workflow.functions:
            if s.name != d.name and any(may_write_into(o, t) for o in s.outputs for t in d.triggers):
                successors[s.name].add(d.name)
    return successors


def _reachable(successors: dict[str, set[str]], start: str) -> set[str]:
    """Every name reached from start through one or more successors."""
    seen, stack = set(), [start]
    while stack:
        for nxt in successors[stack.pop()]:
            if nxt not in seen:
                seen.add(nxt)
                stack.append(nxt)
    return seen


def _brute_cycles(workflow):
    """The definition: each function's group is every function it reaches and that reaches it back."""
    successors = _brute_successors(workflow)
    reach = {name: _reachable(successors, name) for name in successors}
    groups, placed = [], set()
    for f in workflow.functions:
        if f.name in placed:
            continue
        group = [g for g in workflow.functions if g.name in reach[f.name] and f.name in reach[g.name]]
        if len(group) > 1:
            groups.append([g.name for g in group])
            placed.update(groups[-1])
    return groups


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.just("bucket-one"), FOLDERS, SUFFIXES, FOLDERS, SUFFIXES), min_size=1, max_size=8))
def test_graph_checks_match_all_pairs(functions):
    """cycles (strongly connected components), workflow starts and results equal their all-pairs definitions."""
    workflow = load_text(workflow_text(functions), run_rules=False).workflow
    assert workflow is not None
    assert [[f.name for f in group] for group in cycles(workflow)] == _brute_cycles(workflow)
    pairs = [(s, o, d, t) for s in workflow.functions for o in s.outputs for d in workflow.functions
             for t in d.triggers if may_write_into(o, t)]
    fed = {(d.name, id(t)) for _, _, d, t in pairs}
    read = {(s.name, id(o)) for s, o, _, _ in pairs}
    assert [(f.name, id(t)) for f, t in workflow_starts(workflow)] == [
        (f.name, id(t)) for f in workflow.functions for t in f.triggers if (f.name, id(t)) not in fed]
    assert [(f.name, id(o)) for f, o in workflow_results(workflow)] == [
        (f.name, id(o)) for f in workflow.functions for o in f.outputs if (f.name, id(o)) not in read]


def test_cycles_deep_chain_no_recursion_limit():
    """A loop through 3,000 functions is one group (Tarjan is iterative)."""
    from generator.workflow.graph import strongly_connected
    n = 3000
    successors = {str(i): {str((i + 1) % n)} for i in range(n)}
    assert len(set(strongly_connected(successors).values())) == 1


def _many(functions: int, chained: bool) -> str:
    """One shared bucket; chained: each function reads what the one before it writes (N-1 edges)."""
    lines = ["functions:", "  aws:"]
    for index in range(functions):
        source = f"f{index - 1}-out" if chained and index else f"f{index}-in"
        lines += ["  - lambda:", f"      name: f{index}", "      container: {image: x/y:1}",
                  "      input:", "      - storage_provider: s3", f"        path: shared-bucket/{source}",
                  "      output:", "      - storage_provider: s3", f"        path: shared-bucket/f{index}-out"]
    return "\n".join(lines) + "\n"


def _calls(workflow) -> int:
    """Python function calls made by every check (a measure of work that no cache or other load changes)."""
    import sys

    from generator.workflow.rules import run_checks

    count = 0

    def counter(frame, event, arg):
        nonlocal count
        count += event in ("call", "c_call")

    sys.setprofile(counter)
    try:
        run_checks(workflow)
    finally:
        sys.setprofile(None)
    return count


@pytest.mark.parametrize("chained", [False, True], ids=["apart", "chained"])
def test_checks_do_work_linear_in_functions(chained):
    """10x the functions (and edges), at most 10.5x the work in the checks (the trigger graph included)."""
    small, large = (load_text(_many(n, chained), run_rules=False).workflow for n in (100, 1000))
    assert _calls(large) <= 10.5 * _calls(small)
