#!/usr/bin/env bash
# Prepare the local test hosts: a running Docker engine and the systemd base images.
#
#   scripts/test-hosts.sh engine          install (if needed) and start a Docker engine, wait for it
#   scripts/test-hosts.sh image debian12  build flaskops/debian12-systemd unless an image of the same recipe exists
#   scripts/test-hosts.sh image-ssh debian12
#                                         the same with an OpenSSH server (images/debian-systemd-ssh), built on top
#                                         of it as flaskops/debian12-systemd-ssh, for the benchmarks over SSH
#                                         (bench/release.sh); no keys in it: see its Dockerfile
#   scripts/test-hosts.sh judge-tools     the controller's tools of the judges scenario: node and npm (Debian's nodejs,
#                                         npm) for the MDN HTTP Observatory (tests/judges/observatory.sh)
#   scripts/test-hosts.sh all             engine + debian12 + debian13 + judge-tools
#
# Each image carries the hash of its recipe in the label org.flaskops.recipe and is rebuilt only when that changes.
# The SSH variant's recipe is both Dockerfiles and the recipe hash of the image it is built on (its image id when that
# image has no label), so a new base image rebuilds it.
#
# Environment:
#   FLASKOPS_IMAGE_DEBIAN12 / FLASKOPS_IMAGE_DEBIAN13
#       use this image (e.g. from your own registry) instead of building one; it is pulled when missing.
#       image-ssh builds on it.
#   FLASKOPS_IMAGE_DEBIAN12_SSH / FLASKOPS_IMAGE_DEBIAN13_SSH
#       use this image with sshd instead of building the SSH variant; it is pulled when missing.
#   FLASKOPS_EXTRA_CA_DIR   (default: /usr/local/share/ca-certificates)
#       every *.crt below it is copied into the image and trusted there (update-ca-certificates).
#       Needed behind a TLS-intercepting proxy, or pip inside the hosts fails with CERTIFICATE_VERIFY_FAILED.
#       Set it to an empty string to build an image without extra CAs.
#   FLASKOPS_DEBIAN_MIRROR  (default: http://deb.debian.org/debian)
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
mirror=${FLASKOPS_DEBIAN_MIRROR:-http://deb.debian.org/debian}
ca_dir=${FLASKOPS_EXTRA_CA_DIR-/usr/local/share/ca-certificates}

log() { printf '[test-hosts] %s\n' "$*" >&2; }

engine_ok() { docker info >/dev/null 2>&1; }

apt_install() {
  if [ ! -f /var/lib/apt/periodic/flaskops-updated ] || [ -z "$(find /var/lib/apt/lists -maxdepth 1 -name '*Packages*' -print -quit 2>/dev/null)" ]; then
    apt-get update -qq
    mkdir -p /var/lib/apt/periodic && touch /var/lib/apt/periodic/flaskops-updated
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

engine() {
  if engine_ok; then log "Docker engine answers"; return 0; fi
  if ! command -v dockerd >/dev/null 2>&1; then
    [ "$(id -u)" = 0 ] || { log "no Docker engine and not root: install docker.io yourself"; exit 1; }
    log "installing Debian's docker.io"
    apt_install docker.io iptables ca-certificates
  fi
  if ! engine_ok; then
    log "starting dockerd in the background (log: /var/log/flaskops-dockerd.log)"
    if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
      systemctl start docker || true
    fi
    if ! engine_ok; then
      nohup setsid dockerd >/var/log/flaskops-dockerd.log 2>&1 </dev/null &
    fi
    for _ in $(seq 1 60); do engine_ok && break; sleep 1; done
  fi
  engine_ok || { log "dockerd did not come up; see /var/log/flaskops-dockerd.log"; tail -20 /var/log/flaskops-dockerd.log >&2 || true; exit 1; }
  log "Docker engine is up"
}

suite_of() {
  case "$1" in
    debian12) echo bookworm ;;
    debian13) echo trixie ;;
    *) log "unknown distribution $1 (debian12, debian13)"; exit 2 ;;
  esac
}

# The recipe hash: everything that goes into the image.
recipe_hash() {
  local dist=$1
  {
    echo "$dist $(suite_of "$dist") $mirror"
    cat "$here/images/debian-systemd/Dockerfile"
    if [ -n "$ca_dir" ] && [ -d "$ca_dir" ]; then
      find "$ca_dir" -name '*.crt' -type f | sort | xargs -r cat
    fi
  } | sha256sum | cut -c1-12
}

