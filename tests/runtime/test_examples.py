"""The seed examples, as the generator resolves them, run under the runtime with the real media handlers:
each function gets the configuration Terraform would give it, and every object a function writes goes to
the functions its key triggers, as S3 would. (The Batch-mode functions run as their Batch job does.)"""
from pathlib import Path

import pytest

from generator.verbs.localrun import Limits, LocalRunner
from generator.workflow.load import load_workflow
from lambda_src.storage import S3Storage
from tests.media import make_video, make_yolo_model, requires_tools
from tests.runtime.conftest import keys
from tests.speech import whisper_tiny_en

pytestmark = [pytest.mark.media, requires_tools("ffmpeg", "ffprobe")]
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def run_workflow(s3, name: str, key: str, media: Path, environment: dict[str, str]) -> list[str]:
    """Upload `media` at `key` of the workflow's bucket and follow the triggers, as S3 would (the local
    runner does the following); returns the functions run, in order."""
    workflow = load_workflow(EXAMPLES / name / "workflow.yaml").workflow
    for bucket in workflow.buckets:
        s3.create_bucket(Bucket=bucket.name)
    bucket = workflow.functions[0].inputs[0].bucket
    report = LocalRunner(workflow, S3Storage(), environment=environment, limits=Limits(workers=1)
                         ).run([(media, bucket, key)])
    assert report.ok, [(i.function, i.status, i.reason, i.output_tail) for i in report.failures]
    return [invocation.function for invocation in report.invocations]


@pytest.fixture
def tiny_yolo(tmp_path):
    cfg, weights, names = make_yolo_model(tmp_path / "model", "yolov3-tiny", input_size=128)
    return {"YOLO_CFG": str(cfg), "YOLO_WEIGHTS": str(weights), "YOLO_NAMES": str(names)}


def test_av_workflow(s3, tmp_path, tiny_yolo):
    video = make_video(tmp_path / "my_video.mkv", seconds=2, fps=5)
    whisper_model = {"WHISPER_MODEL": str(whisper_tiny_en())}  # where the image would have it baked in
    ran = run_workflow(s3, "av-workflow", "start/my_video.mkv", video, {**tiny_yolo, **whisper_model})
    assert sorted(ran) == ["av-workflow-audio2srt", "av-workflow-ffmpeg", "av-workflow-yolov3"]
    bucket = "change-me-av-workflow"
    assert keys(s3, bucket, "video/") == ["video/my_video.avi"]
    assert keys(s3, bucket, "audio/") == ["audio/my_video.wav"]
    assert keys(s3, bucket, "result/") == ["result/my_video.avi", "result/my_video.srt"]


def test_video_process(s3, tmp_path, tiny_yolo):
    video = make_video(tmp_path / "seq1.avi", seconds=2, fps=5, with_audio=False)
    ran = run_workflow(s3, "video-process", "input/seq1.avi", video, tiny_yolo)
    frames = keys(s3, "change-me-video-process", "split-images/")
    assert len(frames) == 2 and all(frame.endswith(".jpg") for frame in frames)
    assert ran == ["video-process-split"] + ["video-process-darknet"] * len(frames)
    stems = [Path(frame).stem for frame in frames]
    assert keys(s3, "change-me-video-process", "output/") == sorted(
        f"output/{stem}.{ext}" for stem in stems for ext in ("out", "png"))
