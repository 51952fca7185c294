"""A typed BuildKit control client: model objects in and out, grpc errors translated.

::

    with BuildkitClient.connect(resolve_endpoint()) as client:
        print(client.info().version)
        for event in client.history():
            ...

Every method returns ``cachetrace.model`` objects; protobuf stays inside this package. grpc
errors become ``EngineError`` (cannot reach the builder; the endpoint is named),
``NotAvailableError`` (UNIMPLEMENTED / NOT_FOUND: an older BuildKit, a missing blob) or
``ProtocolError`` (anything else).
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Callable, Generator, Iterator
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import grpc

from cachetrace.buildkit import convert
from cachetrace.buildkit.endpoints import Endpoint, Transport
from cachetrace.buildkit.relay import Relay, StdioUpstream, docker_upgrade
from cachetrace.errors import EngineError, NotAvailableError, ProtocolError
from cachetrace.model.build import (
    IN_TOTO_MEDIA_TYPE,
    PREDICATE_TYPE_ANNOTATION,
    BuildkitInfo,
    CacheUsage,
    HistoryEvent,
    HistoryRecord,
    StatusUpdate,
    Worker,
)
from cachetrace.model.oci import Descriptor, Platform

if TYPE_CHECKING:
    from cachetrace.model.llb import Provenance

MAX_MESSAGE = 64 * 1024 * 1024
CONNECT_TIMEOUT = 20.0
CALL_TIMEOUT = 60.0
DEFAULT_BLOB_CAP = 256 * 1024 * 1024
CONTROL = "/moby.buildkit.v1.Control/"
CONTENT = "/containerd.services.content.v1.Content/"


def _pb() -> tuple[Any, Any]:
    from cachetrace._pb.buildkit import control_pb2
    from cachetrace._pb.containerd import content_pb2

    return control_pb2, content_pb2


def find_provenance(record: HistoryRecord) -> dict[str, Descriptor]:
    """The SLSA provenance attestation of each result (``""`` for a single-platform build)."""
    found: dict[str, Descriptor] = {}
    for platform, descriptors in record.attestations().items():
        for d in descriptors:
            predicate = d.annotations.get(PREDICATE_TYPE_ANNOTATION, "")
            if d.media_type == IN_TOTO_MEDIA_TYPE and "slsa.dev/provenance" in predicate:
                found[platform] = d
                break
    return found


class BuildkitClient:
    """A connection to one BuildKit endpoint. Use as a context manager, or call ``close()``."""

    def __init__(self, endpoint: Endpoint, channel: grpc.Channel, relay: Relay | None) -> None:
        self.endpoint = endpoint
        self._channel = channel
        self._relay = relay
        self._control, self._content = _pb()

    # -- connection -----------------------------------------------------------------------
    @classmethod
    def connect(cls, endpoint: Endpoint, timeout: float = CONNECT_TIMEOUT) -> BuildkitClient:
        """Open a channel (through a relay where needed) and wait until it is ready."""
        relay: Relay | None = None
        options = [
            ("grpc.max_receive_message_length", MAX_MESSAGE),
            ("grpc.max_send_message_length", MAX_MESSAGE),
        ]
        if endpoint.transport is Transport.DOCKER_SOCKET:
            host, tls = endpoint.address, endpoint.tls
            relay = Relay(lambda: docker_upgrade(host, tls), name="docker-grpc")
            channel = grpc.insecure_channel(relay.target, options=options)
        elif endpoint.transport is Transport.DIAL_STDIO:
            command, env = endpoint.command, endpoint.env
            relay = Relay(lambda: StdioUpstream(command, env), name="dial-stdio")
            channel = grpc.insecure_channel(relay.target, options=options)
        elif endpoint.transport is Transport.UNIX:
            channel = grpc.insecure_channel("unix:" + endpoint.address[len("unix://") :], options)
        else:
            target = endpoint.address[len("tcp://") :]
            if endpoint.tls is not None:
                channel = grpc.secure_channel(target, _credentials(endpoint), options)
            else:
                channel = grpc.insecure_channel(target, options)
        client = cls(endpoint, channel, relay)
        try:
            client._wait_ready(timeout)
        except BaseException:
            client.close()
            raise
        return client

    def _wait_ready(self, timeout: float) -> None:
        """Fail fast with a clear reason if the builder cannot be reached.

        A direct address gets a plain socket connect first; then one ListWorkers call (every
        BuildKit has it) proves the gRPC path. grpc's connectivity polling is avoided on
        purpose: its helper thread races with ``close()``.
        """
        reason = _preflight(self.endpoint)
        if reason is None:
            c = self._control
            probe = self._channel.unary_unary(
                CONTROL + "ListWorkers",
                request_serializer=c.ListWorkersRequest.SerializeToString,
                response_deserializer=c.ListWorkersResponse.FromString,
            )
            try:
                probe(c.ListWorkersRequest(), timeout=timeout)
                return
            except grpc.RpcError as exc:
                if exc.code() == grpc.StatusCode.DEADLINE_EXCEEDED:
                    reason = f"no answer within {timeout:.0f}s"
                elif exc.code() != grpc.StatusCode.UNAVAILABLE:
                    raise self._error(exc, "ListWorkers") from None
                else:
                    reason = exc.details() or "unavailable"
                if self._relay is not None and self._relay.last_error:
                    reason = self._relay.last_error
        raise EngineError(f"cannot reach BuildKit via {self.endpoint.description}: {reason}")

    def close(self) -> None:
        self._channel.close()
        if self._relay is not None:
            self._relay.close()

    def __enter__(self) -> BuildkitClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- error translation ----------------------------------------------------------------
    def _error(self, exc: grpc.RpcError, what: str) -> Exception:
        code = exc.code() if hasattr(exc, "code") else None
        details = (exc.details() if hasattr(exc, "details") else "") or str(code)
        where = self.endpoint.description
        if code == grpc.StatusCode.UNAVAILABLE:
            reason = (self._relay.last_error if self._relay else None) or details
            return EngineError(f"cannot reach BuildKit via {where}: {reason}")
        if code == grpc.StatusCode.DEADLINE_EXCEEDED:
            return EngineError(f"BuildKit via {where} did not answer {what} in time")
        if code == grpc.StatusCode.UNIMPLEMENTED:
            return NotAvailableError(
                f"BuildKit via {where} does not implement {what} (too old a BuildKit?): {details}"
            )
        if code == grpc.StatusCode.NOT_FOUND:
            return NotAvailableError(f"{what}: not found on {where}: {details}")
        return ProtocolError(f"{what} failed on {where}: {code.name if code else ''} {details}")

    def _unary(self, path: str, request: Any, response: Any, what: str) -> Any:
        call = self._channel.unary_unary(
            path,
            request_serializer=type(request).SerializeToString,
            response_deserializer=response.FromString,
        )
        try:
            return call(request, timeout=CALL_TIMEOUT)
        except grpc.RpcError as exc:
            raise self._error(exc, what) from None

    def _stream(
        self, path: str, request: Any, response: Any, what: str, timeout: float | None = None
    ) -> Generator[Any, None, None]:
        method: Callable[..., Any] = self._channel.unary_stream(
            path,
            request_serializer=type(request).SerializeToString,
            response_deserializer=response.FromString,
        )
        call = method(request, timeout=timeout)
        try:
            yield from call
        except grpc.RpcError as exc:
            if exc.code() == grpc.StatusCode.CANCELLED:
                return
            raise self._error(exc, what) from None
        finally:
            call.cancel()

    # -- control API ----------------------------------------------------------------------
    def info(self) -> BuildkitInfo:
        c = self._control
        reply = self._unary(CONTROL + "Info", c.InfoRequest(), c.InfoResponse, "Info")
        return convert.to_buildkit_info(reply.buildkitVersion)

    def workers(self) -> tuple[Worker, ...]:
        c = self._control
        reply = self._unary(
            CONTROL + "ListWorkers", c.ListWorkersRequest(), c.ListWorkersResponse, "ListWorkers"
        )
        return tuple(convert.to_worker(w) for w in reply.record)

    def disk_usage(self) -> tuple[CacheUsage, ...]:
        c = self._control
        reply = self._unary(
            CONTROL + "DiskUsage", c.DiskUsageRequest(), c.DiskUsageResponse, "DiskUsage"
        )
        return tuple(convert.to_cache_usage(r) for r in reply.record)

    def history(
        self, ref: str | None = None, active_only: bool = False, follow: bool = False
    ) -> Iterator[HistoryEvent]:
        """Build history events. ``follow=False`` lists what exists and ends (EarlyExit);
        ``follow=True`` keeps the stream open and yields builds as they start and finish."""
        c = self._control
        request = c.BuildHistoryRequest(ActiveOnly=active_only, Ref=ref or "", EarlyExit=not follow)
        stream = self._stream(
            CONTROL + "ListenBuildHistory",
            request,
            c.BuildHistoryEvent,
            "ListenBuildHistory (build history)",
            timeout=None if follow else CALL_TIMEOUT,
        )
        with contextlib.closing(stream):
            for pb in stream:
                yield convert.to_history_event(pb)

    def record(self, ref: str) -> HistoryRecord:
        """One history record by ref; ``NotAvailableError`` if BuildKit has none by that ref."""
        for event in self.history(ref=ref):
            if event.record.ref == ref:
                return event.record
        raise NotAvailableError(f"no build history record {ref!r} on {self.endpoint.description}")

    def status(self, ref: str) -> Iterator[StatusUpdate]:
        """The status stream of a build: live while it runs, replayed once it has finished."""
        c = self._control
        stream = self._stream(
            CONTROL + "Status", c.StatusRequest(Ref=ref), c.StatusResponse, f"Status of {ref}"
        )
        with contextlib.closing(stream):
            for pb in stream:
                yield convert.to_status_update(pb)

    def finalize(self, ref: str) -> None:
        """Ask BuildKit to finish a record now (writes the trace blob without the delay)."""
        c = self._control
        self._unary(
            CONTROL + "UpdateBuildHistory",
            c.UpdateBuildHistoryRequest(Ref=ref, Finalize=True),
            c.UpdateBuildHistoryResponse,
            "UpdateBuildHistory",
        )

    # -- content --------------------------------------------------------------------------
    def read_blob(self, blob: Descriptor | str) -> Generator[bytes, None, None]:
        """Stream a blob from the builder's content store in chunks."""
        digest = blob if isinstance(blob, str) else blob.digest
        ct = self._content
        stream = self._stream(
            CONTENT + "Read",
            ct.ReadContentRequest(digest=digest),
            ct.ReadContentResponse,
            f"reading blob {digest}",
            timeout=CALL_TIMEOUT,
        )
        with contextlib.closing(stream):
            for pb in stream:
                yield pb.data

    def read_blob_bytes(self, blob: Descriptor | str, cap: int = DEFAULT_BLOB_CAP) -> bytes:
        """A whole blob; ``ProtocolError`` beyond ``cap`` bytes or on a size mismatch."""
        digest = blob if isinstance(blob, str) else blob.digest
        chunks: list[bytes] = []
        total = 0
        gen = self.read_blob(blob)
        with contextlib.closing(gen):
            for chunk in gen:
                total += len(chunk)
                if total > cap:
                    raise ProtocolError(f"blob {digest} is larger than {cap} bytes")
                chunks.append(chunk)
        data = b"".join(chunks)
        if isinstance(blob, Descriptor) and blob.size and len(data) != blob.size:
            raise ProtocolError(f"blob {digest}: read {len(data)} bytes, expected {blob.size}")
        return data

    def status_log(self, record: HistoryRecord) -> Iterator[StatusUpdate]:
        """A finished build's status stream from its logs blob (no Status call)."""
        if record.logs is None:
            raise NotAvailableError(f"build {record.ref} has no status log in its history record")
        data = self.read_blob_bytes(record.logs)
        c = self._control
        for payload in convert.iter_status_log(data):
            yield convert.to_status_update(c.StatusResponse.FromString(payload))

    # -- provenance -----------------------------------------------------------------------
    def provenance_bytes(self, record: HistoryRecord, platform: str | None = None) -> bytes:
        """The raw SLSA predicate JSON of a record (see ``provenance`` for the rules)."""
        return self.read_blob_bytes(_pick_provenance(record, platform)[1])

    def provenance(self, record: HistoryRecord, platform: str | None = None) -> Provenance:
        """The decoded provenance of a build; ``platform`` picks one of a multi-platform build.

        Raises ``NotAvailableError`` when the record has none (a failed or running build) or
        when ``platform`` is needed to choose and not given; the message says which.
        """
        from cachetrace.buildkit.provenance import decode_provenance

        key, found = _pick_provenance(record, platform)
        return decode_provenance(self.read_blob_bytes(found), result_platform=_platform(key))

    def provenances(self, record: HistoryRecord) -> dict[str, Provenance]:
        """Every result's provenance, by platform (``""`` for a single-platform build)."""
        from cachetrace.buildkit.provenance import decode_provenance

        found = find_provenance(record)
        if not found:
            raise NotAvailableError(_no_provenance_reason(record))
        return {
            p: decode_provenance(self.read_blob_bytes(d), result_platform=_platform(p))
            for p, d in found.items()
        }


