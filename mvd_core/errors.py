"""The one error type a user sees. Everything that reaches a CLI or HTTP caller is an
``MvdError`` with a message that names the problem; anything else is a bug and is logged,
not shown."""

from __future__ import annotations


class MvdError(Exception):
    """An error meant for the user. ``status`` is the HTTP status the API answers with."""

    status: int = 400

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status

    def __str__(self) -> str:
        return self.message

    @property
    def local_message(self) -> str:
        """The message for a user on this machine (the CLI): may name local paths that the
        API's ``message`` leaves out."""
        return self.message


class NotFound(MvdError):
    status = 404


class Conflict(MvdError):
    status = 409


class Unauthorized(MvdError):
    status = 401


class ExternalError(MvdError):
    """A system we talk to (cloud API, cluster, DID host) failed or answered wrongly."""

    status = 502
