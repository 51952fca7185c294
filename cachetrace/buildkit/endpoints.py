"""Resolve where BuildKit is, the way buildctl and buildx users expect.

Order (first match wins):

1. ``addr`` or ``$BUILDKIT_HOST``: a standalone buildkitd: ``unix://PATH``, ``tcp://HOST:PORT``
   (TLS files like buildctl's ``--tlscacert/--tlscert/--tlskey``), or
   ``docker-container://NAME[?context=CTX]`` (``docker exec -i NAME buildctl dial-stdio``).
2. ``builder`` or ``$BUILDX_BUILDER`` or the current buildx builder (``$DOCKER_CONFIG/buildx``):
   a docker context name means the Docker Engine's embedded BuildKit (driver ``docker``), reached
   through ``POST /grpc`` on that context's Docker socket; any other builder is reached with
   ``docker buildx dial-stdio --builder NAME``.
3. No builder chosen: the current docker context (``$DOCKER_CONTEXT``, ``$DOCKER_HOST``,
   ``currentContext`` in ``config.json``, else ``unix:///var/run/docker.sock``).

Resolution reads files only; nothing is dialled here.
"""

from __future__ import annotations

import argparse
import enum
import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from cachetrace.errors import EndpointError

DEFAULT_DOCKER_HOST = "unix:///var/run/docker.sock"


class Transport(str, enum.Enum):
    """How a connection is made."""

    UNIX = "unix"  # grpc straight to a buildkitd unix socket
    TCP = "tcp"  # grpc straight to a buildkitd TCP address (optionally TLS)
    DOCKER_SOCKET = "docker-socket"  # POST /grpc upgrade on a Docker Engine socket, relayed
    DIAL_STDIO = "dial-stdio"  # a command that speaks one raw connection on stdin/stdout


@dataclass(frozen=True, slots=True)
class TLSFiles:
    """PEM files for a TLS connection (buildctl's ``--tlscacert/--tlscert/--tlskey``)."""

    ca: str | None = None
    cert: str | None = None
    key: str | None = None

    @property
    def any(self) -> bool:
        return bool(self.ca or self.cert or self.key)


@dataclass(frozen=True, slots=True)
class Endpoint:
    """A resolved BuildKit endpoint and how to reach it.

    ``address``: ``unix:///path`` or ``tcp://host:port`` for UNIX, TCP and DOCKER_SOCKET; for
    DIAL_STDIO the command line. ``env`` is the environment for dial commands.
    """

    transport: Transport
    address: str
    description: str
    builder: str | None = None
    driver: str | None = None
    tls: TLSFiles | None = None
    command: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict, repr=False)
    docker_host: str | None = None  # the Docker daemon behind a docker-driver builder


def resolve_endpoint(
    builder: str | None = None,
    addr: str | None = None,
    tls: TLSFiles | None = None,
    env: Mapping[str, str] = os.environ,
) -> Endpoint:
    """Resolve an endpoint from options and the environment; raises ``EndpointError``."""
    if addr is not None and builder is not None:
        raise EndpointError("give either a builder or an address, not both")
    env = dict(env)
    address = addr or env.get("BUILDKIT_HOST") or None
    if address is not None:
        source = "--addr" if addr else "BUILDKIT_HOST"
        return _from_address(address, tls, env, source)
    if tls is not None and tls.any:
        raise EndpointError("TLS files apply only to a tcp:// address (--addr or BUILDKIT_HOST)")
    config = DockerConfig(_docker_config_dir(env), env)
    name = builder or env.get("BUILDX_BUILDER") or None
    source = "--builder" if builder else "BUILDX_BUILDER"
    if name is None:
        name = config.current_builder()
        source = "current buildx builder"
    if name is None:
        context = config.current_context()
        return _docker_endpoint(config, context, context, "current docker context")
    if name in config.context_names():
        return _docker_endpoint(config, name, name, source)
    instance = config.builder_instance(name)
    if instance is None:
        known = sorted({*config.context_names(), *config.instance_names()})
        raise EndpointError(f"no buildx builder named {name!r} (known: {', '.join(known)})")
    driver = str(instance.get("Driver") or "unknown")
    if driver == "docker":
        nodes = instance.get("Nodes")
        first = nodes[0] if isinstance(nodes, list) and nodes else {}
        ctx = first.get("Endpoint") if isinstance(first, dict) else None
        ctx_name = ctx if isinstance(ctx, str) and ctx else config.current_context()
        return _docker_endpoint(config, name, ctx_name, source)
    command = ("docker", "buildx", "dial-stdio", "--progress=quiet", "--builder", name)
    return Endpoint(
        Transport.DIAL_STDIO,
        " ".join(command),
        f"{' '.join(command)} (builder {name} from {source}, driver {driver})",
        builder=name,
        driver=driver,
        command=command,
        env=env,
    )


