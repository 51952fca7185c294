"""The one Docker Engine API call cachetrace makes besides ``/grpc``: ``GET /version``.

For a docker-driver builder the BuildKit version is the Engine's vendored one (Debian's
builds even report it as ``v0.0.0+unknown``), so the Engine version is what identifies it.
"""

from __future__ import annotations

import contextlib
import json

from cachetrace.buildkit.endpoints import TLSFiles
from cachetrace.buildkit.relay import DialError, _connect


def engine_version(host: str, tls: TLSFiles | None = None, timeout: float = 5.0) -> str | None:
    """The Docker Engine's version (``28.5.2+dfsg4``), or None when it does not answer."""
    try:
        sock = _connect(host, tls)
    except DialError:
        return None
    with contextlib.closing(sock):
        try:
            sock.settimeout(timeout)
            sock.sendall(b"GET /version HTTP/1.1\r\nHost: docker\r\nConnection: close\r\n\r\n")
            chunks = []
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        except OSError:
            return None
    head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 200"):
        return None
    if b"transfer-encoding: chunked" in head.lower():
        body = _unchunk(body)
    try:
        version = json.loads(body).get("Version")
    except (ValueError, AttributeError):
        return None
    return version if isinstance(version, str) and version else None


def _unchunk(body: bytes) -> bytes:
    out = bytearray()
    while body:
        size_line, _, rest = body.partition(b"\r\n")
        try:
            size = int(size_line.split(b";")[0], 16)
        except ValueError:
            break
        if size == 0:
            break
        out += rest[:size]
        body = rest[size + 2 :]
    return bytes(out)
