#!/bin/sh
# A Batch job longer than its job definition's timeout (attemptDurationSeconds): Batch stops it.
set -eu
sleep 600
echo "not stopped" > "$TMP_OUTPUT_DIR/overtime-$(basename "$INPUT_FILE_PATH")"
