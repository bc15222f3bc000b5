"""A finished run, told: one log record per run with its outcome (``event: run-finished``,
which the Azure Monitor alert in ``infra/`` counts when the outcome is ``failed``), and for a
failed run a signed POST to ``MVD_NOTIFY_URL`` (the incoming webhooks' scheme,
``mvd_core.signing``, with ``MVD_NOTIFY_SECRET``). A notification that cannot be delivered is
logged and never fails the run."""

from __future__ import annotations

import json

import httpx

from mvd_core.logs import get_logger, log_context
from mvd_core.runs.models import RunSummary
from mvd_core.runs.registry import RunRegistry
from mvd_core.settings import Settings, get_settings
from mvd_core.signing import signed_headers

log = get_logger(__name__)

EVENT = "run-finished"
NOTIFY_TIMEOUT_SECONDS = 10.0


def delivery_id(run_id: str) -> str:
    """One id per run: a receiver that sees it twice (a retried activity) drops the second."""
    return f"run-failed-{run_id}"


def notification(run: RunSummary) -> bytes:
    """The POSTed body: the event and the run as ``GET /api/runs/{id}`` shows it."""
    return json.dumps({"event": "run.failed", "run": run.wire()}, separators=(",", ":")).encode()


def run_finished(run: RunSummary, settings: Settings) -> None:
    """Log the run's outcome, and POST a failed run to ``MVD_NOTIFY_URL`` when it is set."""
    with log_context(run_id=run.id, step="record"):
        failed = run.status == "failed"
        log.log(
            40 if failed else 20,  # logging.ERROR / INFO: the failure stands out in any log view
            "run %s (%s) finished: %s, %d failure(s)",
            run.id,
            run.action,
            run.status,
            len(run.failures),
            extra={"event": EVENT, "outcome": run.status, "action": run.action},
        )
        if failed and settings.notify_url:
            send(run, settings)


def fail_run(registry: RunRegistry, run_id: str, reason: str, settings: Settings | None = None) -> None:
    """Fail a run that ends without the orchestrator's summary (its command poisoned, its
    orchestration crashed, its enqueue failed) and tell it like any other failed run."""
    registry.fail(run_id, reason)
    record = registry.get(run_id)
    if record is not None and record.status == "failed":
        run_finished(record.to_summary(), settings or get_settings())


def send(run: RunSummary, settings: Settings) -> bool:
    """POST the failed run; True when the receiver answered 2xx."""
    url = settings.notify_url
    if url is None:
        return False
    if settings.notify_secret is None:
        unresolved = "MVD_NOTIFY_SECRET" in settings.unresolved
        log.error(
            "run %s failed but no notification was sent: MVD_NOTIFY_URL is set and MVD_NOTIFY_SECRET %s",
            run.id,
            "is an unresolved Key Vault reference" if unresolved else "is not (notifications are always signed)",
        )
        return False
    body = notification(run)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "mvd-control-plane",
        **signed_headers(settings.notify_secret.get_secret_value(), body, delivery_id(run.id)),
    }
    try:
        response = httpx.post(url, content=body, headers=headers, timeout=NOTIFY_TIMEOUT_SECONDS)
    except httpx.HTTPError as exc:
        log.warning(
            "run %s: the failure notification to MVD_NOTIFY_URL was not delivered (%s)", run.id, type(exc).__name__
        )
        return False
    if not response.is_success:
        log.warning("run %s: MVD_NOTIFY_URL answered %d to the failure notification", run.id, response.status_code)
        return False
    return True
