"""``proxy-args-outside-key``: proxy build args that reach a step outside its cache key."""

from __future__ import annotations

from collections.abc import Iterator

from cachetrace.graph.key_view import OutsideKind
from cachetrace.model.llb import is_proxy_arg

from ..common import has_network, make_finding, network_of, shown
from ..context import BuildContext
from ..finding import Evidence, EvidenceKind, Finding, Severity
from ..rule import Rule
from ..shell import fetches, parse

ID = "proxy-args-outside-key"


def check(ctx: BuildContext) -> Iterator[Finding]:
    for group in ctx.groups():
        first = group.first
        exec_op = first.exec
        if exec_op is None or exec_op.meta.proxy_env is None:
            continue
        in_env = {name.lower() for name in first.env()}
        # With an ARG line the variable is also in env (and so in the key): not outside.
        proxies = {k: v for k, v in exec_op.meta.proxy_env.as_dict().items() if k not in in_env}
        if not proxies:
            continue
        request_args = sorted(
            k
            for k in first.provenance.request.build_args
            if is_proxy_arg(k) and k.lower() in proxies
        )
        fetching = [c.text for c in parse(first.command()) if fetches(c)]
        networked = has_network(exec_op)
        severity = Severity.WARNING if networked and fetching else Severity.INFO
        evidence = [
            Evidence(
                EvidenceKind.OP_FIELD,
                "meta.proxy_env: "
                + ", ".join(f"{k}={shown(v, 100)}" for k, v in sorted(proxies.items())),
            )
        ]
        if request_args:
            evidence.append(
                Evidence(
                    EvidenceKind.REQUEST,
                    f"build args {' and '.join(request_args)} have no ARG line: BuildKit "
                    "passes them as proxy env",
                )
            )
        kv = first.key_view()
        if kv is not None and kv.outside_of(OutsideKind.PROXY_ENV):
            names = ", ".join(
                o.name for o in kv.outside_of(OutsideKind.PROXY_ENV) if o.name in proxies
            )
            evidence.append(
                Evidence(
                    EvidenceKind.KEY,
                    f"exec cache key {kv.cache_digest} is computed without proxy_env ({names})",
                )
            )
        evidence.append(Evidence(EvidenceKind.OP_FIELD, f"network={network_of(exec_op)}"))
        if fetching:
            evidence.append(
                Evidence(
                    EvidenceKind.COMMAND,
                    "the step fetches: " + "; ".join(f"`{shown(t, 100)}`" for t in fetching[:3]),
                )
            )
        yield make_finding(
            ID,
            severity,
            "proxy settings reach this step outside its cache key"
            + (" and it fetches from the network" if severity is Severity.WARNING else ""),
            group=group,
            evidence=evidence,
            explanation=(
                "The Dockerfile frontend treats http_proxy, https_proxy, ftp_proxy, no_proxy "
                "and all_proxy (any case) given with --build-arg and no ARG line as proxy "
                "settings: they go to the op's proxy_env, which BuildKit removes before "
                "hashing the exec op. Changing the proxy, or where it points, never "
                "invalidates a cached step, so a step that fetched through one proxy is "
                "reused when another (with other content, other mirrors, other credentials) "
                "is configured."
            ),
            fix=(
                "If what the step fetches depends on the proxy, make it part of the key: "
                "declare `ARG HTTPS_PROXY` (then it is an env entry and in the key), or pin "
                "what is fetched (go.sum, checksums, lock files) so the proxy cannot change "
                "the result. Keep credentials out of proxy URLs; use a secret mount."
            ),
            key=",".join(sorted(proxies)),
        )


RULE = Rule(
    id=ID,
    title="Proxy build args outside the cache key",
    severity=Severity.WARNING,
    summary=(
        "Proxy build args (http_proxy, https_proxy, ftp_proxy, no_proxy, all_proxy, any "
        "case) passed without an ARG line land in ProxyEnv, which the exec key ignores; "
        "warning when the step fetches from the network."
    ),
    check=check,
)
