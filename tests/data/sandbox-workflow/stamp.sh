#!/bin/sh
# Runs as a Batch job: says where it ran, with which job id, attempt, queue and compute environment.
set -eu
name=$(basename "$INPUT_FILE_PATH")
case "$name" in states-*) sleep 2 ;; esac  # long enough to be seen RUNNING
{ cat "$INPUT_FILE_PATH"; echo "stamped by job ${AWS_BATCH_JOB_ID:-none}"
  echo "attempt ${AWS_BATCH_JOB_ATTEMPT:-none} queue ${AWS_BATCH_JQ_NAME:-none} environment ${AWS_BATCH_CE_NAME:-none}"
} > "$TMP_OUTPUT_DIR/${name%.*}.stamped.txt"
