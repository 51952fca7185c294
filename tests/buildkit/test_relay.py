"""The relay's splicing, the /grpc upgrade handshake and clean shutdown, on local sockets."""

from __future__ import annotations

import contextlib
import os
import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from cachetrace.buildkit.relay import DialError, Relay, StdioUpstream, docker_upgrade


@contextlib.contextmanager
def _server(path: Path, handle: Callable[[socket.socket], None]) -> Iterator[None]:
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(path))
    listener.listen(4)

    def loop() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            with conn:
                handle(conn)

    t = threading.Thread(target=loop, daemon=True)
    t.start()
    yield
    listener.shutdown(socket.SHUT_RDWR)
    listener.close()
    t.join(5)


def _upgrading_docker(conn: socket.socket) -> None:
    """Answers like dockerd: 101 on POST /grpc, then echoes bytes upper-cased."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        buf += conn.recv(1024)
    head, _, rest = buf.partition(b"\r\n\r\n")
    if not head.startswith(b"POST /grpc ") or b"Upgrade: h2c" not in head:
        conn.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
        return
    conn.sendall(b"HTTP/1.1 101 UPGRADED\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\nEARLY")
    data = rest
    while True:
        if data:
            conn.sendall(data.upper())
        data = conn.recv(1024)
        if not data:
            return


@pytest.fixture
def docker_sock(tmp_path: Path) -> Iterator[str]:
    path = tmp_path / "docker.sock"
    with _server(path, _upgrading_docker):
        yield f"unix://{path}"


def _roundtrip(relay: Relay, payload: bytes, expect: bytes) -> None:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as c:
        c.settimeout(10)
        c.connect(relay.path)
        c.sendall(payload)
        got = b""
        while len(got) < len(expect):
            chunk = c.recv(4096)
            if not chunk:
                break
            got += chunk
        assert got == expect


def test_docker_upgrade_relay_splices_each_connection(docker_sock: str) -> None:
    before = threading.active_count()
    relay = Relay(lambda: docker_upgrade(docker_sock))
    for _ in range(3):
        _roundtrip(relay, b"ping", b"EARLYPING")
    assert relay.dials == 3 and relay.last_error is None
    path = relay.path
    relay.close()
    assert not os.path.exists(path)
    assert threading.active_count() == before


def test_upgrade_refused_is_a_dial_error(tmp_path: Path) -> None:
    path = tmp_path / "plain.sock"

    def not_docker(conn: socket.socket) -> None:
        conn.recv(1024)
        conn.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")

    with (
        _server(path, not_docker),
        pytest.raises(DialError, match="refused the BuildKit /grpc upgrade"),
    ):
        docker_upgrade(f"unix://{path}")
    with pytest.raises(DialError, match="No such file"):
        docker_upgrade(f"unix://{tmp_path}/missing.sock")


def test_relay_keeps_the_dial_error_and_closes_the_client(tmp_path: Path) -> None:
    with Relay(lambda: docker_upgrade(f"unix://{tmp_path}/missing.sock")) as relay:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as c:
            c.settimeout(10)
            c.connect(relay.path)
            assert c.recv(10) == b""
        assert relay.last_error is not None and "missing.sock" in relay.last_error


def test_stdio_upstream_through_a_real_process() -> None:
    before = threading.active_count()
    relay = Relay(lambda: StdioUpstream(("cat",), dict(os.environ)))
    _roundtrip(relay, b"through cat", b"through cat")
    relay.close()
    assert threading.active_count() == before


def test_stdio_command_errors_are_kept() -> None:
    with Relay(lambda: StdioUpstream(("sh", "-c", "echo boom >&2; exit 1"), {})) as relay:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as c:
            c.settimeout(10)
            c.connect(relay.path)
            assert c.recv(10) == b""
        for _ in range(100):
            if relay.last_error:
                break
            threading.Event().wait(0.02)
        assert relay.last_error is not None and relay.last_error.endswith("boom")
    with pytest.raises(DialError, match="cannot run"):
        StdioUpstream(("/nonexistent/cmd",), {})
