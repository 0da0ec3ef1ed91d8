"""SCAR users' scripts keep their meaning: the seed workflows' scripts, written the way SCAR users write
them (`/bin/sh`, backticks, `${VAR%.*}`, bash-only `[[ ]]` that dash rejects, `cd` into the tool's folder,
`./tool` relative to the image's working folder), run under the runtime with stand-ins for ffmpeg, darknet
and audio2srt, chained from one function's outputs to the next as S3 would trigger them."""
import os
import stat
from pathlib import Path

import pytest

from lambda_src.config import FunctionConfig
from lambda_src.core import run_invocation
from lambda_src.storage import S3Storage
from tests.runtime.conftest import keys, output, s3_event

STUBS = {
    # Writes its last argument, the output file; a %03d pattern becomes three frames.
    "ffmpeg": """#!/bin/sh
for last; do :; done
case "$last" in
  *%03d*) for n in 001 002 003; do echo "frame $n" > "$(echo "$last" | sed "s/%03d/$n/")"; done ;;
  *) echo "ffmpeg output of $2" > "$last" ;;
esac
""",
    # `darknet detect CFG WEIGHTS IMAGE -out NAME` writes NAME.png and prints detections;
    # `darknet detector demo DATA CFG WEIGHTS VIDEO -out_filename FILE -dont_show` writes FILE.
    "darknet": """#!/bin/sh
case "$1" in
  detect) echo "boxes" > "$6.png"; echo "$4: Predicted in 0.1 seconds."; echo "dog: 99%" ;;
  detector) echo "video with boxes" > "$8" ;;
esac
""",
    "audio2srt.py": """#!/bin/sh
[ "$1" = "-i" ] && [ "$3" = "-o" ] || exit 2
printf '1\\n00:00:00,000 --> 00:00:01,000\\nhello\\n' > "$4"
""",
}


