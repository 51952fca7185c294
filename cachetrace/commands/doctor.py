"""``cachetrace doctor``: which builder, how it is reached, and what it can give cachetrace."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import TYPE_CHECKING

from cachetrace.buildkit.endpoints import add_endpoint_arguments, endpoint_from_args

if TYPE_CHECKING:  # grpc is imported only when the command runs
    from cachetrace.buildkit.client import BuildkitClient
    from cachetrace.model.build import Worker

HELP = "check the builder: endpoint, BuildKit version, workers, history, provenance, cache export"

SNAPSHOTTER_LABEL = "org.mobyproject.buildkit.worker.snapshotter"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_endpoint_arguments(parser)


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


def run(args: argparse.Namespace) -> int:
    from cachetrace.buildkit.client import BuildkitClient

    endpoint = endpoint_from_args(args)
    print(f"endpoint:     {endpoint.description}")
    with BuildkitClient.connect(endpoint) as client:
        checks = diagnose(client)
    for check in checks:
        mark = "yes" if check.ok else "no "
        print(f"{check.name + ':':<13} {mark} {check.detail}")
    return 0


def diagnose(client: BuildkitClient) -> list[Check]:
    """Ask the builder what it has; prints nothing (``run`` does)."""
    from cachetrace.errors import NotAvailableError

    try:
        info = client.info()
        version = f"{info.package} {info.version}" + (
            f" (revision {info.revision})" if info.revision else ""
        )
    except NotAvailableError as exc:
        version = f"unknown ({exc})"
    print(f"buildkit:     {version}")
    workers = client.workers()
    for worker in workers:
        platforms = ", ".join(p.spec for p in worker.platforms) or "none"
        print(f"worker:       {worker.id}")
        print(f"  platforms:  {platforms}")
        for key, value in worker.labels.items():
            print(f"  label:      {key}={value}")
    return [_history_check(client), _provenance_check(client), _cache_check(client, workers)]


def _history_check(client: BuildkitClient) -> Check:
    from cachetrace.errors import NotAvailableError

    try:
        count = sum(1 for _ in client.history())
    except NotAvailableError as exc:
        return Check("history", False, str(exc))
    return Check("history", True, f"{count} build record(s)")


def _provenance_check(client: BuildkitClient) -> Check:
    from cachetrace.buildkit.client import find_provenance
    from cachetrace.errors import NotAvailableError

    try:
        records = [e.record for e in client.history()]
    except NotAvailableError:
        return Check("provenance", False, "needs build history")
    done = [r for r in records if r.error is None and r.completed_at is not None]
    if not done:
        return Check("provenance", False, "unknown: no successful build in history yet")
    latest = max(done, key=lambda r: r.completed_at or 0.0)
    found = find_provenance(latest)
    if not found:
        return Check("provenance", False, f"latest successful build {latest.ref} has none")
    try:
        provenances = client.provenances(latest)
    except NotAvailableError as exc:
        return Check("provenance", False, str(exc))
    versions = sorted({p.slsa_version.value for p in provenances.values()})
    modes = sorted({p.mode.value for p in provenances.values()})
    return Check(
        "provenance",
        True,
        f"latest successful build {latest.ref}: SLSA {'/'.join(versions)}, "
        f"mode={'/'.join(modes)}, {len(provenances)} result(s)",
    )


def _cache_check(client: BuildkitClient, workers: tuple[Worker, ...]) -> Check:
    if client.endpoint.driver != "docker":
        return Check("cache export", True, "standalone BuildKit exports cache with every driver")
    snapshotters = {w.labels[SNAPSHOTTER_LABEL] for w in workers if SNAPSHOTTER_LABEL in w.labels}
    if snapshotters:
        return Check(
            "cache export",
            True,
            f"Docker uses the containerd image store (worker label {SNAPSHOTTER_LABEL}="
            f"{','.join(sorted(snapshotters))}), so --cache-to type=local works",
        )
    return Check(
        "cache export",
        False,
        "Docker's classic image store: --cache-to type=local needs the containerd image "
        'store ("features": {"containerd-snapshotter": true} in daemon.json) or another driver',
    )
