"""The sandbox's Lambda Runtime API, spoken to as a runtime client (awslambdaric) speaks to it."""
from __future__ import annotations

import json
import urllib.request

from generator.aws.runtime_api import RuntimeApi

EVENT = {"Records": [{"s3": {"bucket": {"name": "b"}, "object": {"key": "in/a.txt"}}}]}


def call(api: RuntimeApi, method: str, path: str, body: dict | None = None):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(f"http://{api.address}/2018-06-01/runtime/{path}", data=data, method=method)
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status, dict(response.headers), json.loads(response.read())


def test_the_event_goes_out_with_its_headers_and_a_response_is_success():
    stopped = []
    api = RuntimeApi(EVENT, request_id="r-1", function_arn="arn:aws:lambda:us-east-1:1:function:f", timeout_s=30,
                     on_verdict=lambda: stopped.append(True))
    try:
        status, headers, event = call(api, "GET", "invocation/next")
        assert status == 200 and event == EVENT
        assert headers["Lambda-Runtime-Aws-Request-Id"] == "r-1"
        assert headers["Lambda-Runtime-Invoked-Function-Arn"].endswith(":function:f")
        assert int(headers["Lambda-Runtime-Deadline-Ms"]) > 0
        assert call(api, "POST", "invocation/r-1/response", {"ok": True})[0] == 202
        assert stopped == [True]  # the sandbox stops the container once the runtime answered
        assert api.judge(False, "exit code 137") == (True, "")
    finally:
        api.close()


def test_an_error_or_an_init_error_fails_the_invocation_with_its_message():
    api = RuntimeApi(EVENT, request_id="r-2", function_arn="arn:f", timeout_s=30)
    try:
        call(api, "GET", "invocation/next")
        call(api, "POST", "invocation/r-2/error", {"errorType": "InvocationFailed", "errorMessage": "script failed"})
        assert api.judge(False, "") == (False, "InvocationFailed: script failed")
    finally:
        api.close()
    api = RuntimeApi(EVENT, request_id="r-3", function_arn="arn:f", timeout_s=30)
    try:
        call(api, "POST", "init/error", {"errorType": "Runtime.ImportModuleError", "errorMessage": "no module"})
        assert api.judge(False, "") == (False, "Runtime.InitError: Runtime.ImportModuleError: no module")
    finally:
        api.close()


def test_without_a_verdict_the_process_end_decides():
    api = RuntimeApi(EVENT, request_id="r-4", function_arn="arn:f", timeout_s=30)
    api.close()
    assert api.judge(False, "Task timed out after 3 seconds") == (False, "Task timed out after 3 seconds")


def test_the_invocation_trace_header_goes_out_with_the_event():
    """awslambdaric makes it the function's _X_AMZN_TRACE_ID, which the AWS SDK sends on: recursive loop detection."""
    trace = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0;Lineage=a87bd80c:3"
    api = RuntimeApi(EVENT, request_id="r-5", function_arn="arn:f", timeout_s=30, trace_id=trace)
    try:
        assert call(api, "GET", "invocation/next")[1]["Lambda-Runtime-Trace-Id"] == trace
    finally:
        api.close()
