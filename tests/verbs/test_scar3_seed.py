"""The video-process seed's own files (SCAR 3.x, unchanged) with avgen's verbs: `avgen run --local` with both
files, and SCAR's `put -b … -p …`, `ls -b …`, `get -b … -p …` against an S3 API over HTTP (moto)."""
from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from tests.media import make_video, make_yolo_model, requires_tools

ORIGINALS = Path(__file__).resolve().parents[1] / "data" / "scar-configs" / "video-process-original"
FILES = ("scar-batch-ffmpeg-split.yaml", "scar-lambda-darknet.yaml")


def local_files(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


@pytest.fixture
def seed(tmp_path) -> Path:
    folder = tmp_path / "video-process-original"
    shutil.copytree(ORIGINALS, folder)
    return folder


@pytest.mark.media
@requires_tools("ffmpeg")
def test_run_local_with_both_files_splits_into_a_request_id_folder(cli, seed, tmp_path):
    # What runs without darknet: SCAR's split script, unchanged, in `batch` mode, its frames chained to the
    # darknet function through video-output/ (whose own outcome this test leaves to the next one).
    video = make_video(tmp_path / "seq1.avi", seconds=3, fps=5, with_audio=False)
    store = tmp_path / "store"
    result = cli("run", *(seed / name for name in FILES), "--local", "-i", video, "--store", store,
                 "--log-file", tmp_path / "run.jsonl", "--no-tool-check")
    bucket = store / "scar-ffmpeg"
    assert local_files(bucket / "scar-batch-ffmpeg-split" / "input") == ["seq1.avi"], result.output
    frames = local_files(bucket / "scar-batch-ffmpeg-split" / "video-output")
    # SCAR 3.x's layout: video-output/REQUEST_ID/out001.jpg … one folder for the one invocation
    assert len({f.split("/")[0] for f in frames}) == 1
    assert [f.split("/", 1)[1] for f in frames] == ["out001.jpg", "out002.jpg", "out003.jpg"]
    assert "scar-lambda-darknet" in result.output  # each frame started the darknet function


@pytest.fixture(scope="module")
def tiny_yolo(tmp_path_factory):
    cfg, weights, names = make_yolo_model(tmp_path_factory.mktemp("model"), "yolov3-tiny", input_size=128)
    return ["-e", f"YOLO_CFG={cfg}", "-e", f"YOLO_WEIGHTS={weights}", "-e", f"YOLO_NAMES={names}"]


@pytest.mark.media
@requires_tools("ffmpeg")
def test_video_process_original_runs_locally_with_the_darknet_stand_in(cli, seed, tmp_path, tiny_yolo):
    # The command examples/video-process/README.md gives (its model generated here, for speed). SCAR's
    # darknet script, unchanged, runs avgen's `darknet` stand-in and writes NAME.out (the detections text)
    # and NAME.png (the image with boxes) for each frame, each invocation in its own request-id folder
    # under image-output/.
    video = make_video(tmp_path / "seq1.avi", seconds=3, fps=5, with_audio=False)
    store = tmp_path / "store"
    result = cli("run", *(seed / name for name in FILES), "--local", "-i", video, "--store", store,
                 "--log-file", tmp_path / "run.jsonl", *tiny_yolo)
    assert result.exit_code == 0, result.output
    results = store / "scar-ffmpeg" / "scar-batch-ffmpeg-split" / "image-output"
    by_request: dict[str, list[str]] = {}
    for path in local_files(results):
        request_id, name = path.split("/", 1)
        by_request.setdefault(request_id, []).append(name)
    assert len(by_request) == 3  # one invocation per frame, one folder each
    assert sorted(tuple(names) for names in by_request.values()) == [
        (f"out00{i}.out", f"out00{i}.png") for i in (1, 2, 3)]
    for request_id, names in by_request.items():
        # darknet's own lines only (the stand-in is served by the warm handler: the file names the handler
        # prints must not reach the script's `> $RESULT`)
        lines = (results / request_id / names[0]).read_text().splitlines()
        assert lines and re.fullmatch(r".+: Predicted in [0-9.]+ (milli)?seconds\.", lines[0]), lines
        assert all(re.fullmatch(r".+: \d+%", line) for line in lines[1:]), lines


@pytest.mark.media
@requires_tools("ffmpeg")
def test_without_the_model_each_darknet_run_fails_and_names_the_variable(cli, seed, tmp_path):
    video = make_video(tmp_path / "seq1.avi", seconds=2, fps=5, with_audio=False)
    result = cli("run", *(seed / name for name in FILES), "--local", "-i", video, "--store", tmp_path / "store",
                 "--log-file", tmp_path / "run.jsonl")
    assert result.exit_code == 1, result.output  # a pipeline sees the failure
    assert "failed: 3 invocations, 2 outputs, 2 failed" in result.output
    assert result.output.count("YOLO_CFG is not set: set YOLO_CFG to the function's darknet cfg") == 2


def test_scars_put_ls_get_commands_as_written(cli, s3_api, seed, tmp_path):
    endpoint, client = s3_api
    client.create_bucket(Bucket="scar-ffmpeg")
    video = tmp_path / "seq1.avi"
    video.write_bytes(b"not really a video")
    put = cli("put", "-b", "scar-ffmpeg/scar-batch-ffmpeg-split/input", "-p", video, "--endpoint-url", endpoint)
    assert put.exit_code == 0, put.output
    assert [o["Key"] for o in client.list_objects_v2(Bucket="scar-ffmpeg")["Contents"]] == [
        "scar-batch-ffmpeg-split/input/seq1.avi"]
    # with both workflow files first, put says which function the upload starts
    started = cli("put", *(seed / name for name in FILES), video, "--endpoint-url", endpoint)
    assert started.exit_code == 0, started.output
    assert "starts scar-batch-ffmpeg-split" in started.output
    for request_id in ("c45433a2-e8e4-11e8-8c48-ab3c38d92053", "c46aefe9-e8e4-11e8-97ef-8342661a6503"):
        for name in ("out001.out", "out001.png"):
            client.put_object(Bucket="scar-ffmpeg", Body=b"x",
                              Key=f"scar-batch-ffmpeg-split/image-output/{request_id}/{name}")
    listing = cli("ls", "-b", "scar-ffmpeg/scar-batch-ffmpeg-split/image-output", "--endpoint-url", endpoint)
    assert listing.exit_code == 0, listing.output
    assert "image-output/c45433a2-e8e4-11e8-8c48-ab3c38d92053/out001.png" in listing.stdout
    assert "image-output/c46aefe9-e8e4-11e8-97ef-8342661a6503/out001.out" in listing.stdout
    got = cli("get", "-b", "scar-ffmpeg/scar-batch-ffmpeg-split/image-output", "-p", tmp_path / "lambda",
              "--endpoint-url", endpoint)
    assert got.exit_code == 0, got.output
    # SCAR's README: "creates an `image-output` folder and all the subfolders in /tmp/lambda/"; its code
    # (controller.download_file_or_folder_from_s3, tag 3.2.2) writes PATH/KEY, the whole key, as avgen does
    assert local_files(tmp_path / "lambda") == [
        f"scar-batch-ffmpeg-split/image-output/{rid}/{name}" for rid in ("c45433a2-e8e4-11e8-8c48-ab3c38d92053",
                                                  "c46aefe9-e8e4-11e8-97ef-8342661a6503")
        for name in ("out001.out", "out001.png")]
