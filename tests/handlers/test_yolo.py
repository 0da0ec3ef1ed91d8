"""YOLO handler end to end: real OpenCV networks with generated weights, images, videos, S3 weights."""
from __future__ import annotations

import json
import re

import cv2
import numpy as np
import pytest

from batch_jobs.handlers import engines, yolo
from batch_jobs.handlers.handler_errors import ModelFileError
from batch_jobs.handlers.model_files import fetch_from_s3
from tests.media import PlantedDetection, make_video, make_yolo_model, requires_tools, streams_of

from .conftest import run_handler_process

pytestmark = pytest.mark.media
IMAGE_SIZE = (96, 64)  # width, height


def model_args(model) -> list:
    cfg, weights, names = model
    return ["--cfg", cfg, "--weights", weights, "--names", names]


@pytest.fixture
def image(tmp_path):
    path = tmp_path / "frame-000001.jpg"
    picture = np.zeros((IMAGE_SIZE[1], IMAGE_SIZE[0], 3), np.uint8)
    cv2.circle(picture, (48, 32), 20, (0, 200, 255), -1)
    cv2.imwrite(str(path), picture)
    return path


def test_image_gives_darknet_text_and_annotated_png(handler, tiny_model, image, tmp_path):
    result = handler("yolo", "image", image, tmp_path / "out", *model_args(tiny_model))
    assert result.exit_code == 0, result.stderr
    text_path, png_path = result.written
    assert (text_path.name, png_path.name) == ("frame-000001.out", "frame-000001.png")
    lines = text_path.read_text().splitlines()
    assert lines[0].startswith("frame-000001.jpg: Predicted in ")
    assert lines[1:] == ["dog: 90%", "\t(left_x:    0   top_y:    0   width:   95   height:   63)"]
    annotated = cv2.imread(str(png_path))
    assert annotated.shape == (IMAGE_SIZE[1], IMAGE_SIZE[0], 3)
    assert tuple(annotated[32, 0]) == yolo.class_colour(16)  # the box outline runs along the left edge
    assert "on ONNX Runtime" in result.stderr and "on CPU" in result.stderr  # the default engine, said in the log
    again = handler("yolo", "image", image, tmp_path / "again", *model_args(tiny_model))
    # the network is kept for the next call in this process (model_cache), whose log still names the engine
    assert "reusing" in again.stderr and "on ONNX Runtime" in again.stderr and "on CPU" in again.stderr


def test_several_images_share_one_loaded_network(handler, blind_model, image, tmp_path):
    second = tmp_path / "second.png"
    cv2.imwrite(str(second), cv2.imread(str(image)))
    result = handler("yolo", "image", image, second, tmp_path / "out", *model_args(blind_model))
    assert result.exit_code == 0 and len(result.written) == 4
    assert (tmp_path / "out" / "second.out").read_text().count("\n") == 1  # header only: no detection
    assert result.stderr.count("loaded yolov3-tiny.cfg") <= 1


def test_the_network_is_cached_per_files_and_settings(tiny_model):
    assert yolo.load_model(*tiny_model, backend="cpu") is yolo.load_model(*tiny_model, backend="cpu")
    assert yolo.load_model(*tiny_model, low_memory=True) is not yolo.load_model(*tiny_model)


def test_low_memory_mode_finds_the_same(handler, tiny_model, image, tmp_path):
    result = handler("yolo", "image", image, tmp_path, *model_args(tiny_model), "--low-memory")
    assert result.exit_code == 0 and "dog: 90%" in (tmp_path / "frame-000001.out").read_text()


@pytest.mark.parametrize(("option", "confidence_seen"), [(["--conf", "0.95"], False), (["--conf", "0.5"], True)])
def test_confidence_option(handler, tiny_model, image, tmp_path, option, confidence_seen):
    handler("yolo", "image", image, tmp_path, *model_args(tiny_model), *option)
    assert ("dog: 90%" in (tmp_path / "frame-000001.out").read_text()) is confidence_seen


