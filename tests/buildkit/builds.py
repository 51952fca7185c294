"""Small real builds for the BuildKit client tests (and the data recorder)."""

from __future__ import annotations

import json
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path

from tests.engine import Engine

# A build with output on both streams, a cache mount and a build-check warning (``as``).
WARNED = """\
FROM busybox:local as base
RUN echo hello-{nonce} && echo to-stderr-{nonce} >&2
RUN --mount=type=cache,target=/cache,id=ct-{nonce} echo {nonce} > /cache/x && cat /cache/x
"""

FAILING = """\
FROM busybox:local
RUN echo about to fail {nonce} && exit 3
"""

SLEEPY = """\
FROM busybox:local
RUN echo start {nonce} && sleep 3 && echo done {nonce}
"""

MULTI = """\
FROM --platform=$BUILDPLATFORM busybox:local AS build
ARG TARGETARCH
RUN echo {nonce} $TARGETARCH > /out.txt
FROM scratch
COPY --from=build /out.txt /
"""


def has_build_checks(engine: Engine) -> bool:
    """Dockerfile build checks (warnings such as FromAsCasing) came with Docker Engine 27."""
    version = engine.docker("version", "--format", "{{.Server.Version}}").stdout.decode()
    return int(version.strip().split(".")[0]) >= 27


def nonce() -> str:
    return uuid.uuid4().hex[:12]


@dataclass(frozen=True)
class Built:
    ref: str
    ok: bool
    nonce: str
    stderr: str


def context(tmp: Path, dockerfile: str, tag: str) -> tuple[Path, str]:
    n = nonce()
    ctx = tmp / f"ctx-{tag}-{n}"
    ctx.mkdir(parents=True)
    (ctx / "Dockerfile").write_text(dockerfile.format(nonce=n))
    return ctx, n


NONCE_ARG = "CACHETRACE_TEST_NONCE"


def nonce_of(frontend_attrs: dict[str, str]) -> str:
    """The nonce a test build carries as a build arg (it names the build in history)."""
    return frontend_attrs.get(f"build-arg:{NONCE_ARG}", "")


def build_args(ctx: Path, n: str, extra: tuple[str, ...] = ()) -> list[str]:
    return [
        "docker",
        "buildx",
        "build",
        "--builder",
        "default",
        "--progress=plain",
        "--metadata-file",
        str(ctx / "metadata.json"),
        "--build-arg",
        f"{NONCE_ARG}={n}",
        *extra,
        str(ctx),
    ]


def ref_from_metadata(ctx: Path) -> str:
    data = json.loads((ctx / "metadata.json").read_text())
    return str(data["buildx.build.ref"]).rsplit("/", 1)[-1]


def build(
    engine: Engine, tmp: Path, dockerfile: str, tag: str, *extra: str, expect_ok: bool = True
) -> Built:
    """Run one build to the end; a successful build's history ref comes from its metadata."""
    ctx, n = context(tmp, dockerfile, tag)
    proc = engine.run(build_args(ctx, n, extra), check=expect_ok, timeout=300)
    ok = proc.returncode == 0
    assert ok == expect_ok, proc.stderr.decode(errors="replace")[-2000:]
    # buildx writes no metadata file for a failed build: find those by nonce in history.
    ref = ref_from_metadata(ctx) if ok else ""
    return Built(ref, ok, n, proc.stderr.decode(errors="replace"))


def start(
    engine: Engine, tmp: Path, dockerfile: str, tag: str
) -> tuple[subprocess.Popen[bytes], str]:
    """Start a build in the background (output to ``build.log`` in its context)."""
    ctx, n = context(tmp, dockerfile, tag)
    with (ctx / "build.log").open("wb") as log:
        proc = subprocess.Popen(
            build_args(ctx, n), env=engine.env, stdout=subprocess.DEVNULL, stderr=log
        )
    return proc, n
