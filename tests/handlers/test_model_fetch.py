"""Official model files: downloaded over HTTP with pinned size and SHA-256, into a folder or S3."""
from __future__ import annotations

import hashlib
import http.server
import threading
from functools import partial

import pytest

from batch_jobs.handlers import model_files
from batch_jobs.handlers.handler_errors import ModelFileError
from batch_jobs.handlers.model_files import BUNDLED_DIR, OfficialModel, OfficialWeights, fetch_official_model


@pytest.fixture
def publisher(tmp_path, monkeypatch):
    """A local HTTP server standing in for the publisher, and a catalog entry pointing at it."""
    served = tmp_path / "served"
    served.mkdir()
    payload = bytes(range(256)) * 400
    (served / "tiny.weights").write_bytes(payload)
    requests = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            requests.append(self.path)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), partial(Handler, directory=str(served)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/tiny.weights"
    entry = OfficialModel(OfficialWeights(url, len(payload), hashlib.sha256(payload).hexdigest()),
                          cfg="yolov3-tiny.cfg")
    monkeypatch.setitem(model_files.OFFICIAL_MODELS, "test-tiny", entry)
    yield served, payload, requests
    server.shutdown()


def test_the_catalog_pins_the_published_files():
    tiny, full = model_files.OFFICIAL_MODELS["yolov3-tiny"], model_files.OFFICIAL_MODELS["yolov3"]
    assert (tiny.weights.size, full.weights.size) == (35_434_956, 248_007_048)
    assert tiny.weights.url.startswith("https://pjreddie.com/") and (BUNDLED_DIR / full.cfg).is_file()


def test_fetch_into_a_folder_downloads_once(publisher, tmp_path):
    _, payload, requests = publisher
    written = fetch_official_model("test-tiny", tmp_path / "models")
    assert written == [str(tmp_path / "models" / name) for name in ("tiny.weights", "yolov3-tiny.cfg", "coco.names")]
    assert (tmp_path / "models" / "tiny.weights").read_bytes() == payload
    assert (tmp_path / "models" / "coco.names").read_bytes() == (BUNDLED_DIR / "coco.names").read_bytes()
    fetch_official_model("test-tiny", tmp_path / "models")
    assert len(requests) == 1  # verified in place, not downloaded again


def test_a_changed_file_is_refused_and_not_kept(publisher, tmp_path):
    served, payload, _ = publisher
    (served / "tiny.weights").write_bytes(payload[:-1] + b"x")
    with pytest.raises(ModelFileError, match="not the published file"):
        fetch_official_model("test-tiny", tmp_path / "models")
    assert list((tmp_path / "models").iterdir()) == []


def test_unreachable_and_unknown(publisher, tmp_path):
    served, _, _ = publisher
    (served / "tiny.weights").unlink()
    with pytest.raises(ModelFileError, match=r"cannot download http://127.0.0.1:.*tiny.weights"):
        fetch_official_model("test-tiny", tmp_path)
    with pytest.raises(ModelFileError, match=r"unknown model 'yolov9': known are .*yolov3-tiny"):
        fetch_official_model("yolov9", tmp_path)


def test_fetch_to_s3(publisher, aws_env, tmp_path, monkeypatch):
    import boto3

    _, payload, _ = publisher
    monkeypatch.setenv("AVGEN_MODEL_CACHE", str(tmp_path / "cache"))
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="models")
    written = fetch_official_model("test-tiny", "s3://models/yolo/")
    assert written == ["s3://models/yolo/tiny.weights", "s3://models/yolo/yolov3-tiny.cfg", "s3://models/yolo/coco.names"]
    assert s3.get_object(Bucket="models", Key="yolo/tiny.weights")["Body"].read() == payload


def test_the_command_fetches_and_reports_problems_as_messages(publisher, tmp_path):
    from typer.testing import CliRunner

    from generator.cli import app

    result = CliRunner().invoke(app, ["models", "fetch", "test-tiny", "--to", str(tmp_path / "m")])
    assert result.exit_code == 0, result.output
    assert str(tmp_path / "m" / "tiny.weights") in result.stdout
    unknown = CliRunner().invoke(app, ["models", "fetch", "yolov9", "--to", str(tmp_path / "m")])
    assert unknown.exit_code == 1 and "unknown model 'yolov9'" in unknown.output
