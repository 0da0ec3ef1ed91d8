"""What a saved plan will do, summarised for people (terminal, pull-request markdown) and machines (JSON)."""
from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from generator.workflow.model import Workflow

ACTIONS = ("create", "update", "replace", "delete")
SYMBOL = {"create": "+", "update": "~", "replace": "-/+", "delete": "-"}
VERB = {"create": "to add", "update": "to change", "replace": "to replace", "delete": "to destroy"}
WORKFLOW_WIDE = "(workflow)"
# What is lost with a resource of these types when it is destroyed or replaced (a renamed function replaces
# all of its resources): said before apply asks for confirmation.
HOLDS_DATA = {
    "aws_sqs_queue": "the messages in its dead-letter queue",
    "aws_cloudwatch_log_group": "its logs",
    "aws_ecr_repository": "its images",
    "aws_s3_bucket": "the objects in the bucket",
}
MARKDOWN_MAX_ROWS = 200  # GitHub comments stop at 65,536 characters


def action_of(actions: list[str]) -> str | None:
    if actions in (["no-op"], ["read"]):
        return None
    if "create" in actions and "delete" in actions:
        return "replace"
    return actions[0]


@dataclass
class Change:
    address: str
    type: str
    action: str
    owner: str  # the function or bucket the resource belongs to, or "(workflow)"
    data_loss: str = ""  # what destroying it loses (HOLDS_DATA), for a delete or replace

    @property
    def loses_data(self) -> bool:
        return bool(self.data_loss) and self.action in ("delete", "replace")


@dataclass
class PlanSummary:
    workflow: str
    changes: list[Change] = field(default_factory=list)
    outputs_changed: bool = False

    @property
    def has_changes(self) -> bool:
        return bool(self.changes) or self.outputs_changed

    def counts(self) -> dict[str, int]:
        counter = Counter(c.action for c in self.changes)
        return {action: counter.get(action, 0) for action in ACTIONS}

    def by(self, attribute: str) -> dict[str, dict[str, int]]:
        table: dict[str, Counter] = defaultdict(Counter)
        for change in self.changes:
            table[getattr(change, attribute)][change.action] += 1
        return {key: {a: table[key].get(a, 0) for a in ACTIONS} for key in sorted(table)}

    def data_losses(self) -> list[Change]:
        return sorted((c for c in self.changes if c.loses_data), key=lambda c: c.address)

    def data_loss_lines(self) -> list[str]:
        return [f"{c.action} {c.address} ({c.owner}): loses {c.data_loss}" for c in self.data_losses()]

    def headline(self) -> str:
        counts = self.counts()
        if not self.has_changes:
            return "No changes: the deployment matches the workflow."
        return "Plan: " + ", ".join(f"{counts[a]} {VERB[a]}" for a in ACTIONS) + "."

    def to_dict(self) -> dict:
        return {
            "workflow": self.workflow,
            "has_changes": self.has_changes,
            "counts": self.counts(),
            "by_type": self.by("type"),
            "by_owner": self.by("owner"),
            "changes": [vars(c) for c in self.changes],
            "data_losses": [c.address for c in self.data_losses()],
        }

    def to_markdown(self) -> str:
        counts = self.counts()
        lines = [f"### avgen plan: `{self.workflow}`", "", f"**{self.headline()}**", ""]
        if not self.changes:
            return "\n".join(lines)
        lines += ["| | " + " | ".join(f"{SYMBOL[a]} {a}" for a in ACTIONS) + " |",
                  "|---|" + "---:|" * len(ACTIONS),
                  "| **total** | " + " | ".join(str(counts[a]) for a in ACTIONS) + " |"]
        for owner, row in self.by("owner").items():
            lines.append(f"| {owner} | " + " | ".join(str(row[a] or "") for a in ACTIONS) + " |")
        lines += ["", "<details><summary>By resource type</summary>", "",
                  "| type | " + " | ".join(ACTIONS) + " |", "|---|" + "---:|" * len(ACTIONS)]
        for rtype, row in self.by("type").items():
            lines.append(f"| `{rtype}` | " + " | ".join(str(row[a] or "") for a in ACTIONS) + " |")
        lines += ["", "</details>", "", "<details><summary>Resources</summary>", "", "```diff"]
        for change in sorted(self.changes, key=lambda c: (ACTIONS.index(c.action), c.address))[:MARKDOWN_MAX_ROWS]:
            marker = {"create": "+", "delete": "-", "update": "!", "replace": "!"}[change.action]
            lines.append(f"{marker} {change.address} ({change.action})")
        if len(self.changes) > MARKDOWN_MAX_ROWS:
            lines.append(f"# … and {len(self.changes) - MARKDOWN_MAX_ROWS} more")
        lines += ["```", "", "</details>", ""]
        if counts["delete"] or counts["replace"]:
            losses = "".join(f"\n> - `{c.address}` ({c.owner}): {c.action}, loses {c.data_loss}"
                             for c in self.data_losses())
            lines.insert(3, "> [!WARNING]\n> This plan destroys or replaces resources." +
                         (f" Data is lost with:{losses}" if losses else "") + "\n")
        return "\n".join(lines)


_KEY = re.compile(r'\["([^"]+)"\]')


def owner_of(address: str, workflow: Workflow) -> str:
    """The function or bucket a resource address belongs to (from its for_each keys). A key the workflow no
    longer has is a function renamed or removed: its resources are filed under that old name."""
    functions = {f.name for f in workflow.functions} | {f.resource_name for f in workflow.functions}
    buckets = {b.name for b in workflow.buckets}
    keys = _KEY.findall(address)
    for key in keys:
        if key in functions:
            return next(f.name for f in workflow.functions if key in (f.name, f.resource_name))
        if key in buckets:
            return f"bucket {key}"
    if keys and address.startswith("module."):
        return f"{keys[0]} (no longer in the workflow)"
    return WORKFLOW_WIDE


def summarize(plan_json: dict, workflow: Workflow) -> PlanSummary:
    summary = PlanSummary(workflow=workflow.name)
    for resource in plan_json.get("resource_changes", []):
        if resource.get("mode") == "data":
            continue
        action = action_of(resource.get("change", {}).get("actions", []))
        if action is None:
            continue
        summary.changes.append(Change(resource["address"], resource["type"], action,
                                      owner_of(resource["address"], workflow), HOLDS_DATA.get(resource["type"], "")))
    summary.outputs_changed = any(
        action_of(change.get("actions", [])) for change in plan_json.get("output_changes", {}).values()
    )
    return summary
