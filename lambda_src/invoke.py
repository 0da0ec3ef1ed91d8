"""One invocation the way Lambda's runtime interface client makes it, for the sandbox's executor.

`python -m lambda_src.invoke EVENT.json` runs `lambda_src.handler.handler` once with a context whose
remaining time counts down from AWS_LAMBDA_FUNCTION_TIMEOUT, prints the result (or the error, as Lambda
reports it) as the last line of standard output, and exits 0 on success, 1 when the function failed.
"""
from __future__ import annotations

import json
import os
import sys
import time
import traceback


class LambdaContext:
    """The attributes of Lambda's context object that avgen's handler reads."""

    def __init__(self, request_id: str, timeout_s: float, function_name: str, memory_mb: str):
        self.aws_request_id = request_id
        self.function_name = function_name
        self.memory_limit_in_mb = memory_mb
        self._deadline = time.monotonic() + timeout_s

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def main(argv: list[str]) -> int:
    from lambda_src.handler import handler

    with open(argv[0], encoding="utf-8") as handle:
        event = json.load(handle)
    context = LambdaContext(os.environ.get("AWS_LAMBDA_REQUEST_ID", "local"),
                            float(os.environ.get("AWS_LAMBDA_FUNCTION_TIMEOUT", "3")),
                            os.environ.get("AWS_LAMBDA_FUNCTION_NAME", ""),
                            os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128"))
    try:
        result = handler(event, context)
    except Exception as exc:  # Lambda reports any exception as the invocation's error
        print(json.dumps({"errorType": type(exc).__name__, "errorMessage": str(exc),
                          "stackTrace": traceback.format_exc().splitlines()[-8:]}), flush=True)
        return 1
    print(json.dumps(result, default=str), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