def _from_address(address: str, tls: TLSFiles | None, env: dict[str, str], source: str) -> Endpoint:
    parts = urlsplit(address)
    scheme = parts.scheme
    if scheme == "unix":
        if tls is not None and tls.any:
            raise EndpointError("TLS files apply only to tcp:// addresses")
        path = parts.path or parts.netloc
        if not path:
            raise EndpointError(f"address {address!r} has no socket path")
        return Endpoint(Transport.UNIX, f"unix://{path}", f"buildkitd {address} (from {source})")
    if scheme == "tcp":
        if not parts.hostname or parts.port is None:
            raise EndpointError(f"address {address!r} needs a host and a port")
        how = "TLS" if tls is not None and tls.any else "plaintext"
        return Endpoint(
            Transport.TCP,
            f"tcp://{parts.hostname}:{parts.port}",
            f"buildkitd {address} ({how}, from {source})",
            tls=tls if tls is not None and tls.any else None,
        )
    if scheme == "docker-container":
        container = parts.hostname
        if not container:
            raise EndpointError(f"address {address!r} lacks a container name")
        context = parse_qs(parts.query).get("context", [""])[0]
        command: tuple[str, ...] = ("docker",)
        if context:
            command += (f"--context={context}",)
        command += ("exec", "-i", container, "buildctl", "dial-stdio")
        return Endpoint(
            Transport.DIAL_STDIO,
            " ".join(command),
            f"{' '.join(command)} (from {source})",
            command=command,
            env=env,
        )
    raise EndpointError(
        f"unsupported BuildKit address {address!r} "
        "(use unix://PATH, tcp://HOST:PORT or docker-container://NAME)"
    )


def _docker_endpoint(config: DockerConfig, builder: str, context: str, source: str) -> Endpoint:
    host, tls = config.context_host(context)
    scheme = urlsplit(host).scheme
    if scheme in ("unix", "tcp"):
        return Endpoint(
            Transport.DOCKER_SOCKET,
            host,
            f"docker socket {host} /grpc (builder {builder} from {source}, driver docker, "
            f"docker context {context})",
            builder=builder,
            driver="docker",
            tls=tls,
            env=config.env,
            docker_host=host,
        )
    # ssh:// and other hosts: let buildx make the connection.
    command = ("docker", "buildx", "dial-stdio", "--progress=quiet", "--builder", builder)
    return Endpoint(
        Transport.DIAL_STDIO,
        " ".join(command),
        f"{' '.join(command)} (builder {builder} from {source}, driver docker, docker host {host})",
        builder=builder,
        driver="docker",
        command=command,
        env=config.env,
        docker_host=host,
    )


def _docker_config_dir(env: Mapping[str, str]) -> Path:
    given = env.get("DOCKER_CONFIG")
    if given:
        return Path(given)
    return Path(env.get("HOME") or Path.home()) / ".docker"


