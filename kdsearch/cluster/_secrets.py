"""Refuse cluster files that carry credentials.

Cluster files get committed and shared; a key pasted into one leaks. AWS nodes should get
credentials from an IAM instance profile and Kubernetes pods from a service-account role or a
Secret reference, so any literal credential is an error. The scan works on the raw text (before
YAML parsing) so that it also catches secrets inside comments or in a file that does not parse,
and it reports the line but never echoes the value.
"""

from __future__ import annotations

import re

from kdsearch.errors import UserError

# Key names whose value is a credential when written inline, as YAML (`key: v`) or shell (`KEY=v`).
_CREDENTIAL_KEYS = ("aws_access_key_id", "aws_secret_access_key", "aws_session_token", "ray_auth_token")
_INLINE_CREDENTIAL = re.compile(
    r"\b(?P<key>" + "|".join(_CREDENTIAL_KEYS) + r")\b[\"']?[ \t]*[:=][ \t]*(?P<value>[^\s#,}]+)",
    re.IGNORECASE,
)
# Kubernetes env entries: `- name: AWS_SECRET_ACCESS_KEY` followed by a literal `value:`
# (a `valueFrom: secretKeyRef` is the right way and passes).
_ENV_CREDENTIAL = re.compile(
    r"name:[ \t]*[\"']?(?P<key>" + "|".join(k.upper() for k in _CREDENTIAL_KEYS) + r")[\"']?[ \t]*\n"
    r"[ \t]*value:[ \t]*(?P<value>[^\s#]+)",
)
# AWS access key ids have a fixed shape: AKIA (long-term) or ASIA (temporary) + 16 characters.
_ACCESS_KEY_ID = re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b")
_PASSWORD = re.compile(r"(?<![A-Za-z])password[\"']?[ \t]*:[ \t]*(?P<value>[^\s#]+)", re.IGNORECASE)
_PRIVATE_KEY = re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----")

_ADVICE = (
    "remove it: give AWS nodes an IAM instance profile and pods a service-account role or a "
    "Kubernetes Secret (valueFrom.secretKeyRef) instead of credentials in the file"
)


def _is_literal(value: str) -> bool:
    """True when a value is an actual secret, not empty and not a reference to one."""
    value = value.strip("\"'")
    return bool(value) and not value.startswith(("$", "{{", "<"))


def _line_of(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def find_secret(text: str) -> tuple[int, str] | None:
    """First credential-looking thing in a file's text.

    Args:
        text: The whole file.

    Returns:
        `(line, what)` for the first finding (1-based line, a description without the value), or
        None when the text looks clean.
    """
    findings: list[tuple[int, str]] = []
    for match in _INLINE_CREDENTIAL.finditer(text):
        if _is_literal(match["value"]):
            findings.append((match.start(), f"{match['key']} with a value"))
    for match in _ENV_CREDENTIAL.finditer(text):
        if _is_literal(match["value"]):
            findings.append((match.start(), f"{match['key']} set to a literal value"))
    for match in _ACCESS_KEY_ID.finditer(text):
        findings.append((match.start(), "an AWS access key id (AKIA.../ASIA...)"))
    for match in _PASSWORD.finditer(text):
        if _is_literal(match["value"]):
            findings.append((match.start(), "a password with a value"))
    for match in _PRIVATE_KEY.finditer(text):
        findings.append((match.start(), "a private key"))
    if not findings:
        return None
    offset, what = min(findings)
    return _line_of(text, offset), what


def refuse_secrets(text: str, path: str) -> None:
    """Raise UserError naming the line of the first credential found in `text`.

    Args:
        text: The whole file.
        path: The file's path, for the message.

    Raises:
        UserError: `path: line N: looks like ...; remove it: ...`.
    """
    found = find_secret(text)
    if found is not None:
        line, what = found
        raise UserError(f"looks like {what}; {_ADVICE}", file=path, field=f"line {line}")
