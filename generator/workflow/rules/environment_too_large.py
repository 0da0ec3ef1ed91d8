"""The function's environment would pass Lambda's 4 KB limit (avgen's own variables included)."""
from __future__ import annotations

from generator.workflow.findings import Finding, Place
from generator.workflow.model import Function
from generator.workflow.rules.catalog import rule

RULE = rule("AVG025")
# Room kept in Lambda's 4 KB environment for what Terraform adds (script path, queue and job ARNs).
ENV_RESERVED_BYTES = 400
LAMBDA_ENV_LIMIT = 4096


def too_large(function: Function, place: Place) -> Finding | None:
    """`place`: where the environment is written."""
    size = sum(len(k) + len(v) for k, v in function.environment.items()) + len("AVGEN_FUNCTION") + \
        len(function.runtime_config_json()) + ENV_RESERVED_BYTES
    if size <= LAMBDA_ENV_LIMIT:
        return None
    return RULE.at(place, f"the environment of `{function.name}` would take about {size} bytes; "
                   f"Lambda allows {LAMBDA_ENV_LIMIT}",
                   "move large values into the image or into SSM parameters the script reads")