class DockerConfig:
    """The parts of ``$DOCKER_CONFIG`` that name builders and docker contexts."""

    def __init__(self, root: Path, env: Mapping[str, str]) -> None:
        self.root = root
        self.env = dict(env)

    def _json(self, path: Path) -> dict[str, object] | None:
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            raise EndpointError(f"cannot read {path}: {exc}") from exc
        if not isinstance(data, dict):
            raise EndpointError(f"cannot read {path}: not a JSON object")
        return data

    # docker contexts
    def _contexts(self) -> dict[str, dict[str, object]]:
        found: dict[str, dict[str, object]] = {}
        meta = self.root / "contexts" / "meta"
        if meta.is_dir():
            for path in sorted(meta.glob("*/meta.json")):
                data = self._json(path)
                if data and isinstance(data.get("Name"), str):
                    found[str(data["Name"])] = data
        return found

    def context_names(self) -> set[str]:
        return {"default", *self._contexts()}

    def current_context(self) -> str:
        if self.env.get("DOCKER_CONTEXT"):
            return self.env["DOCKER_CONTEXT"]
        if self.env.get("DOCKER_HOST"):
            return "default"
        config = self._json(self.root / "config.json") or {}
        current: object = config.get("currentContext")
        return current if isinstance(current, str) and current else "default"

    def context_host(self, name: str) -> tuple[str, TLSFiles | None]:
        if name == "default":
            host = self.env.get("DOCKER_HOST") or DEFAULT_DOCKER_HOST
            tls: TLSFiles | None = None
            cert_path = self.env.get("DOCKER_CERT_PATH")
            if host.startswith("tcp://") and self.env.get("DOCKER_TLS_VERIFY") and cert_path:
                d = Path(cert_path)
                tls = TLSFiles(str(d / "ca.pem"), str(d / "cert.pem"), str(d / "key.pem"))
            return host, tls
        context = self._contexts().get(name)
        if context is None:
            raise EndpointError(f"no docker context named {name!r}")
        endpoints = context.get("Endpoints")
        docker = endpoints.get("docker") if isinstance(endpoints, dict) else None
        ctx_host = docker.get("Host") if isinstance(docker, dict) else None
        if not isinstance(ctx_host, str) or not ctx_host:
            raise EndpointError(f"docker context {name!r} has no docker host")
        digest = hashlib.sha256(name.encode()).hexdigest()
        tls_dir = self.root / "contexts" / "tls" / digest / "docker"
        tls = None
        if tls_dir.is_dir():
            files = [tls_dir / n for n in ("ca.pem", "cert.pem", "key.pem")]
            ca, cert, key = (str(p) if p.is_file() else None for p in files)
            tls = TLSFiles(ca, cert, key)
        return ctx_host, tls

    # buildx
    def current_builder(self) -> str | None:
        """The builder ``docker buildx use`` chose for the current docker endpoint, if any."""
        current = self._json(self.root / "buildx" / "current")
        if not current:
            return None
        name = current.get("Name")
        if not isinstance(name, str) or not name:
            return None
        if current.get("Global"):
            return name
        context = self.current_context()
        key = self.context_host(context)[0] if context in self.context_names() else None
        return name if current.get("Key") in (key, context) else None

    def instance_names(self) -> set[str]:
        d = self.root / "buildx" / "instances"
        return {p.name for p in d.iterdir() if p.is_file()} if d.is_dir() else set()

    def builder_instance(self, name: str) -> dict[str, object] | None:
        if "/" in name or name.startswith("."):
            return None
        return self._json(self.root / "buildx" / "instances" / name)


def add_endpoint_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``--builder/--addr/--tls*`` options every command that talks to BuildKit takes."""
    group = parser.add_argument_group("builder")
    group.add_argument("--builder", metavar="NAME", help="buildx builder (default: current)")
    group.add_argument(
        "--addr",
        metavar="ADDR",
        help="BuildKit address: unix://PATH, tcp://HOST:PORT, docker-container://NAME "
        "(default: $BUILDKIT_HOST)",
    )
    group.add_argument("--tlscacert", metavar="FILE", help="CA certificate for tcp://")
    group.add_argument("--tlscert", metavar="FILE", help="client certificate for tcp://")
    group.add_argument("--tlskey", metavar="FILE", help="client key for tcp://")


def endpoint_from_args(args: argparse.Namespace) -> Endpoint:
    """Resolve the endpoint the options of ``add_endpoint_arguments`` name."""
    tls = TLSFiles(args.tlscacert, args.tlscert, args.tlskey)
    return resolve_endpoint(args.builder, args.addr, tls if tls.any else None)
