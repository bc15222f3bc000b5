"""Structured logging: every record carries the run id, participant and step in context.

Use ``log_context(run_id=..., participant=..., step=...)`` around work; ``get_logger(__name__)``
everywhere. ``configure()`` picks console (rich) or JSON lines from settings. A filter
redacts anything that looks like key material or a token, as a last line of defence: code
should never log secrets in the first place.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import traceback
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from types import MappingProxyType
from typing import Any

_CONTEXT_FIELDS = ("run_id", "participant", "step")
# Set with ``extra=`` on the records a query selects (the failed-run alert reads event and outcome).
_EVENT_FIELDS = ("event", "outcome", "action")
# Read-only: log_context sets a new mapping, so no context sees another's fields.
_context: contextvars.ContextVar[Mapping[str, str]] = contextvars.ContextVar(
    "mvd_log_context", default=MappingProxyType({})
)

# JWK private members, bearer tokens, PEM blocks, connection-string keys.
_SECRET_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r'("d"\s*:\s*")[^"]+(")'), r"\1***\2"),
    (re.compile(r"(Bearer\s+)[A-Za-z0-9._~+/=-]+"), r"\1***"),
    (re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?-----END [A-Z ]*PRIVATE KEY-----", re.DOTALL), "***"),
    (re.compile(r"((?:AccountKey|SharedAccessSignature|sig)=)[^;&\s]+"), r"\1***"),
]


def redact(text: str) -> str:
    for pattern, replacement in _SECRET_PATTERNS:
        text = pattern.sub(replacement, text)
    return text


@contextmanager
def log_context(**fields: str | None) -> Iterator[None]:
    current = dict(_context.get())
    current.update({k: v for k, v in fields.items() if v is not None})
    token = _context.set(current)
    try:
        yield
    finally:
        _context.reset(token)


# Set by configure_worker: records leave as JSON lines in their message (the Functions worker
# formats only the message; it drops ``extra`` fields).
_json_messages = False


class _ContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        ctx = _context.get()
        for name in _CONTEXT_FIELDS:
            if not hasattr(record, name):
                setattr(record, name, ctx.get(name))
        if getattr(record, "_mvd_json", False):
            return True
        record.msg = redact(record.getMessage())
        record.args = None
        if _json_messages:
            setattr(record, "_mvd_plain", record.msg)  # noqa: B010 (what an exporter sends instead)
            record.msg = JsonFormatter().format(record)
            setattr(record, "_mvd_json", True)  # noqa: B010 (not a LogRecord attribute mypy knows)
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for name in (*_CONTEXT_FIELDS, *_EVENT_FIELDS):
            value = getattr(record, name, None)
            if value:
                data[name] = value
        if record.exc_info:
            data["exc"] = redact(self.formatException(record.exc_info))
        return json.dumps(data, sort_keys=False)


class ConsoleFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        ctx = " ".join(f"{n}={getattr(record, n)}" for n in _CONTEXT_FIELDS if getattr(record, n, None))
        base = f"{record.levelname.lower():7} {record.name}: {record.getMessage()}"
        return f"{base} [{ctx}]" if ctx else base


def configure(
    level: str = "INFO", fmt: str = "console", *, console_level: str | None = None, file: Path | None = None
) -> None:
    """Console records at ``console_level`` (default ``level``); with ``file``, every record
    at ``level`` also goes there as JSON lines (the CLI keeps its terminal for progress)."""
    global _json_messages
    _json_messages = False
    root = logging.getLogger("mvd")
    root.setLevel(level.upper())
    for handler in list(root.handlers):
        root.removeHandler(handler)
        handler.close()
    console = logging.StreamHandler()
    console.setLevel((console_level or level).upper())
    console.addFilter(_ContextFilter())
    console.setFormatter(JsonFormatter() if fmt == "json" else ConsoleFormatter())
    root.addHandler(console)
    if file is not None:
        from mvd_core.state import private_file

        to_file_path = private_file(file)  # 0600 in a 0700 directory, whatever the umask
        to_file = logging.FileHandler(to_file_path, encoding="utf-8")
        to_file.addFilter(_ContextFilter())
        to_file.setFormatter(JsonFormatter())
        root.addHandler(to_file)
    root.propagate = False


def configure_worker(level: str = "INFO", fmt: str = "console") -> None:
    """Logging inside the Azure Functions Python worker: the ``mvd`` records go at ``level`` to
    the worker's own handler (on the root logger, which sends them to the host and Application
    Insights as traces), no handler of ours. With ``fmt="json"`` each message is the JSON line
    (run id, participant and step in it), since the worker passes on only the message."""
    global _json_messages
    root = logging.getLogger("mvd")
    root.setLevel(level.upper())
    for handler in list(root.handlers):
        root.removeHandler(handler)
        handler.close()
    root.propagate = True
    _json_messages = fmt == "json"


# The fields an exported record carries, under the names telemetry shows them by
# (Application Insights' customDimensions.runId ...).
_EXPORTED_FIELDS = {
    "run_id": "runId",
    "participant": "participant",
    "step": "step",
    "event": "event",
    "outcome": "outcome",
    "action": "action",
}
# The exporter's own records would be exported by the exporter.
_NOT_EXPORTED = ("opentelemetry", "azure.monitor.opentelemetry")


class ExportHandler(logging.Handler):
    """Hands each record reaching it (on the root logger) to ``target``'s handlers, an
    exporter's, as a copy holding only what may leave the process: the redacted message (the
    plain one, never the JSON line), run id, participant and step from the record or the
    context, the ``extra`` event fields the alert reads, and a redacted exception. Records of
    other libraries go only from ``others_level`` up; ``target`` must not propagate."""

    def __init__(self, target: logging.Logger, *, others_level: int = logging.WARNING) -> None:
        super().__init__()
        self.target = target
        self.others_level = others_level

    def emit(self, record: logging.LogRecord) -> None:
        if record.name.startswith(_NOT_EXPORTED):
            return
        ours = record.name == "mvd" or record.name.startswith("mvd.")
        if not ours and record.levelno < self.others_level:
            return
        message = getattr(record, "_mvd_plain", None) or redact(record.getMessage())
        copy = logging.LogRecord(
            record.name, record.levelno, record.pathname, record.lineno, message, None, None, record.funcName
        )
        copy.created = record.created
        context = _context.get()
        for field, name in _EXPORTED_FIELDS.items():
            value = getattr(record, field, None) or context.get(field)
            if value:
                setattr(copy, name, str(value))
        if record.exc_info and record.exc_info[1] is not None:
            error = record.exc_info[1]
            # The OpenTelemetry semantic conventions' names: the Azure Monitor exporter makes
            # the record an exception with them (exc_info itself would go out unredacted).
            setattr(copy, "exception.type", type(error).__name__)
            setattr(copy, "exception.message", redact(str(error)))
            setattr(copy, "exception.stacktrace", redact("".join(traceback.format_exception(error))))
        self.target.handle(copy)


def export_records(target: logging.Logger, *, others_level: int = logging.WARNING) -> None:
    """Send every record reaching the root logger to ``target``'s handlers through an
    ``ExportHandler`` (one: a second call replaces the first)."""
    target.propagate = False
    root = logging.getLogger()
    for handler in [h for h in root.handlers if isinstance(h, ExportHandler)]:
        root.removeHandler(handler)
    root.addHandler(ExportHandler(target, others_level=others_level))


def get_logger(name: str) -> logging.Logger:
    """A logger under the ``mvd`` tree; pass ``__name__``."""
    short = name.removeprefix("mvd_core.")
    logger = logging.getLogger(f"mvd.{short}")
    if not any(isinstance(f, _ContextFilter) for f in logger.filters):
        logger.addFilter(_ContextFilter())
    return logger