image() {
  local dist=$1 var override suite hash tag ctx rootfs
  var="FLASKOPS_IMAGE_$(echo "$dist" | tr '[:lower:]' '[:upper:]')"
  override=${!var:-}
  if [ -n "$override" ]; then
    docker image inspect "$override" >/dev/null 2>&1 || docker pull "$override"
    log "using $override for $dist (from $var)"
    return 0
  fi
  suite=$(suite_of "$dist")
  hash=$(recipe_hash "$dist")
  tag="flaskops/${dist}-systemd"
  if [ "$(docker image inspect -f '{{ index .Config.Labels "org.flaskops.recipe" }}' "$tag:latest" 2>/dev/null || true)" = "$hash" ]; then
    log "$tag:latest is up to date (recipe $hash)"
    return 0
  fi
  command -v debootstrap >/dev/null 2>&1 || apt_install debootstrap
  ctx=$(mktemp -d)
  trap 'rm -rf "$ctx"' RETURN
  if ! docker image inspect "flaskops/${dist}-base:latest" >/dev/null 2>&1; then
    rootfs="$ctx/rootfs"
    log "debootstrap $suite (minbase) from $mirror"
    debootstrap --variant=minbase "$suite" "$rootfs" "$mirror" >"$ctx/debootstrap.log" 2>&1 \
      || { tail -30 "$ctx/debootstrap.log" >&2; exit 1; }
    rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
    tar -C "$rootfs" -c . | docker import - "flaskops/${dist}-base:latest" >/dev/null
    rm -rf "$rootfs"
  fi
  mkdir -p "$ctx/ca"
  if [ -n "$ca_dir" ] && [ -d "$ca_dir" ]; then
    find "$ca_dir" -name '*.crt' -type f -exec cp {} "$ctx/ca/" \;
  fi
  cp "$here/images/debian-systemd/Dockerfile" "$ctx/Dockerfile"
  log "building $tag (recipe $hash, $(find "$ctx/ca" -name '*.crt' | wc -l) extra CA certificates)"
  docker build -q --build-arg "BASE=flaskops/${dist}-base:latest" --label "org.flaskops.recipe=$hash" \
    -t "$tag:latest" "$ctx" >/dev/null
  log "built $tag:latest"
}

# The SSH variant: openssh-server on top of the systemd image of the distribution (built first when needed).
image_ssh() {
  local dist=$1 var override base_var base base_hash hash tag ctx
  var="FLASKOPS_IMAGE_$(echo "$dist" | tr '[:lower:]' '[:upper:]')_SSH"
  override=${!var:-}
  if [ -n "$override" ]; then
    docker image inspect "$override" >/dev/null 2>&1 || docker pull "$override"
    log "using $override for $dist with sshd (from $var)"
    return 0
  fi
  image "$dist"
  base_var="FLASKOPS_IMAGE_$(echo "$dist" | tr '[:lower:]' '[:upper:]')"
  base=${!base_var:-flaskops/${dist}-systemd:latest}
  base_hash=$(docker image inspect -f '{{ index .Config.Labels "org.flaskops.recipe" }}' "$base" 2>/dev/null || true)
  [ -n "$base_hash" ] || base_hash=$(docker image inspect -f '{{ .Id }}' "$base")
  hash=$({
    echo "$dist ssh $base $base_hash"
    cat "$here/images/debian-systemd/Dockerfile" "$here/images/debian-systemd-ssh/Dockerfile"
  } | sha256sum | cut -c1-12)
  tag="flaskops/${dist}-systemd-ssh"
  if [ "$(docker image inspect -f '{{ index .Config.Labels "org.flaskops.recipe" }}' "$tag:latest" 2>/dev/null || true)" = "$hash" ]; then
    log "$tag:latest is up to date (recipe $hash)"
    return 0
  fi
  ctx=$(mktemp -d)
  trap 'rm -rf "$ctx"' RETURN
  cp "$here/images/debian-systemd-ssh/Dockerfile" "$ctx/Dockerfile"
  log "building $tag on $base (recipe $hash)"
  docker build -q --build-arg "BASE=$base" --label "org.flaskops.recipe=$hash" -t "$tag:latest" "$ctx" >/dev/null
  log "built $tag:latest"
}

judge_tools() {
  if command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then return 0; fi
  [ "$(id -u)" = 0 ] || { log "node and npm are missing and this is not root: apt-get install nodejs npm"; exit 1; }
  log "installing Debian's nodejs and npm (the Observatory of the judges scenario)"
  apt_install nodejs npm
}

case "${1:-all}" in
  engine) engine ;;
  judge-tools) judge_tools ;;
  image) engine; image "${2:?distribution}" ;;
  image-ssh) engine; image_ssh "${2:?distribution}" ;;
  all) engine; image debian12; image debian13; judge_tools ;;
  *) echo "usage: $0 engine|image DIST|image-ssh DIST|judge-tools|all" >&2; exit 2 ;;
esac
