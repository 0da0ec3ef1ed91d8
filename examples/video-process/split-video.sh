#!/bin/sh
# One JPEG per second of video, best quality: NAME.mp4 -> NNN.jpg
set -eu
avgen-handler ffmpeg split "$INPUT_FILE_PATH" "$TMP_OUTPUT_DIR" --fps 1
