"""What a saved plan will do, summarised for people (terminal, pull-request markdown) and machines (JSON)."""
from __future__ import annotations

import json
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
MARKDOWN_MAX_CHARACTERS = 60_000  # the whole comment, with room for the pipeline's own header
# The attributes a reviewer judges a change by, per resource type (the rest is in `terraform show`).
REVIEWED = {
    "aws_lambda_function": ("image_uri", "memory_size", "timeout", "ephemeral_storage", "environment"),
    "aws_batch_job_definition": ("container_properties", "timeout", "retry_strategy"),
    "aws_batch_compute_environment": ("compute_resources",),
    "aws_s3_bucket_notification": ("lambda_function", "eventbridge"),
    "aws_iam_role": ("assume_role_policy", "permissions_boundary"),
    "aws_iam_role_policy": ("policy",),
    "aws_lambda_permission": ("source_arn",),
    "aws_cloudwatch_event_rule": ("event_pattern",),
    "aws_cloudwatch_event_target": ("arn",),
}
POLICY_TYPES = {"aws_iam_role_policy": "policy", "aws_iam_role": "assume_role_policy"}


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
    attributes: dict = field(default_factory=dict)  # reviewed attribute → (before, after), when it changes
    policy: str = ""  # the IAM policy document of a new or changed role policy, pretty-printed

    @property
    def loses_data(self) -> bool:
        return bool(self.data_loss) and self.action in ("delete", "replace")


@dataclass
class PlanSummary:
    workflow: str
    changes: list[Change] = field(default_factory=list)
    outputs_changed: bool = False
    plan_text: str = ""  # `terraform show` of the plan, folded at the end of the pull-request comment

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

    def review_lines(self) -> list[str]:
        """Markdown for what a reviewer judges: reviewed attributes before → after, and IAM policy texts."""
        lines: list[str] = []
        for change in sorted(self.changes, key=lambda c: c.address):
            if not (change.attributes or change.policy):
                continue
            lines.append(f"- `{change.address}` ({change.action})")
            for name, (before, after) in sorted(change.attributes.items()):
                lines.append(f"  - `{name}`: `{_short(before)}` → `{_short(after)}`")
            if change.policy:
                lines += ["", "  ```json", *("  " + line for line in change.policy.splitlines()), "  ```"]
        return lines

    def to_markdown(self) -> str:
        lines = [f"### avgen plan: `{self.workflow}`", "", f"**{self.headline()}**", ""]
        if not self.changes:
            return "\n".join(lines)
        lines += self._count_tables() + self._resource_list()
        review = self.review_lines()
        if review:
            lines += ["<details open><summary>What changes (attributes a reviewer checks, IAM policies)</summary>",
                      "", *review, "", "</details>", ""]
        warning = self._destroy_warning()
        if warning:
            lines.insert(3, warning)
        text = "\n".join(lines)
        if len(text) > MARKDOWN_MAX_CHARACTERS:
            cut = text[:MARKDOWN_MAX_CHARACTERS].rsplit("\n", 1)[0]
            return (cut + "\n\n… cut here to fit a pull-request comment; `avgen plan --format json` or "
                    "`terraform show` in the working folder has the whole plan.\n")
        return text + self._folded_plan_text(MARKDOWN_MAX_CHARACTERS - len(text))

    def _count_tables(self) -> list[str]:
        """Counts by owner (function or bucket), then by resource type (folded)."""
        counts = self.counts()
        lines = ["| | " + " | ".join(f"{SYMBOL[a]} {a}" for a in ACTIONS) + " |",
                 "|---|" + "---:|" * len(ACTIONS),
                 "| **total** | " + " | ".join(str(counts[a]) for a in ACTIONS) + " |"]
        for owner, row in self.by("owner").items():
            lines.append(f"| {owner} | " + " | ".join(str(row[a] or "") for a in ACTIONS) + " |")
        lines += ["", "<details><summary>By resource type</summary>", "",
                  "| type | " + " | ".join(ACTIONS) + " |", "|---|" + "---:|" * len(ACTIONS)]
        for rtype, row in self.by("type").items():
            lines.append(f"| `{rtype}` | " + " | ".join(str(row[a] or "") for a in ACTIONS) + " |")
        return lines + ["", "</details>", ""]

    def _resource_list(self) -> list[str]:
        lines = ["<details><summary>Resources</summary>", "", "```diff"]
        for change in sorted(self.changes, key=lambda c: (ACTIONS.index(c.action), c.address))[:MARKDOWN_MAX_ROWS]:
            marker = {"create": "+", "delete": "-", "update": "!", "replace": "!"}[change.action]
            lines.append(f"{marker} {change.address} ({change.action})")
        if len(self.changes) > MARKDOWN_MAX_ROWS:
            lines.append(f"# … and {len(self.changes) - MARKDOWN_MAX_ROWS} more")
        return lines + ["```", "", "</details>", ""]

    def _destroy_warning(self) -> str:
        """The alert at the top of a plan that destroys or replaces, naming what loses data ("" when none)."""
        counts = self.counts()
        if not (counts["delete"] or counts["replace"]):
            return ""
        losses = "".join(f"\n> - `{c.address}` ({c.owner}): {c.action}, loses {c.data_loss}"
                         for c in self.data_losses())
        return ("> [!WARNING]\n> This plan destroys or replaces resources." +
                (f" Data is lost with:{losses}" if losses else "") + "\n")

    def _folded_plan_text(self, room: int) -> str:
        """The whole `terraform show`, folded, in what room the comment has left (cut at a line, with a note)."""
        if not self.plan_text.strip():
            return ""
        fence = "`" * max(3, 1 + max((len(run) for run in re.findall(r"`+", self.plan_text)), default=0))
        head, tail = f"\n<details><summary>terraform show</summary>\n\n{fence}\n", f"\n{fence}\n\n</details>\n"
        body = self.plan_text.rstrip("\n")
        note = "\n… cut here to fit a pull-request comment: `terraform show avgen.tfplan` in the working folder"
        if len(head) + len(body) + len(tail) > room:
            space = room - len(head) - len(tail) - len(note)
            if space < 200:
                return ""
            body = body[:space].rsplit("\n", 1)[0] + note
        return head + body + tail


