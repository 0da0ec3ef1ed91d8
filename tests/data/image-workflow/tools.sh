#!/bin/sh
# On a base without a C library: avgen's static ffmpeg turns a second of tone into a WAV, and the script says
# whether the base has a C library of its own.
set -eu
name=$(basename "$INPUT_FILE_PATH")
ffmpeg -hide_banner -loglevel error -f lavfi -i "sine=frequency=440:duration=1" "$TMP_OUTPUT_DIR/tone-$name.wav"
libc=none
for loader in /lib64/ld-linux-x86-64.so.2 /lib/ld-linux-x86-64.so.2 /lib/ld-musl-x86_64.so.1; do
  [ -e "$loader" ] && libc=$loader
done
printf 'input: %s\nlibc: %s\n' "$(cat "$INPUT_FILE_PATH")" "$libc" > "$TMP_OUTPUT_DIR/tools-$name"
