"""Every rule avgen checks, with its stable id. Ids are never reused or renumbered."""
from __future__ import annotations

from dataclasses import dataclass

from generator.workflow.findings import Finding, Location, Place, Severity


@dataclass(frozen=True)
class Rule:
    id: str
    slug: str
    severity: Severity
    summary: str

    def finding(self, message: str, location: Location | None, hint: str = "",
                severity: Severity | None = None) -> Finding:
        # Checks run on loaded workflows, where every model object carries its place in the file.
        assert location is not None, f"{self.id}: no location"
        return Finding(self.id, severity or self.severity, message, location, hint)

    def at(self, place: Place, message: str, hint: str = "", *, key: bool = False,
           severity: Severity | None = None) -> Finding:
        """A finding at a place in the document (with `key`, at the key rather than its value)."""
        return self.finding(message, place.location(key=key), hint, severity)


E, W, INFO = Severity.ERROR, Severity.WARNING, Severity.INFO

RULES: dict[str, Rule] = {
    rule.id: rule
    for rule in (
        Rule("AVG001", "yaml-syntax", E, "The file is not readable YAML."),
        Rule("AVG002", "unknown-key", E, "A key that the format does not have (often a typo)."),
        Rule("AVG003", "wrong-type", E, "A value of the wrong type (text where a number belongs, …)."),
        Rule("AVG004", "invalid-value", E, "A value out of range, not one of the allowed choices, or an invalid name."),
        Rule("AVG005", "missing-key", E, "A required key is missing."),
        Rule("AVG006", "legacy-form", W, "An old SCAR spelling, accepted; the warning says what to write instead."),
        Rule("AVG007", "out-of-scope", W, "A section avgen does not deploy (oscar, api_gateway)."),
        Rule("AVG008", "ignored-setting", W,
             "A SCAR setting that has no effect on what avgen deploys (the warning says why)."),
        Rule("AVG009", "region-conflict", E,
             "Functions ask for different regions; one workflow deploys to one region."),
        Rule("AVG010", "self-trigger", E,
             "A function writes under its own input trigger and would trigger itself forever."),
        Rule("AVG011", "trigger-cycle", E, "Functions trigger each other in a cycle."),
        Rule("AVG012", "overlapping-triggers", E,
             "Two triggers on one bucket overlap; S3 rejects the notification configuration."),
        Rule("AVG013", "cannot-trigger", W, "An input that cannot trigger on AWS (not an s3 storage provider)."),
        Rule("AVG014", "unknown-storage-provider", E, "A storage_provider reference with no such provider defined."),
        Rule("AVG015", "inline-credentials", W, "Credentials written in the file; they belong in a secret store."),
        Rule("AVG016", "workflow-end", INFO,
             "Where the workflow starts (inputs nobody produces) and ends (outputs nobody consumes)."),
        Rule("AVG017", "unused-bucket-setting", W, "avgen.buckets names a bucket no function uses."),
        Rule("AVG018", "duplicate-function", E, "Two functions share a name (or the same name in another case)."),
        Rule("AVG019", "script-not-found", W, "The init_script file does not exist next to the workflow."),
        Rule("AVG020", "gpu-without-gpu-instances", E, "A GPU is requested but no instance type has one."),
        Rule("AVG021", "gpu-instance-not-supported", W,
             "A GPU instance family that the ECS AL2023 NVIDIA AMI does not support."),
        Rule("AVG022", "batch-settings-unused", W, "Batch settings on a function that never runs on Batch."),
        Rule("AVG023", "timeout-threshold", E, "container.timeout_threshold leaves the script no time."),
        Rule("AVG024", "batch-capacity", E, "A job asks for more vCPUs than its compute environment may ever have."),
        Rule("AVG025", "environment-too-large", E, "The function's environment would pass Lambda's 4 KB limit."),
        Rule("AVG026", "gpu-instances-without-gpu", W, "GPU instance types for a job that asks for no GPU."),
        Rule("AVG027", "missing-image", E, "A function with no container image."),
        Rule("AVG028", "tag-limits", E,
             "Tags AWS refuses at apply time: key over 128 or value over 256 characters, more than 50 on a "
             "resource, or a key starting with `aws:`."),
        Rule("AVG029", "placeholder-bucket", W,
             "A bucket named like the examples' placeholder (change-me-…): S3 names are global, pick your own."),
        Rule("AVG030", "invalid-waiver", W,
             "An `# avgen:waive` comment without a reason, for an unknown rule, or for an error: it waives nothing."),
        Rule("AVG031", "default-vpc", W,
             "A Batch function with no subnets or security groups runs in the account's default VPC, with "
             "public IP addresses (a note where `avgen.allow_default_vpc: true` chooses it on purpose)."),
        Rule("AVG032", "scar3-map-form", W,
             "SCAR 3.x's `functions: NAME: {...}` form, read with SCAR 3.x's folder conventions; the warning "
             "shows the current form (`avgen convert` writes it)."),
        Rule("AVG033", "unsafe-script", E,
             "The init_script is not a regular file inside the workflow file's folder (a FIFO, a device, a "
             "folder, or a path or symlink that leads out of it)."),
        Rule("AVG034", "no-state-backend", W,
             "No `avgen.backend`: the Terraform state would stay on one machine, without locking; `avgen plan` "
             "and `apply` on an AWS account refuse it. Name an s3 backend, or `type: local` to keep it local."),
    )
}


def rule(rule_id: str) -> Rule:
    return RULES[rule_id]
