"""The local API's bearer token: MVD_API_TOKEN, or one generated on first start and kept
0600 under the state directory."""

from __future__ import annotations

import hmac
import os
import secrets
from pathlib import Path

from mvd_core.errors import MvdError
from mvd_core.settings import Settings, check_api_token
from mvd_core.state import private_dir, private_file

TOKEN_FILE = "api-token"


def load_or_create(settings: Settings) -> tuple[str, bool]:
    """The token, and whether it was created just now (then it is shown once). A token file
    that is empty or too short is refused (MvdError naming the file), never replaced."""
    settings.require_resolved("api_token")
    if settings.api_token is not None:
        return settings.api_token.get_secret_value(), False
    path = settings.home / TOKEN_FILE
    if path.is_file():
        return _read_file(private_file(path)), False  # one an older version left 0644 is narrowed
    private_dir(settings.home)
    token = secrets.token_urlsafe(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(token + "\n")
    return token, True


def read(settings: Settings) -> str | None:
    """The token a CLI on this machine uses to talk to the local server, if it can find one."""
    settings.require_resolved("api_token")
    if settings.api_token is not None:
        return settings.api_token.get_secret_value()
    path = settings.home / TOKEN_FILE
    return _read_file(path) if path.is_file() else None


def _read_file(path: Path) -> str:
    # The file's line break (and an editor's trailing whitespace) is not part of the token.
    token = path.read_text("utf-8", errors="replace").strip()
    try:
        check_api_token(token)
    except ValueError as exc:
        raise MvdError(f"{path}: {exc} (delete the file to have a new token generated, or set MVD_API_TOKEN)") from None
    return token


def matches(expected: str, authorization: str | None) -> bool:
    """Whether an ``Authorization`` header carries exactly ``expected``: the scheme ``Bearer``
    in any case and spaces (RFC 7235), then the token character for character: nothing else is
    stripped, so a token with a NBSP or a tab around it is a different token."""
    if not authorization or not expected:
        return False
    scheme, sep, presented = authorization.partition(" ")
    if not sep or scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(presented.lstrip(" ").encode(), expected.encode())
