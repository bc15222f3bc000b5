"""The typed spec of one EDC runtime process: settings, API ports, secrets by vault alias, memory, start order."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from mvd_core.runtimes.kinds import RuntimeKind


class ApiEndpoint(BaseModel):
    """One EDC web context (``web.http.<name>.port`` / ``.path``; ``default`` is ``web.http.port``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    port: int = Field(ge=1, le=65535)
    path: str


class RuntimeSpec(BaseModel):
    """What one runtime process is: its EDC settings (never a secret value), APIs, secrets and order.

    ``name`` is unique within the participant (``connector``, ``identityhub``, ``catalog``,
    ``dataplane-0``...); ``secrets`` maps a vault alias to a description of what it holds;
    ``start_after`` names the runtimes of the same participant that must be ready first.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    participant: str
    name: str
    kind: RuntimeKind
    settings: dict[str, str]
    apis: dict[str, ApiEndpoint]
    secrets: dict[str, str] = Field(default_factory=dict)
    readiness_path: str = "/api/check/readiness"
    heap_mb: int = Field(320, ge=32)
    start_after: list[str] = Field(default_factory=list)

    def url(self, api: str) -> str:
        """The base URL of one of this runtime's APIs, e.g. ``url("management")``."""
        endpoint = self.apis[api]
        return f"http://localhost:{endpoint.port}{endpoint.path}"

    def properties(self) -> str:
        """The settings as a Java properties file (what ``-Dedc.fs.config=<file>`` reads)."""
        lines = [f"{_escape(key, is_key=True)}={_escape(value)}" for key, value in sorted(self.settings.items())]
        return "\n".join(lines) + "\n"

    @property
    def readiness_url(self) -> str:
        """Where the runtime answers 200 once every component is ready (on the default context)."""
        return f"http://localhost:{self.apis['default'].port}{self.readiness_path}"


def _escape(text: str, *, is_key: bool = False) -> str:
    """java.util.Properties escaping: backslash, line breaks, a leading space (any space, ``=``,
    ``:``, ``#``, ``!`` in a key) and every non-ASCII character as \\uXXXX."""
    out = []
    for index, ch in enumerate(text):
        if ch == "\\":
            out.append("\\\\")
        elif ch in "\n\r\t\f":
            out.append({"\n": "\\n", "\r": "\\r", "\t": "\\t", "\f": "\\f"}[ch])
        elif ch == " " and (is_key or index == 0):
            out.append("\\ ")
        elif is_key and ch in "=:#!":
            out.append("\\" + ch)
        elif not " " <= ch <= "~":
            out.extend(f"\\u{unit:04x}" for unit in _utf16(ch))
        else:
            out.append(ch)
    return "".join(out)


def _utf16(ch: str) -> list[int]:
    data = ch.encode("utf-16-be")
    return [int.from_bytes(data[i : i + 2], "big") for i in range(0, len(data), 2)]