def test_model_files_from_environment_variables(handler, tiny_model, image, tmp_path, monkeypatch):
    cfg, weights, names = tiny_model
    for variable, value in (("YOLO_CFG", cfg), ("YOLO_WEIGHTS", weights), ("YOLO_NAMES", names)):
        monkeypatch.setenv(variable, str(value))
    assert handler("yolo", "image", image, tmp_path).exit_code == 0


def test_yolo_cfg_as_the_examples_name_it(handler, tiny_model, image, tmp_path, monkeypatch):
    """examples/video-process sets YOLO_CFG=yolov3-tiny: the bundled cfg (416×416; same weights layout)."""
    _, weights, names = tiny_model
    for variable, value in (("YOLO_CFG", "yolov3-tiny"), ("YOLO_WEIGHTS", weights), ("YOLO_NAMES", names)):
        monkeypatch.setenv(variable, str(value))
    result = handler("yolo", "image", image, tmp_path)
    assert result.exit_code == 0, result.stderr
    assert "dog: 90%" in (tmp_path / "frame-000001.out").read_text()


def test_missing_weights_exit_4_with_a_clear_message(handler, image, tmp_path, monkeypatch):
    monkeypatch.delenv("YOLO_WEIGHTS", raising=False)
    result = handler("yolo", "image", image, tmp_path, "--cfg", "yolov3-tiny.cfg")
    assert result.exit_code == 4 and "no YOLO weights given: pass --weights or set YOLO_WEIGHTS" in result.stderr
    result = handler("yolo", "image", image, tmp_path, "--weights", tmp_path / "nope.weights")
    assert result.exit_code == 4 and "nope.weights" in result.stderr


def test_weights_not_matching_the_cfg_exit_4_naming_sizes(tiny_model, image, tmp_path):
    _, weights, _ = tiny_model
    result = run_handler_process("yolo", "image", image, tmp_path, "--cfg", "yolov3.cfg", "--weights", weights)
    assert result.returncode == 4 and "Traceback" not in result.stderr
    assert f"weights file {weights} is" in result.stderr and "needs 248007048 bytes" in result.stderr


def test_not_an_image_exit_3(handler, tiny_model, tmp_path):
    fake = tmp_path / "photo.jpg"
    fake.write_text("not a jpeg")
    result = handler("yolo", "image", fake, tmp_path / "out", *model_args(tiny_model))
    assert result.exit_code == 3 and "not an image" in result.stderr
    assert not (tmp_path / "out" / "photo.out").exists()


def test_stretch_and_letterbox_both_find_the_planted_detection(tiny_model, image, tmp_path):
    model = yolo.load_model(*tiny_model)
    picture = cv2.imread(str(image))
    for letterbox in (True, False):
        [found] = yolo.detect(model, picture, yolo.DetectionSettings(letterbox=letterbox))
        assert (found.label, found.left, found.top, found.width, found.height) == ("dog", 0, 0, 95, 63)


@requires_tools("ffmpeg", "ffprobe")
def test_video_gives_annotated_avi_with_audio_and_one_json_line_per_frame(handler, tiny_model, media_dir, tmp_path):
    clip = make_video(media_dir / "yolo-in.mp4", 2, fps=5, size=IMAGE_SIZE, with_audio=True)
    result = handler("yolo", "video", clip, tmp_path / "result" / "clip.avi", *model_args(tiny_model))
    assert result.exit_code == 0, result.stderr
    avi, detections = result.written
    assert detections == tmp_path / "result" / "clip.jsonl"
    [video], [audio] = streams_of(avi, "video"), streams_of(avi, "audio")
    assert (video["codec_name"], video["width"], video["height"], int(video["nb_read_frames"])) == ("mpeg4", 96, 64, 10)
    assert audio["codec_name"] == "mp3"
    records = [json.loads(line) for line in detections.read_text().splitlines()]
    assert [r["frame"] for r in records] == list(range(1, 11))
    assert records[5]["time"] == pytest.approx(1.0)
    assert records[0]["detections"] == [
        {"label": "dog", "class_id": 16, "confidence": 0.9, "left": 0, "top": 0, "width": 95, "height": 63}]


