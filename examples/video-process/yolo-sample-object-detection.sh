#!/bin/sh
# Object detection on one image: NNN.jpg -> NNN.out (detections as text) + NNN.png (labelled boxes)
set -eu
avgen-handler yolo image "$INPUT_FILE_PATH" "$TMP_OUTPUT_DIR"
