#!/usr/bin/env bash
# A Docker engine for avgen's image tests and `avgen build --local` on a machine without one (CI): installs
# Debian's docker.io where missing, starts its dockerd (no iptables, no bridge: builds and containers use the
# host network) unless an engine already answers, and makes the base images the examples name from Debian's
# packages, as no registry may be reachable. Prints the variables to use it:
#
#   eval "$(bash scripts/docker_engine.sh)"      # then: avgen build --local --network host …
#
# Bases are made once per machine (the engine keeps them under /var/lib/avgen-docker).
set -euo pipefail
root=/var/lib/avgen-docker
socket=/run/avgen-docker/docker.sock
docker=/usr/bin/docker   # Debian's client: it builds with BuildKit (another `docker` on PATH may lack buildx)
sudo=(); [ "$(id -u)" = 0 ] || sudo=(sudo)

if [ ! -x "$docker" ] || ! command -v dockerd >/dev/null || ! command -v debootstrap >/dev/null; then
  echo "installing docker.io and debootstrap (apt-get)" >&2
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q docker.io debootstrap busybox-static >&2
fi
if ! DOCKER_HOST=unix://$socket "$docker" info >/dev/null 2>&1; then
  echo "starting dockerd ($socket)" >&2
  "${sudo[@]}" mkdir -p "$root" /run/avgen-docker
  "${sudo[@]}" sh -c "nohup dockerd --iptables=false --bridge=none --data-root $root \
    --exec-root /run/avgen-docker/exec --pidfile /run/avgen-docker/dockerd.pid -H unix://$socket \
    > /run/avgen-docker/dockerd.log 2>&1 &"
  for _ in $(seq 60); do DOCKER_HOST=unix://$socket "$docker" info >/dev/null 2>&1 && break; sleep 1; done
  DOCKER_HOST=unix://$socket "$docker" info >/dev/null || { tail /run/avgen-docker/dockerd.log >&2; exit 1; }
fi
export DOCKER_HOST=unix://$socket
have() { "$docker" image inspect "$1" >/dev/null 2>&1; }

# debian:bookworm-slim: the images' builder stage, and the base of the stand-ins below
if ! have debian:bookworm-slim; then
  echo "making debian:bookworm-slim with debootstrap (about a minute)" >&2
  work=$(mktemp -d)
  "${sudo[@]}" debootstrap --variant=minbase bookworm "$work/root" http://deb.debian.org/debian >&2
  "${sudo[@]}" rm -rf "$work/root/var/cache/apt/archives/"*.deb "$work/root/var/lib/apt/lists/"*
  "${sudo[@]}" tar -C "$work/root" -c . | "$docker" import - debian:bookworm-slim >/dev/null
  "${sudo[@]}" rm -rf "$work"
fi
# Stand-ins for SCAR's images (what their scripts need from them; avgen's image adds the rest): the ffmpeg
# image with Debian's ffmpeg, the others plain Debian (avgen's stand-ins replace darknet and audio2srt.py)
standin() {  # NAME [PACKAGES...]
  local name=$1; shift
  have "$name" && return
  echo "making $name (a stand-in: Debian 12${*:+ with $*})" >&2
  local context; context=$(mktemp -d)
  { echo "FROM debian:bookworm-slim"
    [ $# -gt 0 ] && echo "RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $* && rm -rf /var/lib/apt/lists/*"
    echo "LABEL io.avgen.stand-in=\"$name\""; } > "$context/Dockerfile"
  DOCKER_BUILDKIT=1 "$docker" build -q --network host -t "$name" "$context" >/dev/null
  rm -rf "$context"
}
standin jrottenberg/ffmpeg:4.1-ubuntu ffmpeg
standin grycap/audio2srt:mini
standin grycap/yolov3:opencv-cudnn
standin grycap/darknet
# a base with /bin/sh and no C library at all: avgen's runtime must bring its own
if ! have avgen-test/busybox:latest; then
  work=$(mktemp -d)
  mkdir -p "$work/bin" "$work/tmp"
  cp "$(command -v busybox)" "$work/bin/busybox"
  for tool in sh cat cp echo env ls mkdir mv rm sleep; do ln -s busybox "$work/bin/$tool"; done
  tar -C "$work" -c . | "$docker" import - avgen-test/busybox:latest >/dev/null
  rm -rf "$work"
fi
echo "export DOCKER_HOST=$DOCKER_HOST AVGEN_DOCKER=$docker"
