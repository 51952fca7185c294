#!/usr/bin/env bash
# Re-record the provenance fixtures in tests/buildkit/data/provenance/ from the real engine.
#
#   scripts/record_provenance_fixtures.sh [OUTDIR]
#
# Needs the engine of scripts/engine.sh (started if it is not running) and ssh-agent,
# ssh-add and ssh-keygen (Debian's openssh-client) for the `--mount=type=ssh` step.
# Writes, for each scenario, the bare SLSA predicate that the history record holds
# (`docker buildx history inspect attachment REF --type provenance`):
#
#   single.json            one platform: cache/secret/ssh/tmpfs/bind mounts, --network=none,
#                          ENV, ARG, proxy build args, COPY, COPY --link (a merge op),
#                          WORKDIR, USER, --add-host, vcs info (the context is a git tree)
#   multi-amd64.json       the linux/amd64 result of a two-platform build (-o type=local)
#   multi-arm64.json       the linux/arm64 result of the same build
#   failed-inspect.json    `docker buildx history inspect --format json` of a failed build,
#                          which has no provenance attachment
#   single-docker26.json   only with CACHETRACE_PROV_OLD_ENGINE=1 (see the end): the single
#                          build on Docker 26.1.5 / buildx 0.13.1, as an in-toto statement
#   versions.txt           the engine and buildx versions the fixtures come from
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT=${1:-$HERE/tests/buildkit/data/provenance}
mkdir -p "$OUT"

bash "$HERE/scripts/engine.sh" up >/dev/null
eval "$(bash "$HERE/scripts/engine.sh" env)"

WORK=$(mktemp -d)
AGENT_PID=""
cleanup() {
  if [ -n "$AGENT_PID" ]; then kill "$AGENT_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

log() { printf 'record: %s\n' "$*" >&2; }

# The history ref is the last path element of buildx.build.ref in the metadata file.
history_ref() {
  python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["buildx.build.ref"].rsplit("/",1)[-1])' "$1"
}

# --- (a) single platform -------------------------------------------------------------
S=$WORK/single
mkdir -p "$S"
echo "hello from the context" >"$S/hello.txt"
printf 'fixture-token-value' >"$WORK/tok"
cat >"$S/Dockerfile" <<'EOF'
FROM busybox:local AS helper
RUN mkdir -p /data && echo helper > /data/h.txt

FROM busybox:local
ARG GREETING=hello
ARG VERSION=1.0
ENV APP_MODE=production
WORKDIR /app
COPY hello.txt /app/hello.txt
COPY --link hello.txt /linked/hello.txt
RUN --mount=type=cache,target=/root/.cache/go-build,id=x,sharing=locked echo "$GREETING $VERSION" > /app/greet
RUN --mount=type=secret,id=tok wc -c /run/secrets/tok > /app/toklen
RUN --mount=type=ssh test -S "$SSH_AUTH_SOCK" && echo ssh > /app/ssh
RUN --mount=type=tmpfs,target=/scratch,size=1048576 echo tmp > /scratch/x && cat /scratch/x > /app/tmp
RUN --mount=type=bind,from=helper,source=/data,target=/h cat /h/h.txt > /app/from-helper
RUN --network=none echo offline > /app/net
USER 1000:1000
RUN id > /dev/null
EOF

# A git working tree with an origin: buildx then sends vcs:source/vcs:revision, which
# BuildKit moves into the provenance's vcs metadata.
git -C "$S" init -q
git -C "$S" remote add origin https://git.invalid/cachetrace/fixture.git
git -C "$S" add Dockerfile hello.txt
git -C "$S" -c user.name=fixture -c user.email=fixture@invalid commit -q -m fixture

ssh-keygen -q -t ed25519 -N '' -C cachetrace-fixture -f "$WORK/id_fixture"
eval "$(ssh-agent -s -a "$WORK/agent.sock")" >/dev/null
AGENT_PID=$SSH_AGENT_PID
ssh-add -q "$WORK/id_fixture"

SINGLE_ARGS=(
  --build-arg VERSION=2.0
  --build-arg http_proxy=http://proxy.invalid:3128
  --build-arg NO_PROXY=localhost,.internal
  --add-host fixture-host:10.1.2.3
  --secret id=tok,src="$WORK/tok"
  --ssh default="$WORK/agent.sock"
)
log "single-platform build"
docker buildx build --progress=quiet \
  --metadata-file "$WORK/single.meta.json" \
  -t cachetrace-fixture-single:latest \
  "${SINGLE_ARGS[@]}" "$S" >/dev/null
