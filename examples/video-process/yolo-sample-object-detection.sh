#!/bin/sh
# Object detection on one image: NNN.jpg -> NNN.out (detections as text) + NNN.png (labelled boxes)
set -eu
# One image per process: --low-memory skips OpenCV's Winograd weight transform, which only pays off over
# many frames (faster here, and YOLOv3 fits 1024 MB); with the onnxruntime engine it changes little.
avgen-handler yolo image "$INPUT_FILE_PATH" "$TMP_OUTPUT_DIR" --low-memory