@requires_tools("ffmpeg", "ffprobe")
def test_video_without_audio_and_custom_detections_path(handler, blind_model, clip_without_audio, tmp_path):
    result = handler("yolo", "video", clip_without_audio, tmp_path / "v.avi", "--detections", tmp_path / "d.jsonl",
                     *model_args(blind_model))
    assert result.exit_code == 0, result.stderr
    assert streams_of(tmp_path / "v.avi", "audio") == []
    lines = (tmp_path / "d.jsonl").read_text().splitlines()
    assert len(lines) == 20 and json.loads(lines[0])["detections"] == []


@requires_tools("ffmpeg", "ffprobe")
def test_video_errors(handler, blind_model, tmp_path, monkeypatch):
    bogus = tmp_path / "bogus.avi"
    bogus.write_bytes(b"RIFF" + b"\0" * 500)
    result = handler("yolo", "video", bogus, tmp_path / "o.avi", *model_args(blind_model))
    assert result.exit_code == 3
    assert not (tmp_path / "o.avi").exists() and not (tmp_path / "o.jsonl").exists()
    clip = make_video(tmp_path / "long.mp4", 4, fps=25, size=(64, 64), with_audio=False)
    result = handler("yolo", "video", clip, tmp_path / "o.avi", "--timeout", "0.3", *model_args(blind_model))
    assert result.exit_code == 6 and "did not finish within" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bogus.avi", "long.mp4"]  # no partial outputs


def test_weights_from_s3_are_downloaded_once_and_reused(aws_env, tiny_model, image, tmp_path, monkeypatch, handler):
    import boto3

    cfg, weights, names = tiny_model
    monkeypatch.setenv("AVGEN_MODEL_CACHE", str(tmp_path / "cache"))
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="models")
    s3.upload_file(str(weights), "models", "yolo/tiny.weights")
    first = handler("yolo", "image", image, tmp_path / "out", "--cfg", cfg, "--names", names,
                    "--weights", "s3://models/yolo/tiny.weights")
    assert first.exit_code == 0, first.stderr
    cached = tmp_path / "cache" / "models" / "yolo" / "tiny.weights"
    assert cached.read_bytes() == weights.read_bytes()
    s3.delete_object(Bucket="models", Key="yolo/tiny.weights")
    assert fetch_from_s3("s3://models/yolo/tiny.weights", what="weights") == cached  # no second download
    with pytest.raises(ModelFileError, match=r"cannot download weights s3://models/other.weights: no such object"):
        fetch_from_s3("s3://models/other.weights", what="weights")
    with pytest.raises(ModelFileError, match="want s3://bucket/key"):
        fetch_from_s3("s3://models/", what="weights")
    # No partial download left; the converted model is cached beside the downloaded weights.
    converted, downloaded = sorted(cached.parent.iterdir())
    assert downloaded == cached and re.fullmatch(r"tiny\.[0-9a-f]{16}\.onnx", converted.name)


def test_full_yolov3_runs_end_to_end(tmp_path, image):
    """The one full-size YOLOv3 test: Darknet-53, three heads, 416×416 (about 5 s on 2 vCPUs)."""
    model = yolo.load_model(*make_yolo_model(tmp_path, "yolov3", planted=PlantedDetection(class_id=2, confidence=0.8)))
    [found] = yolo.detect(model, cv2.imread(str(image)), yolo.DetectionSettings())
    assert (found.label, round(found.confidence, 2), found.width, found.height) == ("car", 0.8, 95, 63)


def _has_cuda(engine: str) -> bool:
    if engine == "opencv":
        return engines.opencv_cuda_devices() > 0
    import onnxruntime

    return engines.CUDA_PROVIDER in onnxruntime.get_available_providers()


@pytest.mark.parametrize(("engine", "problem"),
                         [("opencv", "sees no CUDA device"), ("onnxruntime", "no CUDA provider")])