def _platform(key: str) -> Platform | None:
    """The platform of a ``Results`` key (``""`` for a single-platform result)."""
    if not key:
        return None
    try:
        return Platform.parse(key)
    except ValueError:
        raise ProtocolError(f"history record result key {key!r} is not a platform") from None


def _no_provenance_reason(record: HistoryRecord) -> str:
    if record.error is not None:
        why = f"the build failed ({record.error.message})"
    elif record.completed_at is None:
        why = "the build has not finished"
    else:
        why = "the record carries no SLSA provenance attestation"
    return f"no provenance for build {record.ref}: {why}"


def _pick_provenance(record: HistoryRecord, platform: str | None) -> tuple[str, Descriptor]:
    found = find_provenance(record)
    if not found:
        raise NotAvailableError(_no_provenance_reason(record))
    if platform is not None:
        if platform in found:
            return platform, found[platform]
        raise NotAvailableError(
            f"build {record.ref} has no provenance for {platform} "
            f"(it has: {', '.join(sorted(found)) or 'single platform'})"
        )
    if len(found) > 1:
        raise NotAvailableError(
            f"build {record.ref} has one provenance per platform; choose one of "
            f"{', '.join(sorted(found))}"
        )
    return next(iter(found.items()))


def _preflight(endpoint: Endpoint) -> str | None:
    """For direct addresses, a plain socket connect first: a clear reason when it fails."""
    try:
        if endpoint.transport is Transport.UNIX:
            path = endpoint.address[len("unix://") :]
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                sock.settimeout(5)
                sock.connect(path)
        elif endpoint.transport is Transport.TCP:
            parts = urlsplit(endpoint.address)
            with socket.create_connection((parts.hostname or "", parts.port or 0), timeout=5):
                pass
    except OSError as exc:
        return exc.strerror or str(exc)
    return None


def _credentials(endpoint: Endpoint) -> grpc.ChannelCredentials:
    tls = endpoint.tls
    assert tls is not None

    def read(path: str | None) -> bytes | None:
        if path is None:
            return None
        try:
            with open(path, "rb") as f:
                return f.read()
        except OSError as exc:
            raise EngineError(f"cannot read TLS file {path}: {exc.strerror or exc}") from exc

    return grpc.ssl_channel_credentials(read(tls.ca), read(tls.key), read(tls.cert))
