#!/bin/sh
# Split an uploaded video into what the next two functions need:
# the audio as 16 kHz mono WAV (for audio2srt) and the video as AVI (for YOLOv3).
# A video without sound gives no WAV (--missing-ok) and still goes on to YOLOv3.
set -eu
name=$(basename "$INPUT_FILE_PATH")
stem=${name%.*}
avgen-handler ffmpeg audio "$INPUT_FILE_PATH" "$TMP_OUTPUT_DIR/$stem.wav" --missing-ok
avgen-handler ffmpeg avi "$INPUT_FILE_PATH" "$TMP_OUTPUT_DIR/$stem.avi"
