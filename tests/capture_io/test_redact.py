from __future__ import annotations

import pytest

from cachetrace.capture_io.codec import to_jsonable
from cachetrace.capture_io.redact import REDACTED, Redactor, is_secret_name, redact_text

GHP = "ghp_" + "a1B2c3D4e5" * 3 + "a1B2c3"


@pytest.mark.parametrize(
    "name",
    [
        "GITHUB_TOKEN",
        "build-arg:NPM_TOKEN",
        "DB_PASSWORD",
        "AWS_SECRET_ACCESS_KEY",
        "API_KEY",
        "MYSECRET",
        "passwd",
        "BASIC_AUTH",
        "REGISTRY_CREDENTIALS",
        "SSH_PRIVATE_KEY",
    ],
)
def test_secret_names(name: str) -> None:
    assert is_secret_name(name)


@pytest.mark.parametrize(
    "name", ["GOOS", "GOPROXY", "PWD", "HOME", "PATH", "TARGETARCH", "http_proxy", "MONKEY"]
)
def test_plain_names(name: str) -> None:
    assert not is_secret_name(name)


@pytest.mark.parametrize(
    ("text", "leak"),
    [
        ("export GITHUB_TOKEN=abc123xyz && go build", "abc123xyz"),
        ("--build-arg=NPM_TOKEN=npmvalue42", "npmvalue42"),
        ("HTTPS_PROXY=http://user:s3cret@proxy.invalid:3128", "s3cret"),
        ("git clone https://oauth2:glpat-abcdefghijklmnopqrst@gitlab.example/x.git", "glpat-"),
        (f"echo {GHP} | docker login", GHP),
        ("curl -H 'Authorization: Bearer abcdefghijklmnop' https://x", "abcdefghijklmnop"),
        ("ARG DB_PASSWORD hunter2hunter2\nRUN true", "hunter2hunter2"),
        ("AKIAABCDEFGHIJKLMNOP is the id", "AKIAABCDEFGHIJKLMNOP"),
        (
            "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXk\n"
            "-----END OPENSSH PRIVATE KEY-----",
            "b3BlbnNzaC1rZXk",
        ),
    ],
)
def test_redact_text_removes_secrets(text: str, leak: str) -> None:
    out = redact_text(text)
    assert leak not in out
    assert REDACTED in out


def test_dockerfile_redaction_stays_on_its_line() -> None:
    text = "ARG GITHUB_TOKEN\nWORKDIR /app\nENV API_KEY abc123\nENV GOOS linux\n"
    assert (
        redact_text(text)
        == "ARG GITHUB_TOKEN\nWORKDIR /app\nENV API_KEY <redacted>\nENV GOOS linux\n"
    )


@pytest.mark.parametrize(
    "text",
    [
        "export GITHUB_TOKEN=$GITHUB_TOKEN && make",
        "NPM_TOKEN=${NPM_TOKEN} npm ci",
        'curl -H "Authorization: Bearer $(cat /run/secrets/tok)" https://x',
        "wget --header='Authorization: token $TOKEN' https://x",
    ],
)
def test_references_to_secrets_are_kept(text: str) -> None:
    assert redact_text(text) == text


def test_redact_text_keeps_plain_text() -> None:
    text = "RUN --mount=type=cache,target=/go/pkg/mod GOOS=linux GOARCH=arm64 go build ./..."
    assert redact_text(text) == text
    assert redact_text("https://proxy.golang.org,direct") == "https://proxy.golang.org,direct"
    assert redact_text("sha256:" + "ab" * 32) == "sha256:" + "ab" * 32


def test_mapping_entries_redacted_but_dataclass_field_names_are_not() -> None:
    from dataclasses import dataclass

    @dataclass(frozen=True)
    class Holder:
        secret_id: str
        key_digest: str
        build_args: dict[str, str]

    out = to_jsonable(
        Holder("tok", "sha256:1", {"GITHUB_TOKEN": "v4lue", "GOOS": "linux"}), Redactor()
    )
    assert out == {
        "secret_id": "tok",
        "key_digest": "sha256:1",
        "build_args": {"GITHUB_TOKEN": REDACTED, "GOOS": "linux"},
    }
