#!/usr/bin/env bash
# Build the go-multiarch example for linux/amd64 and linux/arm64 into a local directory.
#
#   examples/go-multiarch/build.sh [--fixed] [--out DIR] [-- EXTRA BUILDX ARGS...]
#
#   --fixed      build Dockerfile.fixed instead of the buggy Dockerfile
#   --out DIR    where the two platform trees go (default: examples/go-multiarch/out,
#                or out-fixed with --fixed); DIR/linux_amd64/server, DIR/linux_arm64/server
#   BUILD_WRAPPER="cachetrace record --" examples/go-multiarch/build.sh
#                puts a wrapper in front of the docker command (argv, no shell)
#   PRINT_ONLY=1 prints the command instead of running it
#
# Uses the docker CLI and daemon from the environment; when DOCKER_HOST is unset and the
# project's own engine (scripts/engine.sh) is running, it uses that one.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
dockerfile=Dockerfile
out=""
while [ $# -gt 0 ]; do
  case $1 in
    --fixed) dockerfile=Dockerfile.fixed; shift ;;
    --out) out=$2; shift 2 ;;
    --) shift; break ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    *) echo "build.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
if [ -z "$out" ]; then
  out=$HERE/out
  [ "$dockerfile" = Dockerfile ] || out=$HERE/out-fixed
fi

if [ -z "${DOCKER_HOST:-}" ] && bash "$REPO/scripts/engine.sh" status >/dev/null 2>&1; then
  eval "$(bash "$REPO/scripts/engine.sh" env)"
fi

cmd=(docker buildx build
  --platform linux/amd64,linux/arm64
  -f "$HERE/$dockerfile"
  -o "type=local,dest=$out"
  "$@"
  "$HERE")
# shellcheck disable=SC2206  # the wrapper is a word list on purpose
wrapper=(${BUILD_WRAPPER:-})
if [ "${PRINT_ONLY:-0}" = 1 ]; then
  printf '%q ' "${wrapper[@]}" "${cmd[@]}"; echo
  exit 0
fi
exec "${wrapper[@]}" "${cmd[@]}"
