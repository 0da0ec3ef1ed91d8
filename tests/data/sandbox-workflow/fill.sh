#!/bin/sh
# Writes 700 MB into its /tmp (TMPDIR) of 512 MB, and says whether the write was refused.
set -u
name=$(basename "$INPUT_FILE_PATH")
if said=$(head -c 700M /dev/zero 2>&1 > "$TMPDIR/fill"); then said=wrote; fi
rm -f "$TMPDIR/fill"
echo "$said" > "$TMP_OUTPUT_DIR/fill-$name"
