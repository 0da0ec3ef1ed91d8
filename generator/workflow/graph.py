"""The workflow as a graph: storage paths and the functions between them; Mermaid and DOT pictures."""
from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from generator.workflow.model import Function, StoragePath, Workflow


def _prefixes_overlap(a: str, b: str) -> bool:
    return a.startswith(b) or b.startswith(a)


def _suffixes_overlap(a: tuple[str, ...], b: tuple[str, ...]) -> bool:
    """Any pair of suffixes where one ends with the other (an empty list matches everything)."""
    if not a or not b:
        return True
    return any(x.endswith(y) or y.endswith(x) for x in a for y in b)


def may_write_into(output: StoragePath, trigger: StoragePath) -> bool:
    """Whether some file uploaded to `output` can fire `trigger` (same bucket, key spaces intersect)."""
    if not (output.is_s3 and trigger.is_s3) or output.bucket != trigger.bucket:
        return False
    out, trig = output.key_prefix, trigger.key_prefix
    if not _prefixes_overlap(out, trig):
        return False
    if trig.startswith(out) and output.request_id_folder:
        # keys are out + REQUEST_ID/ + relative path: the id can be any one folder name, so only what
        # follows the first `/` of the rest is tested against the filters
        _head, slash, rest = trig[len(out):].partition("/")
        if slash and output.prefix_filters and not any(_prefixes_overlap(rest, f) for f in output.prefix_filters):
            return False
    elif trig.startswith(out) and output.prefix_filters:
        # keys are out + relative path, and the relative path must start with one of the filters
        rest = trig[len(out):]
        if not any(_prefixes_overlap(rest, f) for f in output.prefix_filters):
            return False
    return _suffixes_overlap(output.suffix_filters, trigger.suffix_filters)


def triggers_overlap(a: StoragePath, b: StoragePath) -> bool:
    """S3's rule for two notification configurations on one bucket (same event type here)."""
    return a.bucket == b.bucket and _prefixes_overlap(a.key_prefix, b.key_prefix) and _suffixes_overlap(
        a.suffix_filters, b.suffix_filters
    )


@dataclass(frozen=True)
class Edge:
    source: Function
    output: StoragePath
    target: Function
    trigger: StoragePath


def _slash_prefixes(key_prefix: str) -> list[str]:
    """The proper prefixes of a key prefix that a trigger's key prefix can be: "" and each "folder/" cut.
    Every key prefix is "" or ends with "/", so a shorter one ends at one of its slashes."""
    cuts = [""]
    slash = key_prefix.find("/")
    while 0 <= slash < len(key_prefix) - 1:
        cuts.append(key_prefix[:slash + 1])
        slash = key_prefix.find("/", slash + 1)
    return cuts


class TriggerIndex:
    """Every S3 trigger of a workflow, by bucket and by folder, so that the triggers a key prefix overlaps are
    found by lookup instead of by comparing all pairs (workflows with thousands of functions). A key prefix
    is "" or ends with "/", so two overlap exactly when one is a slash-cut of the other: each trigger is
    filed under its own prefix and under every folder above it, and a query is a few dictionary lookups,
    with no sorting or searching that would grow faster than the workflow. Each trigger's fields are read
    once into `keys`: the model's objects lie all over the heap, and reading them again costs cache misses."""

    def __init__(self, workflow: Workflow):
        self.entries: list[tuple[Function, StoragePath]] = [
            (f, t) for f in workflow.functions for t in f.inputs if t.is_s3]
        self.keys: list[tuple[str, str]] = [(t.bucket, t.key_prefix) for _, t in self.entries]
        # (bucket, key prefix) → triggers with exactly it; (bucket, folder) → triggers at or below it.
        # Flat dictionaries keyed by pairs: a workflow with a bucket per function would otherwise hold a
        # small dictionary per bucket, and memory, not arithmetic, is what large workflows spend time on.
        self._exact: dict[tuple[str, str], list[int]] = {}
        self._within: dict[tuple[str, str], list[int]] = {}
        for position, key in enumerate(self.keys):
            self._exact.setdefault(key, []).append(position)
            bucket, key_prefix = key
            for folder in _slash_prefixes(key_prefix):
                if folder != key_prefix:
                    self._within.setdefault((bucket, folder), []).append(position)
            self._within.setdefault(key, []).append(position)

    def overlapping(self, bucket: str, key_prefix: str) -> list[int]:
        """Positions of the triggers on `bucket` whose prefix starts with `key_prefix` or begins it."""
        found = list(self._within.get((bucket, key_prefix), ()))
        for shorter in _slash_prefixes(key_prefix):  # triggers on a folder above it ("" = the bucket root)
            if shorter != key_prefix:
                found += self._exact.get((bucket, shorter), ())
        return found


