"""SCAR's tool commands on avgen's handlers: `darknet detect|detector test|detector demo` and `audio2srt.py`,
with the command lines of SCAR's scripts, on real weights, a real photo, generated video and speech."""
from __future__ import annotations

import re

import cv2
import pytest

from batch_jobs.handlers import scar_tools
from tests.media import DEFAULT_SENTENCES, make_speech_wav, make_video, requires_tools, streams_of
from tests.speech import parse_srt, whisper_tiny_en

pytestmark = pytest.mark.media
PREDICTED = re.compile(r"^(?P<image>.+): Predicted in (?P<seconds>\d+\.\d{6}) seconds\.$")


@pytest.fixture
def run_tool(capsys):
    """`TOOL ARGS…` (darknet or audio2srt.py) in this process: (exit code, stdout lines, stderr)."""

    def run(*argv):
        capsys.readouterr()
        code = scar_tools.main([str(arg) for arg in argv])
        captured = capsys.readouterr()
        return code, captured.out.splitlines(), captured.err

    return run


@pytest.fixture
def scar_workdir(tmp_path, monkeypatch):
    """A working folder without SCAR's model files (cfg/yolo.cfg, yolo.weights …), as in avgen's images."""
    folder = tmp_path / "work"
    folder.mkdir()
    monkeypatch.chdir(folder)
    for name in ("YOLO_CFG", "YOLO_WEIGHTS", "YOLO_NAMES", "AUDIO2SRT_ENGINE"):
        monkeypatch.delenv(name, raising=False)
    return folder


@pytest.fixture
def astronaut_model(real_tiny_model, monkeypatch):
    """The function's configured model: pjreddie's COCO YOLOv3-tiny at 320×320, where it sees the astronaut
    (test_yolo_real.py says why 320)."""
    cfg, weights, names = real_tiny_model(320)
    monkeypatch.setenv("YOLO_CFG", str(cfg))
    monkeypatch.setenv("YOLO_WEIGHTS", str(weights))
    return cfg, weights, names


def test_darknet_detect_writes_name_png_and_prints_darknets_lines(run_tool, scar_workdir, astronaut_model,
                                                                   real_photos, tmp_path):
    photo = real_photos["astronaut"]
    # yolo-sample-object-detection.sh: ./darknet detect cfg/yolo.cfg yolo.weights $INPUT_FILE_PATH -out NAME > RESULT
    code, lines, err = run_tool("darknet", "detect", "cfg/yolo.cfg", "yolo.weights", photo, "-out", tmp_path / "out001")
    assert code == 0, err
    predicted = PREDICTED.match(lines[0])
    assert predicted and predicted["image"] == str(photo) and float(predicted["seconds"]) < 10
    assert lines[1:] and all(re.fullmatch(r"[a-z ]+: \d{1,3}%", line) for line in lines[1:])  # nothing else
    assert lines[1].startswith("person: ")  # the astronaut
    annotated, original = cv2.imread(str(tmp_path / "out001.png")), cv2.imread(str(photo))
    assert annotated.shape == original.shape and (annotated != original).any()  # the box drawn on the photo
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out001.png", "work"]


def test_darknet_detect_without_out_writes_predictions_png(run_tool, scar_workdir, astronaut_model, real_photos):
    code, _lines, err = run_tool("darknet", "detect", "cfg/yolov3.cfg", "yolov3.weights", real_photos["astronaut"])
    assert code == 0, err
    assert (scar_workdir / "predictions.png").is_file()  # darknet's own default name, in the working folder


def test_darknet_detector_test_reads_the_names_of_a_data_file_that_exists(run_tool, scar_workdir, astronaut_model,
                                                                          real_photos, tmp_path):
    _, _, names = astronaut_model
    (scar_workdir / "cfg").mkdir()
    (scar_workdir / "data").mkdir()
    renamed = names.read_text().replace("person\n", "spacewoman\n", 1)
    (scar_workdir / "data" / "coco.names").write_text(renamed)
    (scar_workdir / "cfg" / "coco.data").write_text("classes = 80\nnames = data/coco.names\n")
    code, lines, err = run_tool("darknet", "detector", "test", "cfg/coco.data", "cfg/yolov3.cfg", "yolov3.weights",
                                real_photos["astronaut"], "-thresh", "0.25", "-out", tmp_path / "tested")
    assert code == 0, err
    assert lines[1].startswith("spacewoman: ") and (tmp_path / "tested.png").is_file()