_KEY = re.compile(r'\["([^"]+)"\]')


def owner_of(address: str, workflow: Workflow) -> str:
    """The function or bucket a resource address belongs to (from its for_each keys). A key the workflow no
    longer has is a function renamed or removed: its resources are filed under that old name."""
    functions = {f.name for f in workflow.functions} | {f.resource_name for f in workflow.functions}
    buckets = {b.name for b in workflow.buckets}
    # a key is a function's or bucket's name, or "NAME/what" where one function has several (its alarms)
    keys = [key.split("/")[0] for key in _KEY.findall(address)]
    for key in keys:
        if key in functions:
            return next(f.name for f in workflow.functions if key in (f.name, f.resource_name))
        if key in buckets:
            return f"bucket {key}"
    if keys and address.startswith("module."):
        return f"{keys[0]} (no longer in the workflow)"
    return WORKFLOW_WIDE


def _short(value, limit: int = 120) -> str:
    text = json.dumps(value, sort_keys=True, default=str) if not isinstance(value, str) else value
    text = text.replace("`", "'").replace("\n", " ")
    return text if len(text) <= limit else text[:limit - 1] + "…"


def reviewed_attributes(resource: dict) -> dict:
    """Reviewed attributes whose value changes (None before for a create, after for a delete)."""
    change = resource.get("change", {})
    before, after = change.get("before") or {}, change.get("after") or {}
    unknown = change.get("after_unknown") or {}
    found = {}
    for name in REVIEWED.get(resource.get("type", ""), ()):
        old, new = before.get(name), after.get(name)
        if unknown.get(name) is True:
            new = "(known after apply)"
        if old != new:
            found[name] = (old, new)
    return found


def policy_text(resource: dict) -> str:
    attribute = POLICY_TYPES.get(resource.get("type", ""))
    after = (resource.get("change", {}).get("after") or {}).get(attribute) if attribute else None
    if not isinstance(after, str):
        return ""
    before = (resource.get("change", {}).get("before") or {}).get(attribute)
    if before == after:
        return ""
    try:
        return json.dumps(json.loads(after), indent=2, sort_keys=True)
    except ValueError:
        return after


def summarize(plan_json: dict, workflow: Workflow) -> PlanSummary:
    summary = PlanSummary(workflow=workflow.name)
    for resource in plan_json.get("resource_changes", []):
        if resource.get("mode") == "data":
            continue
        action = action_of(resource.get("change", {}).get("actions", []))
        if action is None:
            continue
        summary.changes.append(Change(resource["address"], resource["type"], action,
                                      owner_of(resource["address"], workflow), HOLDS_DATA.get(resource["type"], ""),
                                      reviewed_attributes(resource) if action != "delete" else {},
                                      policy_text(resource) if action != "delete" else ""))
    summary.outputs_changed = any(
        action_of(change.get("actions", [])) for change in plan_json.get("output_changes", {}).values()
    )
    return summary
