"""One HTTP client per EDC API (httpx), with errors that name the runtime and the URL.

An error message carries the method, URL, status and the start of the answer, never the API
key: it is sent only as the ``x-api-key`` header, and any copy of it (or of another secret the
client knows) in an answer is replaced by ``***``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

import httpx
from pydantic import SecretStr

from mvd_core.errors import ExternalError
from mvd_core.logs import redact

T = TypeVar("T")

ERROR_BODY_CHARS = 300


class EdcApiError(ExternalError):
    """An EDC API answered an error (``http_status``) or could not be reached (``http_status`` None)."""

    def __init__(self, message: str, *, http_status: int | None = None) -> None:
        super().__init__(message)
        self.http_status = http_status


class EdcTimeout(EdcApiError):
    status = 504


class EdcApi:
    """Base of the clients: ``runtime`` names the runtime in messages (``a/connector``)."""

    kind = "EDC API"

    def __init__(
        self,
        base_url: str,
        *,
        runtime: str,
        api_key: SecretStr | str | None = None,
        client: httpx.Client | None = None,
        timeout: float = 30.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.runtime = runtime
        self._api_key = SecretStr(api_key) if isinstance(api_key, str) else api_key
        self._client = client or httpx.Client(timeout=timeout, trust_env=False, follow_redirects=False)
        self._secrets: list[str] = [self._api_key.get_secret_value()] if self._api_key else []

    def close(self) -> None:
        self._client.close()

    def _hide(self, text: str) -> str:
        for secret in self._secrets:
            if secret:
                text = text.replace(secret, "***")
        return redact(text)

    def _remember_secret(self, value: str) -> None:
        """A secret an answer carried (a generated key): never repeated in a later error."""
        self._secrets.append(value)

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        form: dict[str, str] | None = None,
        ok: Iterable[int] = (200, 201, 204),
    ) -> httpx.Response:
        """``method`` ``base_url + path`` (a JSON body, or ``form`` URL-encoded); EdcApiError
        unless the status is in ``ok``."""
        url = self.base_url + path
        headers = {"x-api-key": self._api_key.get_secret_value()} if self._api_key else {}
        try:
            response = self._client.request(method, url, json=json, data=form, headers=headers)
        except httpx.HTTPError as exc:
            raise EdcApiError(
                f"{self.kind} of {self.runtime}: {method} {url} failed ({type(exc).__name__}: {self._hide(str(exc))})"
            ) from None
        if response.status_code not in set(ok):
            body = " ".join(response.text.split())[:ERROR_BODY_CHARS]
            raise EdcApiError(
                f"{self.kind} of {self.runtime}: {method} {url} answered HTTP {response.status_code}"
                + (f": {self._hide(body)}" if body else ""),
                http_status=response.status_code,
            )
        return response

    def json(self, method: str, path: str, *, json: Any = None, ok: Iterable[int] = (200, 201)) -> Any:
        response = self.request(method, path, json=json, ok=ok)
        try:
            return response.json()
        except ValueError:
            raise EdcApiError(
                f"{self.kind} of {self.runtime}: {method} {self.base_url + path} answered HTTP "
                f"{response.status_code} with a body that is not JSON"
            ) from None


def poll(what: str, check: Callable[[], T | None], *, timeout: float, interval: float = 0.5) -> T:
    """``check()`` until it returns something other than None; EdcTimeout after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result is not None:
            return result
        left = deadline - time.monotonic()
        if left <= 0:
            raise EdcTimeout(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(min(interval, left))
