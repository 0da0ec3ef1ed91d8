"""AWS Lambda entry point (`lambda_src.handler.handler`, started by awslambdaric inside the image)."""
from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

from lambda_src.config import ConfigError, load_config
from lambda_src.core import InvocationResult, run_invocation
from lambda_src.events import EventError
from lambda_src.logs import RuntimeLog, configure_logging
from lambda_src.storage import S3Storage
from lambda_src.submitter import BatchSubmitter, SubmitError
from lambda_src.warm_containers import LAMBDA_SOCKET, SOCKET_VARIABLE, Container

_MESSAGE_TAIL = 1000

# Clients are made once per container and reused by warm invocations.
_clients: dict[tuple[str, ...], Any] = {}


class InvocationFailed(RuntimeError):
    """Raised so that Lambda records the invocation as failed (retries, dead-letter queue, alerts)."""


def handler(event: Any, context: Any) -> dict[str, Any]:
    request_id = getattr(context, "aws_request_id", "") or "unknown"
    try:
        config = load_config()
    except ConfigError as exc:
        configure_logging()
        RuntimeLog(request_id=request_id).error(str(exc), phase="config")
        raise
    configure_logging(config.log_level)
    deadline = time.monotonic() + context.get_remaining_time_in_millis() / 1000
    try:
        submitter = None if config.execution_mode == "lambda" else _submitter()
        result = run_invocation(config, event, _storage(), request_id=request_id, deadline=deadline,
                                submitter=submitter, container=_container())
    except (EventError, SubmitError) as exc:
        RuntimeLog(request_id=request_id, function=config.name).error(str(exc), phase="start")
        raise
    if not result.ok:
        raise InvocationFailed(failure_message(result))
    return result.to_dict()


def failure_message(result: InvocationResult) -> str:
    failures = result.failures
    lines = [f"{len(failures)} of {len(result.records)} objects failed"]
    for record in failures:
        lines.append(f"s3://{record.bucket}/{record.key}: {record.status}: {record.reason}")
        if record.output_tail:
            lines.append("last output:\n" + record.output_tail[-_MESSAGE_TAIL:])
    return "\n".join(lines)


def _storage() -> S3Storage:
    return _cached(("s3", os.environ.get("AWS_ENDPOINT_URL", "")), S3Storage)


def _submitter() -> BatchSubmitter:
    names = (os.environ.get("AVGEN_JOB_QUEUE", ""), os.environ.get("AVGEN_JOB_DEFINITION", ""))
    return _cached(("batch", *names), lambda: BatchSubmitter(*names))


def _container() -> Container:
    # This execution environment: its warm handler lives on between invocations, frozen with it. The sandbox
    # executor names the socket of the container it models; on Lambda it is a fixed path under /tmp.
    path = os.environ.get(SOCKET_VARIABLE) or LAMBDA_SOCKET
    return _cached(("container", path), lambda: Container(path))


def _cached(key: tuple[str, ...], make: Callable[[], Any]) -> Any:
    # Keyed by the settings they were made from, so a changed environment never gets a stale client.
    if key not in _clients:
        _clients[key] = make()
    return _clients[key]
