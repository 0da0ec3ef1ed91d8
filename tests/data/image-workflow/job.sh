#!/bin/sh
# A Batch job in its image: the variables Batch sets, and the job role's credentials (the upload needs them).
set -eu
name=$(basename "$INPUT_FILE_PATH")
{ cat "$INPUT_FILE_PATH"; env | grep -E '^AWS_BATCH_(JOB_ID|JQ_NAME)=' | sed 's/=.*//' | sort; } > "$TMP_OUTPUT_DIR/job-$name"
