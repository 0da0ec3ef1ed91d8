"""The Lambda Runtime API (2018-06-01), served by the sandbox for one invocation of a function's image.

On Lambda, an image's runtime client (awslambdaric, the image's CMD) asks `GET …/invocation/next` for an event
and answers `POST …/invocation/ID/response` or `…/ID/error`; a runtime that fails before asking posts
`…/init/error`. AWS's runtime interface emulator does this for local runs, but it is a GitHub download, so the
sandbox serves the documented API itself: the event once, then the verdict. After the verdict the environment
is not kept warm: the next `next` is held until the sandbox stops the container.
"""
from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PREFIX = "/2018-06-01/runtime"


class RuntimeApi:
    """Serves `event` to the one runtime that asks, on 127.0.0.1 (the container runs on the host network)."""

    def __init__(self, event: dict, *, request_id: str, function_arn: str, timeout_s: float,
                 on_verdict: Callable[[], object] | None = None, trace_id: str | None = None):
        self.event, self.request_id, self.function_arn = event, request_id, function_arn
        # the invocation's X-Ray trace header (the runtime client makes it the function's _X_AMZN_TRACE_ID)
        self.trace_id = trace_id or f"Root=1-{int(time.time()):08x}-{request_id.replace('-', '')[:24]}"
        self.deadline_ms = int((time.time() + timeout_s) * 1000)
        self.verdict: tuple[str, dict] | None = None  # ("response" | "error" | "init error", body)
        self._served = False
        self._on_verdict = on_verdict
        self._done = threading.Event()
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # the runtime client keeps its connection open

            def log_message(self, *args) -> None:  # the function's log has what matters
                pass

            def do_GET(self) -> None:
                if self.path != f"{PREFIX}/invocation/next":
                    return self._answer(404, {"errorType": "NotFound", "errorMessage": self.path})
                if api._served:
                    api._done.wait()  # one invocation per container: held until the sandbox stops it
                    return self._answer(410, {"errorType": "Gone", "errorMessage": "the sandbox stopped"})
                api._served = True
                self._answer(200, api.event, {
                    "Lambda-Runtime-Aws-Request-Id": api.request_id,
                    "Lambda-Runtime-Deadline-Ms": str(api.deadline_ms),
                    "Lambda-Runtime-Invoked-Function-Arn": api.function_arn,
                    "Lambda-Runtime-Trace-Id": api.trace_id,
                })

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                try:
                    document = json.loads(body) if body else {}
                except ValueError:
                    document = {"raw": body.decode("utf-8", "replace")}
                invocation = f"{PREFIX}/invocation/{api.request_id}/"
                kind = {invocation + "response": "response", invocation + "error": "error",
                        f"{PREFIX}/init/error": "init error"}.get(self.path)
                if kind:  # decided before the answer: once answered, the verdict is there to read
                    api._decide(kind, document if isinstance(document, dict) else {"result": document})
                    self._answer(202, {"status": "OK"})
                    return
                self._answer(404, {"errorType": "NotFound", "errorMessage": self.path})

            def _answer(self, status: int, document: object, headers: dict | None = None) -> None:
                data = json.dumps(document).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True, name="avgen-runtime-api")
        self._thread.start()

    @property
    def address(self) -> str:
        """AWS_LAMBDA_RUNTIME_API's value: HOST:PORT."""
        port = self._server.server_address[1]
        return f"127.0.0.1:{port}"

    def _decide(self, kind: str, body: dict) -> None:
        if self.verdict is None:
            self.verdict = (kind, body)
            if self._on_verdict:
                self._on_verdict()

    def judge(self, ok: bool, reason: str) -> tuple[bool, str]:
        """The invocation's outcome: the runtime's verdict where it gave one (the container is stopped after
        it, so its exit code means nothing then), else what the process's end said (a crash, a timeout)."""
        if self.verdict is None:
            return ok, reason
        kind, body = self.verdict
        if kind == "response":
            return True, ""
        message = body.get("errorMessage") or json.dumps(body)[:500]
        error_type = body.get("errorType") or "Error"
        return False, f"{'Runtime.InitError: ' if kind == 'init error' else ''}{error_type}: {message}"

    def close(self) -> None:
        self._done.set()
        self._server.shutdown()
        self._server.server_close()
