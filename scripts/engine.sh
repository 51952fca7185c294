#!/usr/bin/env bash
# The project's own real Docker Engine (embedded BuildKit) + buildx, for tests and the demo.
#
#   scripts/engine.sh up     download (once), start the daemon, import base images; idempotent
#   scripts/engine.sh env    print the DOCKER_HOST=... DOCKER_CONFIG=... lines to eval
#   scripts/engine.sh down   stop exactly the daemon this script started (by its pid)
#   scripts/engine.sh status say whether it runs
#
# Everything lives under $CACHETRACE_ENGINE_DIR (default: <repo>/.engine, ignored by git).
# It never touches the machine's own Docker config, apt sources or a daemon it did not start.
# Facts behind it: Debian's newer suites carry dockerd/buildx builds that run on Debian 12
# when extracted (not installed); bookworm's runc is used (the newer runc needs glibc 2.38).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
STATE=${CACHETRACE_ENGINE_DIR:-$HERE/.engine}
PREFIX=$STATE/prefix
CONF=$STATE/docker-config
# Unix socket paths are limited to 108 bytes and containerd nests its sockets deep under the
# exec root, so sockets live under a short per-state directory in /run, not under $STATE.
RUNDIR=/run/cachetrace-$(printf '%s' "$STATE" | sha256sum | cut -c1-12)
SOCK=$RUNDIR/docker.sock
PIDFILE=$STATE/docker.pid
BRIDGE=${CACHETRACE_ENGINE_BRIDGE:-ctbr0}
BRIDGE_CIDR=${CACHETRACE_ENGINE_BRIDGE_CIDR:-172.29.0.1/16}
SUITES=${CACHETRACE_ENGINE_SUITES:-"forky trixie"}
MIRROR=${CACHETRACE_DEBIAN_MIRROR:-http://deb.debian.org/debian}
GO_SUITE=trixie
GO_PKG=golang-1.24

log() { printf 'engine: %s\n' "$*" >&2; }
die() { printf 'engine: error: %s\n' "$*" >&2; exit 1; }

env_lines() {
  printf 'export DOCKER_HOST=unix://%s\n' "$SOCK"
  printf 'export DOCKER_CONFIG=%s\n' "$CONF"
  printf 'export PATH=%s/usr/bin:%s/usr/sbin:$PATH\n' "$PREFIX" "$PREFIX"
}

dk() { DOCKER_HOST=unix://$SOCK DOCKER_CONFIG=$CONF "$PREFIX/usr/bin/docker" "$@"; }

running() {
  [ -f "$PIDFILE" ] || return 1
  local pid; pid=$(cat "$PIDFILE" 2>/dev/null) || return 1
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && grep -q dockerd "/proc/$pid/cmdline" 2>/dev/null
}

host_packages() {
  local need=()
  [ -x /usr/sbin/runc ] || need+=(runc)
  command -v ip >/dev/null || need+=(iproute2)
  command -v file >/dev/null || need+=(file)
  command -v xz >/dev/null || need+=(xz-utils)
  command -v zstd >/dev/null || need+=(zstd)
  if [ ${#need[@]} -gt 0 ]; then
    log "installing host packages: ${need[*]}"
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  fi
}

# apt-get on a private state dir for one suite; the system's sources stay untouched.
apt_suite() {
  local suite=$1; shift
  local A=$STATE/apt/$suite
  mkdir -p "$A/lists/partial" "$A/cache/archives/partial"
  echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $MIRROR $suite main" >"$A/sources.list"
  apt-get -o Dir::Etc::SourceList="$A/sources.list" -o Dir::Etc::SourceParts=/dev/null \
    -o Dir::State::Lists="$A/lists" -o Dir::Cache="$A/cache" -o Dir::State::status=/dev/null \
    -o Debug::NoLocking=1 "$@"
}

download_suite() {  # suite dest packages...
  local suite=$1 dest=$2; shift 2
  mkdir -p "$dest"
  apt_suite "$suite" update -qq >/dev/null 2>&1 || return 1
  (cd "$dest" && apt_suite "$suite" download -qq "$@" >/dev/null 2>&1) || return 1
}

max_glibc() {  # highest GLIBC_x.y a binary needs ("" when it cannot tell)
  { objdump -T "$1" 2>/dev/null || true; } | { grep -o 'GLIBC_[0-9.]*' || true; } \
    | sed 's/GLIBC_//' | sort -V | tail -n1
}

install_engine() {
  [ -x "$PREFIX/usr/sbin/dockerd" ] && [ -x "$CONF/cli-plugins/docker-buildx" ] && return 0
  local have_glibc; have_glibc=$(getconf GNU_LIBC_VERSION | awk '{print $2}')
  local suite
  for suite in $SUITES; do
    log "downloading docker.io, docker-cli, docker-buildx, containerd from Debian $suite"
    local debs=$STATE/debs/$suite
    rm -rf "$debs"
    if ! download_suite "$suite" "$debs" docker.io docker-cli docker-buildx containerd; then
      log "Debian $suite: download failed, trying the next suite"; continue
    fi
    local tmp=$STATE/prefix.tmp
    rm -rf "$tmp"; mkdir -p "$tmp"
    for d in "$debs"/*.deb; do dpkg-deb -x "$d" "$tmp"; done
    rm -f "$tmp/usr/sbin/runc" "$tmp/usr/bin/runc"
    local need; need=$(max_glibc "$tmp/usr/sbin/dockerd")
    if [ -n "$need" ] && [ "$(printf '%s\n%s\n' "$need" "$have_glibc" | sort -V | tail -n1)" != "$have_glibc" ]; then
      log "Debian $suite: dockerd needs glibc $need, this machine has $have_glibc; trying the next suite"
      continue
    fi
    rm -rf "$PREFIX"; mv "$tmp" "$PREFIX"
    echo "$suite" >"$STATE/suite"
    mkdir -p "$CONF/cli-plugins"
    cp "$PREFIX/usr/libexec/docker/cli-plugins/docker-buildx" "$CONF/cli-plugins/"
    ls "$debs" >"$STATE/packages.txt"
    return 0
  done
  die "no Debian suite in '$SUITES' gave a Docker Engine that runs here"
}

ensure_bridge() {
  if ! ip link show "$BRIDGE" >/dev/null 2>&1; then
    ip link add "$BRIDGE" type bridge
    ip addr add "$BRIDGE_CIDR" dev "$BRIDGE"
  fi
  ip link set "$BRIDGE" up
}

start_daemon() {
  running && return 0
  mkdir -p "$STATE/root" "$RUNDIR/exec"
  cat >"$STATE/daemon.json" <<JSON
{"iptables": false, "ip6tables": false, "features": {"containerd-snapshotter": true}, "bridge": "$BRIDGE"}
JSON
  rm -f "$SOCK"
  log "starting dockerd (socket $SOCK)"
  PATH=$PREFIX/usr/bin:$PREFIX/usr/sbin:/usr/sbin:/usr/bin:/sbin:/bin \
    setsid nohup "$PREFIX/usr/sbin/dockerd" --config-file "$STATE/daemon.json" \
    --data-root "$STATE/root" --exec-root "$RUNDIR/exec" --host "unix://$SOCK" \
    --pidfile "$PIDFILE" >"$STATE/dockerd.log" 2>&1 </dev/null 9>&- &
  local i
  for i in $(seq 1 120); do
    if dk version >/dev/null 2>&1; then return 0; fi
    sleep 0.5
  done
  tail -n 20 "$STATE/dockerd.log" >&2 || true
  die "dockerd did not answer within 60 s (log: $STATE/dockerd.log)"
}

has_image() { dk image inspect "$1" >/dev/null 2>&1; }

busybox_rootfs() {  # dest
  local dest=$1 debs=$STATE/debs/busybox
  if ! ls "$debs"/busybox-static_*.deb >/dev/null 2>&1; then
    download_suite bookworm "$debs" busybox-static || die "cannot download busybox-static"
  fi
  mkdir -p "$dest"
  dpkg-deb -x "$debs"/busybox-static_*.deb "$dest"
  mkdir -p "$dest/bin" "$dest/sbin" "$dest/usr/bin" "$dest/usr/sbin" "$dest/tmp" "$dest/root" "$dest/etc"
  chmod 1777 "$dest/tmp"
  chroot "$dest" /bin/busybox --install -s
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$dest/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' >"$dest/etc/group"
}

ensure_images() {
  if ! has_image busybox:local; then
    log "importing busybox:local"
    local r=$STATE/rootfs/busybox; rm -rf "$r"
    busybox_rootfs "$r"
    tar -C "$r" -c . | dk import --platform linux/amd64 \
      --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
      --change 'ENV HOME=/root' - busybox:local >/dev/null
  fi
  if ! has_image golang:local; then
    log "importing golang:local (Go from Debian $GO_SUITE ${GO_PKG}-go)"
    local debs=$STATE/debs/go
    if ! ls "$debs"/${GO_PKG}-go_*.deb >/dev/null 2>&1; then
      download_suite "$GO_SUITE" "$debs" ${GO_PKG}-go ${GO_PKG}-src || die "cannot download $GO_PKG"
    fi
    local r=$STATE/rootfs/go; rm -rf "$r"
    busybox_rootfs "$r"
    for d in "$debs"/*.deb; do dpkg-deb -x "$d" "$r"; done
    local gobins=("$r"/usr/lib/go-*/bin); local gobin=${gobins[0]#"$r"}
    tar -C "$r" -c . | dk import --platform linux/amd64 \
      --change "ENV PATH=$gobin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
      --change 'ENV HOME=/root' --change 'ENV CGO_ENABLED=0' --change 'ENV GOTOOLCHAIN=local' \
      --change 'ENV GOFLAGS=-buildvcs=false' - golang:local >/dev/null
  fi
}

versions() {
  printf 'engine: Debian suite %s\n' "$(cat "$STATE/suite" 2>/dev/null || echo '?')"
  printf 'engine: %s\n' "$(dk version --format 'docker {{.Server.Version}} (client {{.Client.Version}})' 2>/dev/null)"
  printf 'engine: %s\n' "$(dk buildx version 2>/dev/null)"
}

cmd_up() {
  [ "$(id -u)" = 0 ] || die "needs root (a bridge and dockerd)"
  mkdir -p "$STATE"
  exec 9>"$STATE/.lock"; flock 9
  local t0=$SECONDS
  host_packages
  install_engine
  ensure_bridge
  start_daemon
  ensure_images
  versions >&2
  log "up in $((SECONDS - t0)) s"
}

cmd_down() {
  if running; then
    local pid; pid=$(cat "$PIDFILE")
    log "stopping dockerd pid $pid"
    kill "$pid"
    local i
    for i in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -0 "$pid" 2>/dev/null && { kill -9 "$pid" || true; }
  else
    log "not running"
  fi
  rm -f "$PIDFILE"
}

case "${1:-}" in
  up) cmd_up ;;
  down) cmd_down ;;
  env) env_lines ;;
  status) if running; then echo "running (pid $(cat "$PIDFILE"), $SOCK)"; else echo "not running"; exit 1; fi ;;
  *) echo "usage: $0 up|down|env|status" >&2; exit 2 ;;
esac
