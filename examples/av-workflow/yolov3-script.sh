#!/bin/sh
# Object detection on every frame: NAME.avi -> NAME.avi with labelled boxes.
# The model comes from YOLO_CFG / YOLO_WEIGHTS (see the workflow's container environment).
set -eu
name=$(basename "$INPUT_FILE_PATH")
avgen-handler yolo video "$INPUT_FILE_PATH" "$TMP_OUTPUT_DIR/${name%.*}.avi"