def test_cuda_requested_without_cuda_is_a_tool_error(handler, tiny_model, image, tmp_path, engine, problem):
    if _has_cuda(engine):
        pytest.skip(f"{engine} has CUDA on this machine")
    result = handler("yolo", "image", image, tmp_path, *model_args(tiny_model), "--engine", engine, "--backend", "cuda")
    assert result.exit_code == 5 and problem in result.stderr


def test_a_gpu_job_never_falls_back_to_the_cpu_unless_allowed(handler, tiny_model, image, tmp_path, monkeypatch):
    """AVGEN_REQUIRE_GPU=1 (a GPU function's job definition) turns `auto` into `cuda`: without a GPU the job
    fails and says how to allow the CPU; AVGEN_ALLOW_CPU=1 (the sandbox on a machine without one) allows it.
    The model is first loaded on the CPU in this process: a warm handler must not hand that CPU model to a
    GPU job."""
    if _has_cuda("onnxruntime"):
        pytest.skip("onnxruntime has CUDA on this machine")
    warmed = handler("yolo", "image", image, tmp_path / "warm", *model_args(tiny_model), "--engine", "onnxruntime")
    assert warmed.exit_code == 0, warmed.stderr
    monkeypatch.setenv("AVGEN_REQUIRE_GPU", "1")
    result = handler("yolo", "image", image, tmp_path / "refused", *model_args(tiny_model), "--engine", "onnxruntime")
    assert result.exit_code == 5 and "no CUDA provider" in result.stderr
    assert "this GPU job refuses the CPU (AVGEN_REQUIRE_GPU=1): set AVGEN_ALLOW_CPU=1 to allow it" in result.stderr
    monkeypatch.setenv("AVGEN_ALLOW_CPU", "1")
    result = handler("yolo", "image", image, tmp_path / "allowed", *model_args(tiny_model), "--engine", "onnxruntime")
    assert result.exit_code == 0, result.stderr
    assert "on CPU (no CUDA provider installed" in result.stderr


@requires_tools("ffmpeg", "ffprobe")
def test_video_stops_cleanly_when_inference_fails_mid_video(tiny_model, clip_with_audio, tmp_path):
    """Reader and writer threads are released and no partial output is left when the engine fails."""
    real = yolo.load_model(*tiny_model)
    calls = []

    class FailingOnThirdFrame:
        name, description, frames_per_run = "failing", "test engine", 1

        def run(self, blob):
            calls.append(blob.shape)
            if len(calls) == 3:
                raise RuntimeError("engine failed")
            return real.engine.run(blob)

    model = yolo.LoadedModel(FailingOnThirdFrame(), real.names, real.input_width, real.input_height)
    with pytest.raises(RuntimeError, match="engine failed"):
        yolo.detect_video(model, clip_with_audio, tmp_path / "o.avi", yolo.DetectionSettings(), timeout_s=60)
    assert list(tmp_path.iterdir()) == [] and len(calls) == 3


@pytest.mark.parametrize("engine", ["opencv", "onnxruntime"])
def test_engine_from_the_functions_environment(handler, image, tmp_path, monkeypatch, engine):
    model = make_yolo_model(tmp_path / "model", "yolov3-tiny", input_size=128, planted=PlantedDetection(class_id=16))
    monkeypatch.setenv("YOLO_ENGINE", engine)
    result = handler("yolo", "image", image, tmp_path / "out", *model_args(model))
    assert result.exit_code == 0, result.stderr
    assert ("OpenCV DNN" if engine == "opencv" else "ONNX Runtime") in result.stderr


def test_without_onnxruntime_the_default_engine_is_opencv(monkeypatch, avgen_log):
    import importlib.util

    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name: None if name == "onnxruntime" else real_find_spec(name))
    assert engines.default_engine() == "opencv"
    assert "onnxruntime or onnx is not installed" in avgen_log.text
    monkeypatch.undo()
    assert engines.default_engine() == "onnxruntime"
