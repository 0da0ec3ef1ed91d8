"""Fixtures shared by every test folder.

`s3_endpoint` is a real S3 API over HTTP: moto's server on a free loopback port, one per test session.
"""
from __future__ import annotations

import importlib.util
import os
import shutil
import signal
import socket
import subprocess
from pathlib import Path

import pytest
from hypothesis import settings

# No example database: failures replayed from a folder left by earlier runs would make results depend on the
# machine (and the checkout); every run draws afresh, the same way locally and in CI.
settings.register_profile("avgen", database=None)
settings.load_profile("avgen")

# A test run started in the background by a non-interactive shell (`pytest &`, some CI runners) inherits
# SIGINT ignored, and so would every avgen it starts: the Ctrl-C tests would wait for an interrupt that never
# comes. Tests run with Ctrl-C's default, as a user's terminal gives it.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def copy_example(source: Path, destination: Path) -> Path:
    """A copy of an example folder as the checkout holds it: the files git tracks, without what a user left
    there (following an example's README writes video-process.yaml and .avgen/ into it). Outside a git
    checkout, or for a folder git does not track, all of it but .avgen/."""
    try:
        listed = subprocess.run(["git", "ls-files", "-z", "--", "."], cwd=source, capture_output=True,
                                check=True).stdout.decode().split("\0")
    except (OSError, subprocess.CalledProcessError):
        listed = []
    tracked = [name for name in listed if name and (source / name).is_file()]  # not those deleted here
    if not tracked:
        shutil.copytree(source, destination, ignore=shutil.ignore_patterns(".avgen"))
        return destination
    for name in tracked:
        (destination / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source / name, destination / name)
    return destination


def free_loopback_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def moto_endpoint():
    """URL of a moto server (all AWS services) listening on loopback for the whole session."""
    from moto.server import ThreadedMotoServer

    port = free_loopback_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    url = f"http://127.0.0.1:{port}"
    import requests

    # Lambda and Batch would otherwise need a Docker engine.
    requests.post(f"{url}/moto-api/config", json={"batch": {"use_docker": False}, "lambda": {"use_docker": False}},
                  timeout=10)
    yield url
    server.stop()


@pytest.fixture
def aws_credentials(monkeypatch):
    """Credentials (fake) in the environment: `avgen plan/apply/destroy` on AWS stop before terraform without
    any, so a test of what they do next needs some."""
    for key, value in FAKE_CREDENTIALS.items():
        monkeypatch.setenv(key, value)


@pytest.fixture
def aws_env(monkeypatch, moto_endpoint):
    """Fake credentials and every boto3 client pointed at the moto server; state reset after the test."""
    for key, value in FAKE_CREDENTIALS.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint)
    yield moto_endpoint
    import requests

    requests.post(f"{moto_endpoint}/moto-api/reset", timeout=10)


PROVIDER_MIRROR_MARKER = Path("registry.terraform.io") / "hashicorp" / "aws"


def missing_tool(reason: str):
    """Skip where a tool is missing on a developer's machine; fail in CI, which must run every check."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (CI must run this check)")
    pytest.skip(reason)


def pytest_configure(config):
    config.addinivalue_line("markers", "tools(*names): runs these executables; skipped where one is missing, "
                                       "failed in CI (tests/tools.py)")


# the modules of the `media` extra (pyproject.toml), as imported
MEDIA_EXTRAS = ("numpy", "cv2", "pocketsphinx", "faster_whisper", "onnxruntime", "onnx")


def _importable(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except ImportError:  # a finder that refuses it
        return False


MISSING_MEDIA_EXTRAS = [name for name in MEDIA_EXTRAS if not _importable(name)]


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(collector):
    """A test module (or folder conftest) that cannot be imported without the media extras is skipped as a
    missing tool is (failed in CI): `pytest -m "not media"` collects where they are not installed."""
    report = yield
    if report.failed and MISSING_MEDIA_EXTRAS and os.environ.get("CI") != "true":
        text = str(report.longrepr)
        needed = [name for name in MISSING_MEDIA_EXTRAS if f"No module named '{name}'" in text]
        if needed:
            reason = f"needs the media extras (pip install -e '.[media]'): {', '.join(needed)} not installed"
            return pytest.CollectReport(report.nodeid, "skipped", (str(collector.path), 0, f"Skipped: {reason}"),
                                        [])
    return report


def pytest_runtest_setup(item):
    # before the test's fixtures, which may already run the tools (generated media)
    for mark in item.iter_markers("tools"):
        missing = [name for name in mark.args if shutil.which(name) is None]
        if missing:
            missing_tool(f"needs {', '.join(missing)} on PATH")


@pytest.fixture(scope="session")
def plugin_dir() -> Path:
    """The offline hashicorp/aws provider mirror, for `--plugin-dir`."""
    for candidate in filter(None, [os.environ.get("AVGEN_PLUGIN_DIR"), "/opt/tf-plugins"]):
        if (Path(candidate) / PROVIDER_MIRROR_MARKER).is_dir():
            return Path(candidate)
    missing_tool("no hashicorp/aws provider mirror (set AVGEN_PLUGIN_DIR)")
