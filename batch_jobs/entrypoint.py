"""AWS Batch entry point: `python -m batch_jobs.entrypoint` in the function's image.

The submitting Lambda put the event (narrowed to one object) in `AVGEN_EVENT` and its request id in
`AVGEN_PARENT_REQUEST_ID`; the job runs the same runtime as the Lambda, without a time budget and without
delegating further, and exits with the script's exit code so that Batch marks a failed job FAILED.
"""
from __future__ import annotations

import json
import os
import sys

from lambda_src.config import ConfigError, load_config
from lambda_src.core import run_invocation
from lambda_src.events import EventError
from lambda_src.logs import RuntimeLog, configure_logging
from lambda_src.storage import S3Storage
from lambda_src.submitter import EVENT_VARIABLE, PARENT_REQUEST_VARIABLE
from lambda_src.warm_containers import Container


def main() -> int:
    # Re-deliveries of one S3 event reuse the parent's id, so anything a script derives from it repeats.
    request_id = os.environ.get(PARENT_REQUEST_VARIABLE) or os.environ.get("AWS_BATCH_JOB_ID") or "batch"
    try:
        config = load_config()
        configure_logging(config.log_level)
        raw = os.environ.get(EVENT_VARIABLE)
        if not raw:
            raise EventError(f"{EVENT_VARIABLE} is not set: this job was not submitted by an avgen function")
        try:
            event = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise EventError(f"{EVENT_VARIABLE} is not valid JSON: {exc}") from None
        # the job is one container: its objects share a warm handler, stopped with the job
        container = Container()
        try:
            result = run_invocation(config, event, S3Storage(), request_id=request_id, deadline=None,
                                    container=container)
        finally:
            container.close()
    except (ConfigError, EventError) as exc:
        configure_logging()
        RuntimeLog(request_id=request_id).error(str(exc), phase="start")
        return 2
    return result.exit_code


if __name__ == "__main__":
    sys.exit(main())