ref=$(history_ref "$WORK/single.meta.json")
docker buildx history inspect attachment "$ref" --type provenance >"$OUT/single.json"

# --- (b) two platforms ---------------------------------------------------------------
M=$WORK/multi
mkdir -p "$M"
cat >"$M/Dockerfile" <<'EOF'
FROM --platform=$BUILDPLATFORM busybox:local AS build
ARG TARGETOS
ARG TARGETARCH
RUN echo "built on $(uname -m) for $TARGETOS/$TARGETARCH" > /out.txt

FROM scratch
COPY --from=build /out.txt /out.txt
EOF
log "two-platform build"
docker buildx build --progress=quiet \
  --metadata-file "$WORK/multi.meta.json" \
  --platform linux/amd64,linux/arm64 \
  -o type=local,dest="$WORK/multi-out" \
  "$M" >/dev/null
ref=$(history_ref "$WORK/multi.meta.json")
for arch in amd64 arm64; do
  docker buildx history inspect attachment "$ref" --type provenance --platform "linux/$arch" \
    >"$OUT/multi-$arch.json"
done

# --- (c) a failed build --------------------------------------------------------------
# buildx writes no metadata file for a failed build: find its record by its name (the
# context directory's name), made unique for this run.
FNAME=cachetrace-failed-$$-$RANDOM
F=$WORK/$FNAME
mkdir -p "$F"
cat >"$F/Dockerfile" <<'EOF'
FROM busybox:local
RUN echo about to fail && exit 3
EOF
log "failed build"
if docker buildx build --progress=quiet "$F" >/dev/null 2>&1; then
  echo "record: the failing build succeeded" >&2
  exit 1
fi
ref=$(docker buildx history ls --filter status=error --format json | python3 -c '
import json, sys
refs = [r["ref"] for r in map(json.loads, sys.stdin) if r["name"] == sys.argv[1]]
print(refs[0].rsplit("/", 1)[-1])' "$FNAME")
if docker buildx history inspect attachment "$ref" --type provenance >/dev/null 2>&1; then
  echo "record: the failed build has a provenance attachment" >&2
  exit 1
fi
# The record as buildx shows it, minus Error.Stack (a Go stack trace of this machine's paths).
docker buildx history inspect "$ref" --format json | python3 -c '
import json, sys
d = json.load(sys.stdin)
d.get("Error", {}).pop("Stack", None)
json.dump(d, sys.stdout, indent=2)
print()' >"$OUT/failed-inspect.json"

{
  echo "docker: $(docker version --format '{{.Server.Version}}')"
  echo "buildx: $(docker buildx version)"
} >"$OUT/versions.txt"
docker image rm -f cachetrace-fixture-single:latest >/dev/null 2>&1 || true

# --- (d) optional: the single build on the older engine ------------------------------
# With CACHETRACE_PROV_OLD_ENGINE=1, scripts/engine.sh also runs Debian trixie's Docker
# 26.1.5 + buildx 0.13.1 (gogo-era BuildKit) in its own directory and bridge, then stops it.
# buildx 0.13 has no `history` command: the provenance is the local exporter's
# provenance.json, an in-toto statement whose subjects are the exported files.
if [ "${CACHETRACE_PROV_OLD_ENGINE:-0}" = 1 ]; then
  old_engine() {
    CACHETRACE_ENGINE_DIR=${CACHETRACE_PROV_OLD_DIR:-/tmp/ct-prov-trixie} \
      CACHETRACE_ENGINE_SUITES=trixie CACHETRACE_ENGINE_BRIDGE=ctprov1 \
      CACHETRACE_ENGINE_BRIDGE_CIDR=172.31.0.1/16 bash "$HERE/scripts/engine.sh" "$@"
  }
  old_engine up >/dev/null
  log "single-platform build on the older engine"
  (
    eval "$(old_engine env)"
    docker buildx build --progress=quiet --provenance=mode=max \
      -o type=local,dest="$WORK/old-out" "${SINGLE_ARGS[@]}" "$S" >/dev/null
    cp "$WORK/old-out/provenance.json" "$OUT/single-docker26.json"
    {
      echo "single-docker26.json docker: $(docker version --format '{{.Server.Version}}')"
      echo "single-docker26.json buildx: $(docker buildx version)"
    } >>"$OUT/versions.txt"
  )
  old_engine down
fi
log "wrote $(ls "$OUT" | tr '\n' ' ')"
