"""Structured logs: one JSON object per line, so CloudWatch Logs Insights can filter on any field
(`filter phase = "script" and exit_code != 0`, `stats sum(bytes) by function`).

The core logs through `RuntimeLog`, which stamps every line with the request id and the function; only the
entry points (Lambda handler, Batch entrypoint, local runner) decide where the lines go.
"""
from __future__ import annotations

import json
import logging
import sys
from datetime import datetime, timezone
from typing import Any, TextIO

LOGGER_NAME = "avgen.runtime"
_FIELDS = "avgen_fields"


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "message": record.getMessage(),
        }
        line.update(getattr(record, _FIELDS, {}))
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


def configure_logging(level: str = "INFO", stream: TextIO | None = None) -> logging.Logger:
    """Send the runtime's logs to `stream` (stdout: Lambda and Batch forward it to CloudWatch) as JSON lines.
    Calling it again replaces the handler, so warm Lambda containers don't log every line twice."""
    logger = logging.getLogger(LOGGER_NAME)
    for handler in [h for h in logger.handlers if getattr(h, "_avgen", False)]:
        logger.removeHandler(handler)
    handler = logging.StreamHandler(stream or sys.stdout)
    handler.setFormatter(JsonFormatter())
    handler._avgen = True  # type: ignore[attr-defined]
    logger.addHandler(handler)
    numeric = logging.getLevelName(level.upper())  # an int for known names, a string otherwise
    logger.setLevel(numeric if isinstance(numeric, int) else logging.INFO)
    # The Lambda runtime puts its own (plain text) handler on the root logger; don't print each line twice.
    logger.propagate = False
    return logger


class RuntimeLog:
    """A logger bound to one invocation's request id and function."""

    def __init__(self, **context: Any):
        self.logger = logging.getLogger(LOGGER_NAME)
        self.context = context

    def log(self, level: int, message: str, *, phase: str, exc_info: bool = False, **fields: Any) -> None:
        if self.logger.isEnabledFor(level):
            record_fields = {**self.context, "phase": phase, **fields}
            self.logger.log(level, message, extra={_FIELDS: record_fields}, exc_info=exc_info)

    def info(self, message: str, *, phase: str, **fields: Any) -> None:
        self.log(logging.INFO, message, phase=phase, **fields)

    def warning(self, message: str, *, phase: str, **fields: Any) -> None:
        self.log(logging.WARNING, message, phase=phase, **fields)

    def error(self, message: str, *, phase: str, **fields: Any) -> None:
        self.log(logging.ERROR, message, phase=phase, **fields)
