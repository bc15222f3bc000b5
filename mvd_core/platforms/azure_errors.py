"""How an Azure SDK error is told to a user: status and service error code, optionally the
first line of the service's message, never a token or key (redacted)."""

from __future__ import annotations

from azure.core.exceptions import AzureError, HttpResponseError

from mvd_core.logs import redact


def reason(exc: AzureError, *, message: bool = False) -> str:
    if isinstance(exc, HttpResponseError) and exc.status_code is not None:
        code = getattr(exc, "error_code", None) or (getattr(exc.error, "code", None) if exc.error is not None else None)
        code = getattr(code, "value", code)  # storage SDKs hand out error-code enums
        detail = f"HTTP {exc.status_code}" + (f" {code}" if code else "")
    else:
        detail = type(exc).__name__
    if not message:
        return detail
    first_line = (str(getattr(exc, "message", "") or exc).splitlines() or [""])[0][:200]
    return redact(f"{detail}: {first_line}" if first_line else detail)
