"""A private unix socket whose every connection is spliced to a fresh upstream connection.

grpcio dials only plain addresses, but BuildKit is often behind something else: the Docker
socket's ``POST /grpc`` HTTP upgrade, or a ``dial-stdio`` command. A ``Relay`` listens on a
unix socket in a private temp directory; for each connection grpcio makes it calls
``dial()`` for a new upstream and copies bytes both ways with two threads. ``close()`` stops
accepting, closes every connection, ends dial processes and joins all threads.

Upstreams: ``docker_upgrade(host, tls)`` and ``StdioUpstream(command, env)``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import ssl
import subprocess
import tempfile
import threading
from collections.abc import Callable, Mapping
from typing import Protocol
from urllib.parse import urlsplit

from cachetrace.buildkit.endpoints import TLSFiles

CHUNK = 256 * 1024
UPGRADE_TIMEOUT = 10.0


class DialError(Exception):
    """An upstream could not be opened (kept by the relay for the client's error message)."""


class Upstream(Protocol):
    def read(self) -> bytes: ...  # b"" at EOF

    def write(self, data: bytes) -> None: ...

    def close_write(self) -> None: ...

    def close(self) -> None: ...


class SocketUpstream:
    """An upstream over a connected socket, with bytes already read past a handshake."""

    def __init__(self, sock: socket.socket, pending: bytes = b"") -> None:
        self._sock = sock
        self._pending = pending

    def read(self) -> bytes:
        if self._pending:
            data, self._pending = self._pending, b""
            return data
        return self._sock.recv(CHUNK)

    def write(self, data: bytes) -> None:
        self._sock.sendall(data)

    def close_write(self) -> None:
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_WR)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)
        self._sock.close()


class StdioUpstream:
    """An upstream over a command's stdin/stdout (``docker buildx dial-stdio``)."""

    def __init__(self, command: tuple[str, ...], env: Mapping[str, str]) -> None:
        self.command = command
        try:
            self._proc = subprocess.Popen(
                list(command),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=dict(env) if env else None,
                bufsize=0,
            )
        except OSError as exc:
            raise DialError(f"cannot run {command[0]}: {exc.strerror or exc}") from exc
        assert self._proc.stdin is not None and self._proc.stdout is not None
        self._stdin = self._proc.stdin
        self._stdout = self._proc.stdout
        self._stderr = ""
        self._lock = threading.Lock()
        self._closed = False

    def read(self) -> bytes:
        return os.read(self._stdout.fileno(), CHUNK)

    def write(self, data: bytes) -> None:
        self._stdin.write(data)

    def close_write(self) -> None:
        with contextlib.suppress(OSError):
            self._stdin.close()

    def stderr_text(self) -> str:
        """What the command wrote to stderr, once it has been closed ('' before)."""
        return self._stderr

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self.close_write()
        if self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        if self._proc.stderr is not None:
            with contextlib.suppress(OSError, ValueError):
                self._stderr = self._proc.stderr.read().decode(errors="replace").strip()
            self._proc.stderr.close()
        self._stdout.close()