@pytest.fixture
def tools(tmp_path, monkeypatch):
    """The image's tools: ffmpeg on PATH, darknet and audio2srt.py in the image's working folder."""
    folder = tmp_path / "image"
    folder.mkdir()
    for name, body in STUBS.items():
        path = folder / name
        path.write_text(body)
        path.chmod(path.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("DARKNET_HOME", str(folder))
    monkeypatch.chdir(folder)  # the image's WORKDIR, which SCAR scripts rely on
    monkeypatch.setenv("AVGEN_SCRIPT_WORKDIR", ".")  # as avgen's images set it: scripts run in that WORKDIR
    return folder


def run_function(script: Path, bucket: str, input_prefix: str, outputs: list[dict], key: str):
    config = FunctionConfig.from_dict({
        "name": script.stem, "inputs": [{"provider": "s3", "bucket": bucket, "prefix": input_prefix}],
        "outputs": outputs}, script=str(script))
    result = run_invocation(config, s3_event(bucket, key), S3Storage(), request_id=f"req-{key}", deadline=None)
    assert result.ok, result
    return result


def test_video_process_split_then_detect(s3, tools, write_script):
    s3.create_bucket(Bucket="scar-video")
    s3.put_object(Bucket="scar-video", Key="input/seq1.avi", Body=b"video")
    split = write_script(
        '#! /bin/sh\n\n'
        'echo "SCRIPT: Splitting $INPUT_FILE_PATH into one image per second in $TMP_OUTPUT_DIR"\n'
        'ffmpeg -loglevel info -nostats -i $INPUT_FILE_PATH -q:v 1 -vf fps=1 $TMP_OUTPUT_DIR/out%03d.jpg < /dev/null\n',
        "split-video.sh")
    detect = write_script(
        '#!/bin/bash\n\n'
        'FILE_NAME=`basename $INPUT_FILE_PATH .jpg`\n'
        'RESULT="$TMP_OUTPUT_DIR/$FILE_NAME.out"\n'
        'OUTPUT_IMAGE="$TMP_OUTPUT_DIR/$FILE_NAME"\n'
        'echo "SCRIPT: Analyzing $INPUT_FILE_PATH into $RESULT and $OUTPUT_IMAGE.png"\n'
        'cd $DARKNET_HOME\n'
        './darknet detect cfg/yolo.cfg yolo.weights $INPUT_FILE_PATH -out $OUTPUT_IMAGE > $RESULT\n',
        "yolo-sample-object-detection.sh")

    run_function(split, "scar-video", "input", [output("split-images", bucket="scar-video")], "input/seq1.avi")
    frames = keys(s3, "scar-video", "split-images/")
    assert frames == ["split-images/out001.jpg", "split-images/out002.jpg", "split-images/out003.jpg"]
    for frame in frames:  # S3 triggers the detection function once per frame
        run_function(detect, "scar-video", "split-images", [output("output", bucket="scar-video")], frame)
    assert keys(s3, "scar-video", "output/") == [f"output/out00{n}.{ext}" for n in (1, 2, 3) for ext in ("out", "png")]
    result = s3.get_object(Bucket="scar-video", Key="output/out002.out")["Body"].read().decode()
    assert "dog: 99%" in result


def test_av_workflow_ffmpeg_then_audio2srt_and_yolov3(s3, tools, write_script):
    bucket = "scar-av-workflow"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="start/my_video.mkv", Body=b"video")
    ffmpeg = write_script(
        '#!/bin/bash\n\n'
        'echo "SCRIPT: Invoked ffmpeg. File available in $INPUT_FILE_PATH"\n'
        'FILE_NAME=`basename "$INPUT_FILE_PATH"`\n'
        'FILE_NAME="${FILE_NAME%.*}"\n'
        'OUTPUT_FILE="$TMP_OUTPUT_DIR/$FILE_NAME"\n'
        'ffmpeg -i "$INPUT_FILE_PATH" -vn -ar 16000 -ac 1 -acodec pcm_s16le "$OUTPUT_FILE.wav"\n'
        # bash syntax under /bin/sh (dash): "[[: not found", so the else branch runs, as under SCAR.
        'if [[ $INPUT_FILE_PATH == *.avi ]]\nthen\n    cp "$INPUT_FILE_PATH" "$OUTPUT_FILE.avi"\n'
        'else\n    ffmpeg -i "$INPUT_FILE_PATH" -f avi -c:v mpeg4 "$OUTPUT_FILE.avi"\nfi\n',
        "ffmpeg-script.sh")
    audio2srt = write_script(
        '#!/bin/bash\n\n'
        'FILE_NAME=`basename "$INPUT_FILE_PATH"`\n'
        'FILE_NAME="${FILE_NAME%.*}"\n'
        'OUTPUT_FILE="$TMP_OUTPUT_DIR/$FILE_NAME"\n'
        './audio2srt.py -i "$INPUT_FILE_PATH" -o "$OUTPUT_FILE.srt" -- -lm en-us.lm.bin -hmm en-us\n',
        "audio2srt-script.sh")
    yolov3 = write_script(
        '#!/bin/bash\n\n'
        'FILE_NAME=`basename "$INPUT_FILE_PATH"`\n'
        'OUTPUT_FILE=$TMP_OUTPUT_DIR/$FILE_NAME\n'
        'cd $DARKNET_HOME\n'
        './darknet detector demo cfg/coco.data cfg/yolov3.cfg yolov3.weights "$INPUT_FILE_PATH" '
        '-out_filename "$OUTPUT_FILE" -dont_show\n',
        "yolov3-script.sh")

    first = run_function(ffmpeg, bucket, "start", [output("video", bucket=bucket, filter_suffix=["avi"]),
                                                  output("audio", bucket=bucket, filter_suffix=["wav"])],
                         "start/my_video.mkv")
    assert "[[: not found" in first.records[0].output_tail
    assert keys(s3, bucket, "video/") == ["video/my_video.avi"]
    assert keys(s3, bucket, "audio/") == ["audio/my_video.wav"]
    run_function(audio2srt, bucket, "audio", [output("result", bucket=bucket)], "audio/my_video.wav")
    run_function(yolov3, bucket, "video", [output("result", bucket=bucket)], "video/my_video.avi")
    assert keys(s3, bucket, "result/") == ["result/my_video.avi", "result/my_video.srt"]
