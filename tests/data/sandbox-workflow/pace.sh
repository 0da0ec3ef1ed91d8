#!/bin/sh
# Sleeps as many seconds as its input says, then writes when it started and when it ended (epoch seconds):
# the tests see from them how many invocations ran at once, and which ran again.
set -eu
start=$(date +%s.%N)
sleep "$(head -c 16 "$INPUT_FILE_PATH")"
echo "$start $(date +%s.%N)" > "$TMP_OUTPUT_DIR/$(basename "$INPUT_FILE_PATH")"