class WorkflowGraph:
    """The trigger index and the edges of one workflow, built once for all the checks that need them."""

    def __init__(self, workflow: Workflow):
        self.index = index = TriggerIndex(workflow)
        self.edges: list[Edge] = []
        self.fed: set[int] = set()  # positions in index.entries some output writes into
        self.read: set[tuple[int, int]] = set()  # (function, output) positions some trigger reads
        for number, source in enumerate(workflow.functions):
            for out_number, output in enumerate(source.outputs):
                if not output.is_s3:
                    continue
                for position in sorted(index.overlapping(output.bucket, output.key_prefix)):
                    target, trigger = index.entries[position]
                    if may_write_into(output, trigger):
                        self.edges.append(Edge(source, output, target, trigger))
                        self.fed.add(position)
                        self.read.add((number, out_number))


_kept: list = [None, None]  # [workflow, its graph] while run_checks runs


@contextmanager
def graph_kept(workflow: Workflow) -> Iterator[None]:
    """Within the block, every check on `workflow` shares one graph (built on first use): the checks run one
    after another on one immutable model. Outside, each call builds its own."""
    previous = _kept[:]
    _kept[:] = [workflow, None]
    try:
        yield
    finally:
        _kept[:] = previous


def workflow_graph(workflow: Workflow) -> WorkflowGraph:
    if _kept[0] is not workflow:
        return WorkflowGraph(workflow)
    if _kept[1] is None:
        _kept[1] = WorkflowGraph(workflow)
    return _kept[1]


def edges(workflow: Workflow) -> list[Edge]:
    return list(workflow_graph(workflow).edges)


def overlapping_trigger_pairs(workflow: Workflow) -> list[tuple[tuple[Function, StoragePath], ...]]:
    """Pairs of triggers S3 would reject together, each pair once, in workflow order."""
    index = workflow_graph(workflow).index
    pairs = set()
    for first, (bucket, key_prefix) in enumerate(index.keys):
        for second in index.overlapping(bucket, key_prefix):
            if second != first and triggers_overlap(index.entries[first][1], index.entries[second][1]):
                pairs.add((min(first, second), max(first, second)))
    return [(index.entries[a], index.entries[b]) for a, b in sorted(pairs)]


def workflow_starts(workflow: Workflow) -> list[tuple[Function, StoragePath]]:
    """The inputs that start the workflow: S3 triggers no function of the workflow writes into."""
    graph = workflow_graph(workflow)
    return [entry for position, entry in enumerate(graph.index.entries) if position not in graph.fed]


def workflow_results(workflow: Workflow) -> list[tuple[Function, StoragePath]]:
    """The outputs where the workflow ends: outputs no function of the workflow reads."""
    read = workflow_graph(workflow).read
    return [(f, o) for number, f in enumerate(workflow.functions) for out_number, o in enumerate(f.outputs)
            if (number, out_number) not in read]