@requires_tools("ffmpeg", "ffprobe")
def test_darknet_detector_demo_writes_the_video_with_boxes(run_tool, scar_workdir, tiny_model, tmp_path, monkeypatch):
    cfg, weights, names = tiny_model  # detects one dog in every frame
    for name, path in (("YOLO_CFG", cfg), ("YOLO_WEIGHTS", weights), ("YOLO_NAMES", names)):
        monkeypatch.setenv(name, str(path))
    video = make_video(tmp_path / "my_video.avi", seconds=2, fps=5, with_audio=False)
    output = tmp_path / "out" / "my_video.avi"
    output.parent.mkdir()
    # yolov3-script.sh's command line, unchanged
    code, lines, err = run_tool("darknet", "detector", "demo", "cfg/coco.data", "cfg/yolov3.cfg", "yolov3.weights",
                                video, "-out_filename", output, "-dont_show")
    assert code == 0, err
    [stream] = streams_of(output, "video")
    assert stream["codec_name"] == "mpeg4" and int(stream["nb_frames"]) == 10
    assert [p.name for p in output.parent.iterdir()] == ["my_video.avi"]  # only what darknet writes
    assert lines == [f"video file: {video}", "Video stream stop!"]


def test_darknet_commands_it_does_not_run_fail_in_one_line(run_tool, scar_workdir, astronaut_model):
    for argv, message in [
        (["classifier", "predict", "a", "b", "c"], "Not an option: classifier"),
        (["detector", "train", "a", "b", "c"], "darknet detector train: not an option"),
        (["detect", "c", "w", "img.jpg", "-letter_box"], "option -letter_box is not supported"),
        (["detector", "demo", "d", "c", "w", "v.mp4", "-dont_show"], "needs -out_filename"),
        (["detect", "c", "w"], "usage: darknet detect CFG WEIGHTS IMAGE"),
    ]:
        code, lines, err = run_tool("darknet", *argv)
        assert code == scar_tools.DARKNET_USAGE_EXIT == 1 and not lines
        assert err.count("\n") == 1 and err.startswith("darknet: ") and message in err, err


def test_darknet_without_configured_weights_says_which_variable_to_set(run_tool, scar_workdir, real_photos):
    code, _, err = run_tool("darknet", "detect", "cfg/yolov3.cfg", "yolov3.weights", real_photos["astronaut"])
    assert code == 4  # avgen-handler's "model file problem"
    assert "yolov3.weights are not here and YOLO_WEIGHTS is not set" in err
    code, _, err = run_tool("darknet", "detect", "cfg/yolo.cfg", "yolo.weights", real_photos["astronaut"])
    assert code == 4 and "cfg/yolo.cfg is not here and YOLO_CFG is not set" in err


@pytest.fixture(scope="module")
def spoken(tmp_path_factory):
    path = tmp_path_factory.mktemp("spoken") / "my_video.wav"
    make_speech_wav(path, DEFAULT_SENTENCES[:1], pause_ms=400)
    return path


@requires_tools("ffmpeg", "ffprobe", "espeak-ng")
def test_audio2srt_py_on_whisper_ignores_pocketsphinx_options_with_a_log_line(run_tool, scar_workdir, spoken,
                                                                                tmp_path, monkeypatch):
    monkeypatch.setenv("WHISPER_MODEL", str(whisper_tiny_en()))
    # audio2srt-script.sh's command line, unchanged
    code, lines, err = run_tool("audio2srt.py", "-i", spoken, "-o", tmp_path / "my_video.srt", "--",
                                "-lm", "en-us.lm.bin", "-hmm", "en-us")
    assert code == 0, err
    assert not lines  # grycap's audio2srt.py prints no file names
    assert "ignoring the pocketsphinx options -lm en-us.lm.bin -hmm en-us: the engine is whisper" in err
    [cue] = parse_srt((tmp_path / "my_video.srt").read_text())
    assert "lazy dog" in cue.text


@requires_tools("ffmpeg", "ffprobe", "espeak-ng")
def test_audio2srt_py_on_pocketsphinx_passes_its_options(run_tool, scar_workdir, spoken, tmp_path, monkeypatch):
    monkeypatch.setenv("AUDIO2SRT_ENGINE", "pocketsphinx")
    code, _, err = run_tool("audio2srt.py", "-i", spoken, "-o", tmp_path / "my_video.srt", "--",
                            "-lm", "en-us.lm.bin", "-hmm", "en-us")
    assert code == 0, err
    # SCAR's image had these files in its working folder; here they are the same model from the wheel
    assert "pocketsphinx -lm en-us.lm.bin: not here, using the same model from the pocketsphinx wheel" in err
    assert len(parse_srt((tmp_path / "my_video.srt").read_text())) == 1
    code, _, err = run_tool("audio2srt.py", "-i", spoken, "-o", tmp_path / "x.srt", "--", "-lm", "mine.lm.bin")
    assert code == 4 and "pocketsphinx -lm mine.lm.bin: no such file or folder" in err
    code, _, err = run_tool("audio2srt.py", "-i", spoken, "-o", tmp_path / "x.srt", "--", "-nosuchoption", "1")
    assert code == 2 and "pocketsphinx does not know the option" in err
