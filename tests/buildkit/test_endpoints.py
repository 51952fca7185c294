"""Endpoint resolution from options, environment variables and $DOCKER_CONFIG files."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from cachetrace.buildkit.endpoints import TLSFiles, Transport, resolve_endpoint
from cachetrace.errors import EndpointError


def _config(tmp: Path) -> Path:
    cfg = tmp / "docker-config"
    (cfg / "buildx" / "instances").mkdir(parents=True)
    return cfg


def _context(cfg: Path, name: str, host: str, tls: bool = False) -> None:
    digest = hashlib.sha256(name.encode()).hexdigest()
    meta = cfg / "contexts" / "meta" / digest
    meta.mkdir(parents=True)
    doc = {"Name": name, "Metadata": {}, "Endpoints": {"docker": {"Host": host}}}
    (meta / "meta.json").write_text(json.dumps(doc))
    if tls:
        d = cfg / "contexts" / "tls" / digest / "docker"
        d.mkdir(parents=True)
        for n in ("ca.pem", "cert.pem", "key.pem"):
            (d / n).write_text("pem")


def _instance(cfg: Path, name: str, driver: str) -> None:
    doc = {"Name": name, "Driver": driver, "Nodes": [{"Name": f"{name}0", "Endpoint": "x"}]}
    (cfg / "buildx" / "instances" / name).write_text(json.dumps(doc))


def test_docker_host_gives_the_docker_socket(tmp_path: Path) -> None:
    env = {"DOCKER_CONFIG": str(_config(tmp_path)), "DOCKER_HOST": "unix:///x/docker.sock"}
    ep = resolve_endpoint(env=env)
    assert ep.transport is Transport.DOCKER_SOCKET
    assert ep.address == "unix:///x/docker.sock" and ep.driver == "docker"
    assert ep.description.startswith("docker socket unix:///x/docker.sock /grpc (builder default")


def test_default_docker_host_without_anything(tmp_path: Path) -> None:
    ep = resolve_endpoint(env={"DOCKER_CONFIG": str(_config(tmp_path))})
    assert ep.address == "unix:///var/run/docker.sock"


def test_current_docker_context_from_config(tmp_path: Path) -> None:
    cfg = _config(tmp_path)
    _context(cfg, "remote", "tcp://10.0.0.1:2376", tls=True)
    (cfg / "config.json").write_text(json.dumps({"currentContext": "remote"}))
    ep = resolve_endpoint(env={"DOCKER_CONFIG": str(cfg)})
    assert ep.transport is Transport.DOCKER_SOCKET and ep.address == "tcp://10.0.0.1:2376"
    assert ep.tls is not None and ep.tls.ca and ep.tls.ca.endswith("ca.pem")
    assert "docker context remote" in ep.description
    # DOCKER_CONTEXT wins over config.json, DOCKER_HOST over config.json too
    env = {"DOCKER_CONFIG": str(cfg), "DOCKER_HOST": "unix:///h.sock"}
    assert resolve_endpoint(env=env).address == "unix:///h.sock"


def test_ssh_docker_host_falls_back_to_dial_stdio(tmp_path: Path) -> None:
    cfg = _config(tmp_path)
    _context(cfg, "far", "ssh://me@far")
    ep = resolve_endpoint(builder="far", env={"DOCKER_CONFIG": str(cfg)})
    assert ep.transport is Transport.DIAL_STDIO
    assert ep.command[-2:] == ("--builder", "far")


def test_buildx_current_and_named_builders(tmp_path: Path) -> None:
    cfg = _config(tmp_path)
    _instance(cfg, "kit", "docker-container")
    host = "unix:///y/docker.sock"
    (cfg / "buildx" / "current").write_text(json.dumps({"Key": host, "Name": "kit"}))
    env = {"DOCKER_CONFIG": str(cfg), "DOCKER_HOST": host}
    ep = resolve_endpoint(env=env)
    assert ep.transport is Transport.DIAL_STDIO and ep.builder == "kit"
    assert ep.command == ("docker", "buildx", "dial-stdio", "--progress=quiet", "--builder", "kit")
    assert "current buildx builder" in ep.description and "docker-container" in ep.description
    # the current builder belongs to another docker endpoint: ignored
    other = {"DOCKER_CONFIG": str(cfg), "DOCKER_HOST": "unix:///other.sock"}
    assert resolve_endpoint(env=other).transport is Transport.DOCKER_SOCKET
    # BUILDX_BUILDER and --builder
    assert resolve_endpoint(env={**other, "BUILDX_BUILDER": "kit"}).builder == "kit"
    assert resolve_endpoint("default", env=env).transport is Transport.DOCKER_SOCKET
    with pytest.raises(
        EndpointError, match=r"no buildx builder named 'nope' \(known: default, kit\)"
    ):
        resolve_endpoint("nope", env=env)


def test_addresses(tmp_path: Path) -> None:
    env = {"DOCKER_CONFIG": str(_config(tmp_path))}
    ep = resolve_endpoint(addr="unix:///run/buildkit/buildkitd.sock", env=env)
    assert ep.transport is Transport.UNIX and ep.address == "unix:///run/buildkit/buildkitd.sock"
    tls = TLSFiles(ca="/ca.pem", cert="/c.pem", key="/k.pem")
    ep = resolve_endpoint(addr="tcp://bk:1234", tls=tls, env=env)
    assert ep.transport is Transport.TCP and ep.tls == tls and "TLS" in ep.description
    ep = resolve_endpoint(env={**env, "BUILDKIT_HOST": "docker-container://bk?context=c"})
    assert ep.command == ("docker", "--context=c", "exec", "-i", "bk", "buildctl", "dial-stdio")
    assert "BUILDKIT_HOST" in ep.description


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"addr": "http://x"}, "unsupported BuildKit address"),
        ({"addr": "tcp://nohost"}, "needs a host and a port"),
        ({"addr": "docker-container://"}, "lacks a container name"),
        ({"addr": "unix:///a", "builder": "b"}, "not both"),
        ({"tls": TLSFiles(ca="/ca")}, "TLS files apply only"),
        ({"addr": "unix:///a", "tls": TLSFiles(ca="/ca")}, "only to tcp"),
    ],
)
def test_bad_input_is_one_clear_error(
    tmp_path: Path, kwargs: dict[str, object], message: str
) -> None:
    env = {"DOCKER_CONFIG": str(_config(tmp_path))}
    with pytest.raises(EndpointError, match=message) as info:
        resolve_endpoint(env=env, **kwargs)  # type: ignore[arg-type]
    assert "\n" not in str(info.value)


def test_corrupt_buildx_file_is_an_endpoint_error(tmp_path: Path) -> None:
    cfg = _config(tmp_path)
    (cfg / "buildx" / "current").write_text("{not json")
    with pytest.raises(EndpointError, match="cannot read"):
        resolve_endpoint(env={"DOCKER_CONFIG": str(cfg)})
