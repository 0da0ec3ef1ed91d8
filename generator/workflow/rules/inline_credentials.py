"""Credentials written in the file: in storage_providers, or in environment variables (by their name or by
the shape of their value). A finding names the kind of secret, never its value."""
from __future__ import annotations

import re
from collections.abc import Iterator

from generator.workflow.findings import Finding, Place
from generator.workflow.rules.catalog import rule
from generator.workflow.rules.wording import SECRET_NAME
from generator.workflow.schema import StorageProvidersSpec

RULE = rule("AVG015")
# Values shaped like a credential whatever the variable's name.
SECRET_VALUES = (
    ("GitHub token", re.compile(r"\b(gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{22,})")),
    ("Slack webhook URL", re.compile(r"hooks\.slack\.com/(services|workflows|triggers)/[A-Za-z0-9/_-]+")),
    ("Slack token", re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}")),
    ("AWS access key id", re.compile(r"\b(AKIA|ASIA)[0-9A-Z]{16}\b")),
    ("private key", re.compile(r"-----BEGIN ([A-Z0-9]+ )*PRIVATE KEY( BLOCK)?-----")),
)
# Values that name where a secret is kept rather than hold it (what the hint asks for).
SECRET_STORE_REFERENCES = ("arn:aws:ssm:", "arn:aws:secretsmanager:", "{{resolve:")
STORE_HINT = "store it in SSM Parameter Store (SecureString) or Secrets Manager and have the script read it"


def secret_value_kind(text: str) -> str | None:
    """What credential a value looks like (`GitHub token`, …), or None."""
    return next((kind for kind, pattern in SECRET_VALUES if pattern.search(text)), None)


def variable(name: str, text: str, place: Place) -> Finding | None:
    """An environment variable whose name says it holds a secret, or whose value looks like one."""
    if SECRET_NAME.search(name) and text and not text.startswith(SECRET_STORE_REFERENCES):
        return RULE.at(place, f"environment variable `{name}` looks like a secret written in the file",
                       STORE_HINT, key=True)
    kind = secret_value_kind(text)
    if kind:
        return RULE.at(place, f"environment variable `{name}` holds what looks like "
                       f"{'an' if kind[0] in 'AEIOU' else 'a'} {kind} written in the file", STORE_HINT, key=True)
    return None


def providers(spec: StorageProvidersSpec | None, place: Place) -> Iterator[Finding]:
    """`place`: that of `storage_providers`."""
    if spec is None:
        return
    for kind in ("s3", "minio", "onedata"):
        for ident, creds in getattr(spec, kind).items():
            for secret in ("access_key", "secret_key", "token"):
                if creds is not None and getattr(creds, secret, None):
                    yield RULE.at(place + (kind, ident, secret),
                                  f"storage_providers.{kind}.{ident}.{secret} is written in the file",
                                  "remove them: avgen never uses or renders credentials from the file; keep "
                                  "secrets in SSM Parameter Store or Secrets Manager, out of version control",
                                  key=True)
