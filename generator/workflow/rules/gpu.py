"""Checks on Batch hardware and where it runs: GPUs, instance families, capacity, network."""
from __future__ import annotations

from generator.workflow.findings import Severity
from generator.workflow.model import Workflow
from generator.workflow.rules import check, rule

# Instance families with NVIDIA GPUs that ECS can schedule GPU jobs on.
NVIDIA_GPU_FAMILIES = frozenset({
    "p2", "p3", "p3dn", "p4d", "p4de", "p5", "p5e", "p5en", "p6-b200",
    "g3", "g3s", "g4dn", "g5", "g5g", "g6", "g6e", "g6f", "gr6", "gr6f",
})
GPU_FAMILIES = NVIDIA_GPU_FAMILIES | {"g4ad"}  # g4ad has AMD GPUs
# Families the ECS-optimized AL2023 NVIDIA AMI supports (older Maxwell/Kepler GPUs were dropped).
AL2023_NVIDIA_FAMILIES = frozenset({
    "p3", "p3dn", "p4d", "p4de", "p5", "p5e", "p5en", "p6-b200", "g4dn", "g5", "g6", "g6e", "g6f", "gr6", "gr6f",
})
SUGGESTED_GPU_TYPES = "g4dn.xlarge, g5.xlarge or g6.xlarge"


def family(instance_type: str) -> str:
    return instance_type.split(".", 1)[0]


@check
def gpu_hardware(workflow: Workflow):
    for function in workflow.functions:
        batch = function.batch
        if batch is None or not function.uses_batch:
            continue
        gpu_types = [t for t in batch.instance_types if family(t) in GPU_FAMILIES]
        if batch.uses_gpu and not gpu_types:
            yield rule("AVG020").finding(
                f"'{function.name}' asks for a GPU but its instance types ({', '.join(batch.instance_types)}) "
                "have none; its jobs would stay RUNNABLE forever",
                batch.instance_type_location(batch.instance_types[0]) if batch.instance_types else batch.location,
                f"set batch.compute_resources.instance_types to GPU types such as {SUGGESTED_GPU_TYPES}",
            )
        if batch.uses_gpu:
            for instance_type in gpu_types:
                if family(instance_type) not in AL2023_NVIDIA_FAMILIES:
                    yield rule("AVG021").finding(
                        f"'{instance_type}' is not supported by the ECS AL2023 NVIDIA AMI that GPU compute "
                        "environments use (AWS stops creating AL2-based environments after mid-2026)",
                        batch.instance_type_location(instance_type),
                        f"use a current GPU type such as {SUGGESTED_GPU_TYPES}",
                    )
        elif gpu_types:
            yield rule("AVG026").finding(
                f"'{function.name}' runs on GPU instance types ({', '.join(gpu_types)}) but asks for no GPU",
                batch.instance_type_location(gpu_types[0]),
                "set batch.enable_gpu: true, or choose CPU instance types",
            )


@check
def batch_capacity(workflow: Workflow):
    for function in workflow.functions:
        batch = function.batch
        if batch is None or not function.uses_batch:
            continue
        if batch.vcpus > batch.max_vcpus:
            yield rule("AVG024").finding(
                f"'{function.name}' jobs need {batch.vcpus} vCPUs but the compute environment may have at most "
                f"{batch.max_vcpus}; the jobs would never start",
                batch.location,
                f"set batch.compute_resources.max_v_cpus to {batch.vcpus} or more",
            )


@check
def default_vpc(workflow: Workflow):
    """A warning (--strict fails): the default VPC gives instances public addresses and is missing in many
    organisations' accounts (the plan then fails looking it up). `avgen.allow_default_vpc: true` chooses it
    on purpose, and the finding becomes a note."""
    allowed = workflow.settings.allow_default_vpc
    for function in workflow.functions:
        batch = function.batch
        if batch is None or not function.uses_batch or (batch.subnets and batch.security_group_ids):
            continue
        yield rule("AVG031").finding(
            f"function '{function.name}' names no subnets and security groups: its Batch instances run in the "
            "account's default VPC, with public IP addresses, behind an egress-only security group avgen makes; "
            "the plan fails where the account has no default VPC"
            + (" (avgen.allow_default_vpc: chosen on purpose)" if allowed else ""),
            batch.location,
            "set compute_resources.subnets (private ones, with a NAT gateway or VPC endpoints for ECR, ECS, S3 "
            "and CloudWatch Logs) and compute_resources.security_group_ids (or avgen.defaults.batch for all), "
            "or `avgen: {allow_default_vpc: true}` to choose the default VPC on purpose",
            severity=Severity.INFO if allowed else None,
        )
