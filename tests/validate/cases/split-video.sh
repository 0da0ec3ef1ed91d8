#!/bin/sh
# Fixture script for AVG019-pass.yaml: only its existence matters.
ffmpeg -loglevel info -nostats -i "$INPUT_FILE_PATH" -q:v 1 -vf fps=1 "$TMP_OUTPUT_DIR/out%03d.jpg" < /dev/null
