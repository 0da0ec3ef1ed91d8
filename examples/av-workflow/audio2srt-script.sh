#!/bin/sh
# Speech to subtitles: NAME.wav -> NAME.srt
set -eu
name=$(basename "$INPUT_FILE_PATH")
avgen-handler audio2srt "$INPUT_FILE_PATH" "$TMP_OUTPUT_DIR/${name%.*}.srt"
