#!/bin/sh
# Runs as a Batch job: says where it ran and with which job id.
set -eu
name=$(basename "$INPUT_FILE_PATH")
{ cat "$INPUT_FILE_PATH"; echo "stamped by job ${AWS_BATCH_JOB_ID:-none}"; } > "$TMP_OUTPUT_DIR/${name%.*}.stamped.txt"
