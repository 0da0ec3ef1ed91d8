"""The sandbox's history: every request that reached the emulator, as it came over the wire, in order.

One JSON line per request (`requests.jsonl`): method, raw path and query (keys with `.`, `..`, `%2F` stay
as they were sent), headers and body. Bodies above BODY_INLINE_LIMIT are stored once, by their SHA-256, in
`bodies/`, and the line names them: a 100 MB upload is one file, never base64 in the history. A line is
written only after the emulator answered, and only for requests it carried out (an IAM denial changed
nothing and is not history). A line cut short by a kill is dropped on the next read (`read_history`).
"""
from __future__ import annotations

import base64
import hashlib
import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

HISTORY = "requests.jsonl"
BODIES = "bodies"
BODY_INLINE_LIMIT = 64 * 1024
# Headers that describe one connection, not the request: the replay's HTTP client sets its own.
HOP_HEADERS = frozenset({"host", "content-length", "transfer-encoding", "connection", "keep-alive"})


@dataclass
class Request:
    method: str
    uri: str                 # path and query, as sent
    headers: dict[str, str]
    body: bytes
    # CreateMultipartUpload: the id the emulator answered, which the parts' URIs carry; a replay gets a new
    # one and puts it in place of this one (`Replay.uri`)
    upload_id: str | None = None


class History:
    """Append-only, in the sandbox's state folder."""

    def __init__(self, state_dir: Path):
        self.path = Path(state_dir) / HISTORY
        self.bodies = Path(state_dir) / BODIES

    def append(self, request: Request) -> None:
        line: dict = {"m": request.method, "u": request.uri,
                      "h": {k: v for k, v in request.headers.items() if k.lower() not in HOP_HEADERS}}
        if request.upload_id:
            line["r"] = request.upload_id
        if len(request.body) > BODY_INLINE_LIMIT:
            line["f"] = self._store(request.body)
        elif request.body:
            line["b"] = base64.b64encode(request.body).decode("ascii")
        with open(self.path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(line, separators=(",", ":")) + "\n")

    def _store(self, body: bytes) -> str:
        digest = hashlib.sha256(body).hexdigest()
        target = self.bodies / digest
        if not target.exists():
            self.bodies.mkdir(parents=True, exist_ok=True)
            partial = target.with_name(f".{digest}.{os.getpid()}.partial")
            try:
                partial.write_bytes(body)
                partial.replace(target)  # the line naming it is written after: never a line without its body
            except OSError:
                partial.unlink(missing_ok=True)  # a full disk: what was written of it must not take the rest
                raise
        return digest

    def read(self) -> Iterator[Request]:
        """The recorded requests, in order; a last line cut short (a killed writer) is cut off the file."""
        if not self.path.exists():
            return
        good = 0
        with open(self.path, "rb") as handle:
            for raw in handle:
                request = self._parse(raw)
                if request is None:
                    break
                good += len(raw)
                yield request
        if good != self.path.stat().st_size:
            with open(self.path, "r+b") as handle:
                handle.truncate(good)

    def _parse(self, raw: bytes) -> Request | None:
        if not raw.endswith(b"\n"):
            return None
        try:
            line = json.loads(raw)
            body = (self.bodies / line["f"]).read_bytes() if "f" in line else base64.b64decode(line.get("b", ""))
            return Request(line["m"], line["u"], dict(line["h"]), body, line.get("r"))
        except (ValueError, KeyError, OSError):
            return None


UPLOAD_ID = re.compile(rb"<UploadId>([^<]+)</UploadId>")


def upload_id_in(answer: bytes) -> str | None:
    found = UPLOAD_ID.search(answer)
    return found.group(1).decode() if found else None


class Replay:
    """What a replay must carry from one request to the next: multipart upload ids, old → new."""

    def __init__(self) -> None:
        self.upload_ids: dict[str, str] = {}

    def uri(self, request: Request) -> str:
        uri = request.uri
        for old, new in self.upload_ids.items():
            uri = uri.replace(f"uploadId={old}", f"uploadId={new}")
        return uri

    def answered(self, request: Request, answer: bytes) -> None:
        if request.upload_id:
            new = upload_id_in(answer)
            if new:
                self.upload_ids[request.upload_id] = new
