"""The trigger index (graph.TriggerIndex) finds exactly what comparing every pair finds."""
from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from generator.workflow.graph import edges, may_write_into, overlapping_trigger_pairs, triggers_overlap
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
