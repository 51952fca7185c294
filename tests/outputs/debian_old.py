"""Real Go binaries in the pre-1.18 build info format, from Debian 11's archive.

Debian 11 (bullseye) built its Go packages with Go 1.15, which wrote the pointer format;
Go 1.24 cannot write it any more. ``apt-get download`` with a private apt state (the system's
sources stay untouched) fetches the package, and ``dpkg-deb -x`` unpacks it.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

KEYRING = Path("/usr/share/keyrings/debian-archive-keyring.gpg")


def available() -> bool:
    return bool(shutil.which("apt-get") and shutil.which("dpkg-deb") and KEYRING.exists())


def fetch(package: str, root: Path, suite: str = "bullseye") -> Path:
    """Download and unpack ``package`` from ``suite``; returns the unpacked tree."""
    state = root / "apt"
    for sub in ("lists/partial", "cache/archives/partial"):
        (state / sub).mkdir(parents=True, exist_ok=True)
    sources = state / "sources.list"
    sources.write_text(f"deb [signed-by={KEYRING}] http://deb.debian.org/debian {suite} main\n")
    opts = [
        f"-oDir::Etc::SourceList={sources}",
        "-oDir::Etc::SourceParts=/dev/null",
        f"-oDir::State::Lists={state / 'lists'}",
        f"-oDir::Cache={state / 'cache'}",
        "-oDir::State::status=/dev/null",
        "-oAPT::Sandbox::User=root",
    ]
    subprocess.run(["apt-get", *opts, "-qq", "update"], check=True, capture_output=True)
    debs = root / "debs"
    debs.mkdir(exist_ok=True)
    subprocess.run(
        ["apt-get", *opts, "-qq", "download", package], check=True, cwd=debs, capture_output=True
    )
    tree = root / "tree"
    for deb in debs.glob(f"{package}_*.deb"):
        subprocess.run(["dpkg-deb", "-x", str(deb), str(tree)], check=True)
    return tree
