#!/bin/sh
# Longer than the function's Lambda time: the runtime must hand it over to Batch, which finishes it once.
set -eu
if [ -n "${AWS_BATCH_JOB_ID:-}" ]; then where=Batch; else where=Lambda; fi
name=$(basename "$INPUT_FILE_PATH")
echo "partial on $where" > "$TMP_OUTPUT_DIR/partial-$name"
sleep 4
echo "finished on $where" > "$TMP_OUTPUT_DIR/slow-$name"
