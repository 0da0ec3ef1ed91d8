#!/bin/sh
# Copies Debian's Python, its standard library and every shared library they load, the C library and its
# loader included, into PREFIX, and points the interpreter at that loader and those libraries: the result runs
# on any x86_64 Linux base image, whatever its C library (an old Ubuntu's glibc 2.23, or none at all).
# Run in the image's builder stage (Debian 12, with python3 and patchelf installed).
set -eu
prefix=$1
python=$(readlink -f /usr/bin/python3)
version=$(basename "$python")                              # python3.11
mkdir -p "$prefix/bin" "$prefix/lib"
cp "$python" "$prefix/bin/$version"
ln -sf "$version" "$prefix/bin/python3"
cp -a "/usr/lib/$version" "$prefix/lib/$version"
rm -rf "$prefix/lib/$version/test" "$prefix/lib/$version/idlelib" "$prefix/lib/$version/tkinter" \
       "$prefix/lib/$version/lib-dynload/_tkinter"*
mkdir -p "$prefix/lib/python3/dist-packages"               # Debian's Python looks for packages here
loader=/lib64/ld-linux-x86-64.so.2
# What the interpreter and its extension modules load, plus what manylinux wheels expect the system to have
# (libstdc++, libgcc_s and glibc's parts): loaded at start from $prefix/lib, so that a wheel's own lookups,
# which ignore the interpreter's search path, find them already there instead of the base image's.
preload="libstdc++.so.6 libgcc_s.so.1 libpthread.so.0 libdl.so.2 librt.so.1 libutil.so.1 libresolv.so.2"
{
  for object in "$prefix/bin/$version" "$prefix/lib/$version/lib-dynload/"*.so; do
    ldd "$object" | awk '$2 == "=>" && $3 ~ /^\// { print $3 }'
  done
  for name in $preload; do ldconfig -p | awk -v n="$name" '$1 == n && /x86-64/ { print $NF; exit }'; done
  dpkg -L libc6 | grep -E '^/(usr/)?lib/x86_64-linux-gnu/[^/]+\.so(\.[0-9]+)*$'   # all of glibc (libmvec, ...)
} | sort -u | while read -r library; do cp -L "$library" "$prefix/lib/"; done
cp -L "$loader" "$prefix/lib/ld-linux-x86-64.so.2"
# three calls: patchelf 0.14 (Debian 12's) writes a wrong RPATH when one call also adds NEEDED entries
for name in $preload; do patchelf --add-needed "$name" "$prefix/bin/$version"; done
patchelf --set-interpreter "$prefix/lib/ld-linux-x86-64.so.2" "$prefix/bin/$version"
patchelf --force-rpath --set-rpath "$prefix/lib" "$prefix/bin/$version"
