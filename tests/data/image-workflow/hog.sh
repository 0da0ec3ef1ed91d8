#!/bin/sh
# Allocates far more than its function's 128 MB (with the only Python there is, avgen's): killed, as on Lambda.
set -eu
/opt/avgen/python/bin/python3 -I -c "x = bytearray(600 * 2**20); x[::4096] = b'x' * len(x[::4096])"
cp "$INPUT_FILE_PATH" "$TMP_OUTPUT_DIR/hog-$(basename "$INPUT_FILE_PATH")"
