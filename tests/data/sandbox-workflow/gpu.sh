#!/bin/sh
# A job that asks for a GPU: says which devices it was given.
set -eu
name=$(basename "$INPUT_FILE_PATH")
echo "CUDA_VISIBLE_DEVICES=${CUDA_VISIBLE_DEVICES-unset}" > "$TMP_OUTPUT_DIR/gpu-$name"