def strongly_connected(successors: dict[str, set[str]]) -> dict[str, int]:
    """Tarjan's strongly connected components, iterative (no recursion limit): each node's component number."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    component: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = 0
    for root in successors:
        if root in index:
            continue
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        work = [(root, iter(successors[root]))]
        while work:
            node, pending = work[-1]
            for nxt in pending:
                if nxt not in index:
                    index[nxt] = low[nxt] = len(index)
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(successors[nxt])))
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
                if low[node] == index[node]:
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component[member] = found
                        if member == node:
                            break
                    found += 1
    return component


def cycles(workflow: Workflow) -> list[list[Function]]:
    """Groups of two or more functions that trigger one another (strongly connected components), each group
    in workflow order, the groups in the order of their first function."""
    # only functions joined to another by an edge can be in a loop: the others cost nothing here
    successors: dict[str, set[str]] = {}
    for edge in workflow_graph(workflow).edges:
        if edge.source.name != edge.target.name:
            successors.setdefault(edge.source.name, set()).add(edge.target.name)
            successors.setdefault(edge.target.name, set())
    component = strongly_connected(successors)
    names_in = Counter(component.values())
    groups: dict[int, list[Function]] = {}
    for function in workflow.functions:
        number = component.get(function.name)
        if number is not None and names_in[number] > 1:  # one name alone is no loop (a self-trigger is another rule)
            groups.setdefault(number, []).append(function)
    return list(groups.values())


# --- pictures -------------------------------------------------------------------------------------

def _path_label(path: StoragePath) -> str:
    scheme = "s3" if path.provider == "s3" else f"{path.provider}.{path.provider_id}"
    return f"{scheme}://{path.bucket}/{path.key_prefix}"


def _path_id(path: StoragePath) -> str:
    return f"{path.provider}:{path.provider_id}:{path.bucket}/{path.prefix}"


def _nodes(workflow: Workflow):
    """Stable node ids: p1.. for storage folders (first seen order), f1.. for functions."""
    paths: dict[str, tuple[str, str]] = {}
    for function in workflow.functions:
        for path in (*function.inputs, *function.outputs):
            key = _path_id(path)
            if key not in paths:
                paths[key] = (f"p{len(paths) + 1}", _path_label(path))
    return paths


def _links(workflow: Workflow):
    paths = _nodes(workflow)
    lines = []
    for index, function in enumerate(workflow.functions, start=1):
        fid = f"f{index}"
        for path in function.inputs:
            lines.append((paths[_path_id(path)][0], fid, "" if path.is_s3 else "no trigger"))
        for path in function.outputs:
            label = " ".join(filter(None, [
                "prefix " + "|".join(path.prefix_filters) if path.prefix_filters else "",
                "*" + "|*".join(path.suffix_filters) if path.suffix_filters else "",
            ]))
            lines.append((fid, paths[_path_id(path)][0], label))
    return paths, lines


def _quote(text: str) -> str:
    return text.replace('"', "#quot;")


def to_mermaid(workflow: Workflow) -> str:
    paths, links = _links(workflow)
    out = ["flowchart LR"]
    for pid, label in paths.values():
        out.append(f'    {pid}[("{_quote(label)}")]')
    for index, function in enumerate(workflow.functions, start=1):
        out.append(f'    f{index}["{_quote(function.name)}<br/><small>{function.where_it_runs}</small>"]')
    for src, dst, label in links:
        arrow = f"-- {_quote(label)} -->" if label else "-->"
        if label == "no trigger":
            arrow = "-. no trigger .->"
        out.append(f"    {src} {arrow} {dst}")
    out.append("    classDef storage fill:#eef6ff,stroke:#4a90d9")
    out.append("    classDef gpu fill:#fff4e0,stroke:#e69500")
    if paths:
        out.append("    class " + ",".join(pid for pid, _ in paths.values()) + " storage")
    gpu = [f"f{i}" for i, f in enumerate(workflow.functions, start=1) if f.uses_gpu]
    if gpu:
        out.append("    class " + ",".join(gpu) + " gpu")
    return "\n".join(out) + "\n"


def _dot_quote(*lines: str) -> str:
    """A DOT string; several lines are joined with DOT's `\\n` escape (one statement stays on one line)."""
    return '"' + "\\n".join(t.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ") for t in lines) + '"'


def to_dot(workflow: Workflow) -> str:
    paths, links = _links(workflow)
    out = ["digraph workflow {", "  rankdir=LR;", "  node [fontname=\"Helvetica\"];"]
    for pid, label in paths.values():
        out.append(f"  {pid} [shape=cylinder, label={_dot_quote(label)}];")
    for index, function in enumerate(workflow.functions, start=1):
        color = ", style=filled, fillcolor=\"#fff4e0\"" if function.uses_gpu else ""
        out.append(f"  f{index} [shape=box{color}, label={_dot_quote(function.name, function.where_it_runs)}];")
    for src, dst, label in links:
        style = ", style=dashed" if label == "no trigger" else ""
        attrs = f" [label={_dot_quote(label)}{style}]" if label else ""
        out.append(f"  {src} -> {dst}{attrs};")
    out.append("}")
    return "\n".join(out) + "\n"
