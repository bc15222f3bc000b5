"""The local API's bearer token: MVD_API_TOKEN, or one generated on first start and kept
0600 under the state directory."""

from __future__ import annotations

import hmac
import os
import secrets

from mvd_core.settings import Settings

TOKEN_FILE = "api-token"


def load_or_create(settings: Settings) -> tuple[str, bool]:
    """The token, and whether it was created just now (then it is shown once)."""
    if settings.api_token is not None:
        return settings.api_token.get_secret_value(), False
    path = settings.home / TOKEN_FILE
    if path.is_file():
        return path.read_text("utf-8").strip(), False
    settings.home.mkdir(parents=True, exist_ok=True, mode=0o700)
    token = secrets.token_urlsafe(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(token + "\n")
    return token, True


def read(settings: Settings) -> str | None:
    """The token a CLI on this machine uses to talk to the local server, if it can find one."""
    if settings.api_token is not None:
        return settings.api_token.get_secret_value()
    path = settings.home / TOKEN_FILE
    return path.read_text("utf-8").strip() if path.is_file() else None


def matches(expected: str, authorization: str | None) -> bool:
    if not authorization or not authorization.startswith("Bearer "):
        return False
    return hmac.compare_digest(authorization[len("Bearer "):].strip().encode(), expected.encode())
