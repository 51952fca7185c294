"""Scrub secrets from a JSON-able tree before it is written anywhere.

Captures and reports get attached to tickets, so anything that looks like a credential is
replaced by ``<redacted>``:

- values of names that look secret (TOKEN, SECRET, PASSWORD, PASSWD, CREDENTIAL, KEY, AUTH,
  PASS, PWD, COOKIE, SESSION, PRIVATE as a name part): dict entries (build args, env maps),
  ``NAME=value`` inside any string (env entries, command lines, ``RUN export …``), and
  ``ARG``/``ENV`` lines of Dockerfile text;
- credentials in URLs (``scheme://user:pass@host``, ``https://token@host``);
- known token shapes (GitHub, GitLab, AWS access key ids, Slack, npm, OpenAI-style keys, JWTs,
  ``Bearer`` / ``Authorization:`` values, PEM private keys).

Redaction is one-way: what was redacted cannot be compared across captures. Names are kept, so
a report can still say *which* variable carried a secret.
"""

from __future__ import annotations

import re
from typing import Any

REDACTED = "<redacted>"

_LONG_WORDS = ("TOKEN", "SECRET", "PASSWORD", "PASSWD", "CREDENTIAL", "PASSPHRASE", "APIKEY")
_PARTS = frozenset(
    {"KEY", "KEYS", "AUTH", "PASS", "PWD", "COOKIE", "SESSION", "PRIVATE", "CREDS", "SIG"}
)
_NOT_SECRET = frozenset({"PWD", "OLDPWD", "SSH_AUTH_SOCK", "KEYBOARD", "GPG_KEY_ID"})


def is_secret_name(name: str) -> bool:
    """Whether a variable/argument name looks like it holds a credential."""
    base = name.rsplit(":", 1)[-1].strip().upper()
    if not base or base in _NOT_SECRET:
        return False
    if any(word in base for word in _LONG_WORDS):
        return True
    return any(part in _PARTS for part in re.split(r"[_.\-]+", base))


_ASSIGN = re.compile(
    r"""(?P<name>\b[A-Za-z_][A-Za-z0-9_.]*)=(?P<value>"[^"]*"|'[^']*'|[^\s;&|"',]+)"""
)
_DOCKERFILE_KV = re.compile(
    r"(?im)^(?P<head>[ \t]*(?:ARG|ENV)[ \t]+)(?P<name>[A-Za-z_][A-Za-z0-9_]*)"
    r"(?P<sep>[ \t]+)(?P<value>\S.*)$"
)
_URL_USERINFO = re.compile(r"(?i)\b(?P<scheme>[a-z][a-z0-9+.\-]*://)(?P<userinfo>[^/\s@'\"]+)@")
_TOKENS = re.compile(
    "|".join(
        (
            r"\bgh[pousr]_[A-Za-z0-9]{30,}",
            r"\bgithub_pat_[A-Za-z0-9_]{22,}",
            r"\bglpat-[A-Za-z0-9_\-]{20,}",
            r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b",
            r"\bxox[abposr]-[A-Za-z0-9\-]{10,}",
            r"\bnpm_[A-Za-z0-9]{36}\b",
            r"\bsk-(?:proj-)?[A-Za-z0-9_\-]{20,}",
            r"\beyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}",
            r"-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?(?:-----END [A-Z ]*PRIVATE KEY-----|$)",
        )
    )
)
_BEARER = re.compile(
    r"(?i)\b(?P<head>(?:bearer|basic|token)[ \t]+)(?P<value>[A-Za-z0-9._~+/=\-]{8,})"
)
_AUTH_HEADER = re.compile(
    r"(?i)(?P<head>\b(?:authorization|x-api-key|private-token)[ \t]*:[ \t]*)"
    r"(?P<value>[^\s'\"]+(?:[ \t]+[^\s'\"]+)?)"
)


# Every pattern below needs one of these; most strings (file paths, digests) have none.
_TRIGGER = re.compile(
    r"=|://|gh[pousr]_|github_pat_|glpat-|AKIA|ASIA|xox|npm_|sk-|eyJ|-----BEGIN"
    r"|(?i:bearer|basic|token|authorization|x-api-key|private-token)"
    r"|(?im:^[ \t]*(?:ARG|ENV)[ \t])"
)


def redact_text(text: str) -> str:
    """Redact secrets inside one string (a command line, a log line, Dockerfile text)."""
    if not text or _TRIGGER.search(text) is None:
        return text
    out = _TOKENS.sub(REDACTED, text)
    out = _URL_USERINFO.sub(_url_sub, out)
    out = _AUTH_HEADER.sub(_header_sub, out)
    out = _BEARER.sub(_bearer_sub, out)
    out = _ASSIGN.sub(_assign_sub, out)
    return _DOCKERFILE_KV.sub(_dockerfile_sub, out)


def _is_reference(value: str) -> bool:
    """A shell/Dockerfile reference (``$TOKEN``, ``${TOKEN}``, ``$(cat /run/secrets/x)``)
    names where a secret comes from; it is not the secret, and redacting it would hide how
    the build gets its credentials."""
    return value.lstrip("\"'").startswith("$")


def _url_sub(m: re.Match[str]) -> str:
    if m.group("userinfo") in ("git", REDACTED):
        return m.group(0)
    return m.group("scheme") + REDACTED + "@"


def _header_sub(m: re.Match[str]) -> str:
    value = m.group("value")
    if _is_reference(value.split()[-1]):
        return m.group(0)
    return m.group("head") + REDACTED


def _bearer_sub(m: re.Match[str]) -> str:
    value = m.group("value")
    return m.group(0) if value == REDACTED or _is_reference(value) else m.group("head") + REDACTED


def _assign_sub(m: re.Match[str]) -> str:
    value = m.group("value")
    if is_secret_name(m.group("name")) and value not in ("", REDACTED) and not _is_reference(value):
        return f"{m.group('name')}={REDACTED}"
    value = m.group("value")
    if "=" in value:  # e.g. --build-arg=NPM_TOKEN=value: look inside the value too
        return f"{m.group('name')}={_ASSIGN.sub(_assign_sub, value)}"
    return m.group(0)


def _dockerfile_sub(m: re.Match[str]) -> str:
    if is_secret_name(m.group("name")) and "=" not in m.group("value").split()[0]:
        return f"{m.group('head')}{m.group('name')}{m.group('sep')}{REDACTED}"
    return m.group(0)


class Redactor:
    """The redaction policy, in the shape ``codec.to_jsonable`` takes as its ``scrub``."""

    redacted = REDACTED

    def text(self, value: str) -> str:
        return redact_text(value)

    def is_secret_entry(self, key: str, value: str) -> bool:
        return bool(value) and value != REDACTED and is_secret_name(key)


def redact_tree(value: Any) -> Any:
    """A copy of a plain JSON tree with every secret-looking value redacted."""
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, list):
        return [redact_tree(v) for v in value]
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for k, v in value.items():
            if isinstance(v, str) and v and is_secret_name(str(k)):
                out[k] = REDACTED
            else:
                out[k] = redact_tree(v)
        return out
    return value