def _connect(host: str, tls: TLSFiles | None) -> socket.socket:
    parts = urlsplit(host)
    try:
        if parts.scheme == "unix":
            path = parts.path or parts.netloc
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                sock.settimeout(UPGRADE_TIMEOUT)
                sock.connect(path)
            except OSError:
                sock.close()
                raise
            return sock
        if parts.scheme == "tcp" and parts.hostname and parts.port:
            raw = socket.create_connection((parts.hostname, parts.port), UPGRADE_TIMEOUT)
            if tls is None or not tls.any:
                return raw
            ctx = ssl.create_default_context(cafile=tls.ca)
            if tls.cert:
                ctx.load_cert_chain(tls.cert, tls.key)
            ctx.set_alpn_protocols(["http/1.1"])
            return ctx.wrap_socket(raw, server_hostname=parts.hostname)
    except (OSError, ssl.SSLError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise DialError(f"cannot connect to {host}: {reason}") from exc
    raise DialError(f"cannot dial docker host {host}")


def docker_upgrade(host: str, tls: TLSFiles | None = None) -> SocketUpstream:
    """Open ``host``, ``POST /grpc`` with ``Upgrade: h2c``, expect 101, return the raw stream."""
    sock = _connect(host, tls)
    try:
        request = (
            "POST /grpc HTTP/1.1\r\n"
            "Host: docker\r\n"
            "Connection: Upgrade\r\n"
            "Upgrade: h2c\r\n"
            "Content-Length: 0\r\n"
            "\r\n"
        )
        sock.sendall(request.encode())
        buf = b""
        while b"\r\n\r\n" not in buf:
            chunk = sock.recv(4096)
            if not chunk:
                raise DialError(f"{host} closed the connection during the /grpc upgrade")
            buf += chunk
            if len(buf) > 65536:
                raise DialError(f"{host} sent an oversized answer to the /grpc upgrade")
        head, _, rest = buf.partition(b"\r\n\r\n")
        status_line = head.split(b"\r\n", 1)[0].decode(errors="replace")
        fields = status_line.split(" ", 2)
        if len(fields) < 2 or fields[1] != "101":
            raise DialError(
                f"{host} refused the BuildKit /grpc upgrade ({status_line!r}); "
                "is this a Docker Engine with BuildKit?"
            )
        sock.settimeout(None)
        return SocketUpstream(sock, rest)
    except DialError:
        sock.close()
        raise
    except OSError as exc:
        sock.close()
        raise DialError(f"/grpc upgrade on {host} failed: {exc.strerror or exc}") from exc


class Relay:
    """Listen on a private unix socket; splice each accepted connection to ``dial()``."""

    def __init__(self, dial: Callable[[], Upstream], name: str = "relay") -> None:
        self._dial = dial
        self._dir = tempfile.mkdtemp(prefix="cachetrace-")
        self.path = os.path.join(self._dir, "buildkit.sock")
        self._listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._listener.bind(self.path)
        self._listener.listen(16)
        self._lock = threading.Lock()
        self._closed = False
        self._conns: list[tuple[socket.socket, Upstream | None]] = []
        self._threads: list[threading.Thread] = []
        self.last_error: str | None = None
        self.dials = 0
        self._acceptor = threading.Thread(target=self._accept_loop, name=f"{name}-accept")
        self._acceptor.daemon = True
        self._acceptor.start()

    @property
    def target(self) -> str:
        """The grpc target for this relay."""
        return f"unix:{self.path}"

    def _accept_loop(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                if self._closed:
                    client.close()
                    return
            self._start_thread(self._serve, client)

    def _start_thread(self, fn: Callable[..., None], *args: object) -> None:
        t = threading.Thread(target=fn, args=args, daemon=True)
        with self._lock:
            self._threads = [x for x in self._threads if x.is_alive()]
            self._threads.append(t)
        t.start()

    def _serve(self, client: socket.socket) -> None:
        try:
            upstream = self._dial()
        except DialError as exc:
            self.last_error = str(exc)
            client.close()
            return
        with self._lock:
            self.dials += 1
            if self._closed:
                upstream.close()
                client.close()
                return
            self._conns.append((client, upstream))
        self._start_thread(self._pump_up, client, upstream)
        self._pump_down(client, upstream)

    def _pump_up(self, client: socket.socket, upstream: Upstream) -> None:
        try:
            while data := client.recv(CHUNK):
                upstream.write(data)
        except (OSError, ValueError):
            pass
        upstream.close_write()

    def _pump_down(self, client: socket.socket, upstream: Upstream) -> None:
        try:
            while data := upstream.read():
                client.sendall(data)
        except (OSError, ValueError):
            pass
        if isinstance(upstream, StdioUpstream):
            with contextlib.suppress(OSError, ValueError):
                upstream.close()
            err = upstream.stderr_text()
            if err:
                self.last_error = f"{' '.join(upstream.command)}: {err.splitlines()[-1]}"
        with contextlib.suppress(OSError):
            client.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            conns = list(self._conns)
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)
        self._listener.close()
        for client, upstream in conns:
            with contextlib.suppress(OSError):
                client.shutdown(socket.SHUT_RDWR)
            if upstream is not None:
                with contextlib.suppress(OSError, ValueError):
                    upstream.close()
        self._acceptor.join(timeout=5)
        with self._lock:
            threads = list(self._threads)
        for t in threads:
            t.join(timeout=5)
        for client, _ in conns:
            client.close()
        shutil.rmtree(self._dir, ignore_errors=True)

    def __enter__(self) -> Relay:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
