"""The Functions app exports its log records to Application Insights through OpenTelemetry
(the Azure Monitor distro), with the run id, participant and step as customDimensions.

The app runs in a subprocess as the worker runs it (a handler on the root logger standing in
for the worker's); its exporter sends to a loopback fake of the ingestion endpoint
(``POST /v2.1/track``) that the connection string names. The subprocess flushes the log
provider before it exits; the test then polls what the fake received.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.fixtures import appinsights_fake
from tests.fixtures.polling import until

REPO = Path(__file__).resolve().parents[2]
RUN_ID = "r-20261129-000000-abcdef01"

# Stands in for the worker (its handler is on the root logger), then logs as a run's activity does.
CODE = """
import json, logging
records = []
class Worker(logging.Handler):
    def emit(self, record):
        records.append((record.name, record.levelname, record.getMessage()))
logging.getLogger().addHandler(Worker())
import function_app
from mvd_core.logs import get_logger, log_context
log = get_logger("mvd_core.workflow.activities")
with log_context(run_id="RUN_ID", participant="galactic-turbine", step="did"):
    log.info("published the DID document for %s", "did:web:example.com")
    log.warning("the hub answered with Bearer abc.def-secret-token")
    try:
        raise RuntimeError("cannot reach AccountKey=s3cr3tkey;EndpointSuffix=core.windows.net")
    except RuntimeError:
        log.exception("vault write failed")
    logging.getLogger("azure.core.pipeline").info("a library's request line")
    logging.getLogger("azure.core.pipeline").warning("a library's warning")
get_logger("mvd_core.runs.notify").error(
    "run %s (%s) finished: %s, %d failure(s)", "RUN_ID", "reset", "failed", 1,
    extra={"event": "run-finished", "outcome": "failed", "action": "reset"})
from opentelemetry._logs import get_logger_provider
flush = getattr(get_logger_provider(), "force_flush", None)
print(json.dumps({"records": records, "flushed": flush() if flush else None,
                  "functions": len(function_app.app.get_functions())}))
""".replace("RUN_ID", RUN_ID)


def _run(env: dict[str, str], tls_ca: Path | None = None) -> dict[str, Any]:
    quiet = {
        # no call to Microsoft's own endpoints from a test (statsbeat, OneSettings)
        "APPLICATIONINSIGHTS_STATSBEAT_DISABLED_ALL": "true",
        "APPLICATIONINSIGHTS_CONTROLPLANE_DISABLED": "true",
    }
    if tls_ca is not None:
        quiet["REQUESTS_CA_BUNDLE"] = str(tls_ca)
    base = {k: v for k, v in os.environ.items() if not k.startswith(("APPLICATIONINSIGHTS_", "IDENTITY_"))}
    done = subprocess.run(
        [sys.executable, "-c", CODE],
        cwd=REPO,
        env={**base, **quiet, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout.strip().splitlines()[-1])
    out["stderr"] = done.stderr
    return out


def _text(message: dict[str, Any]) -> str:
    """A trace's message; an exception's is its first exception's (the record's message)."""
    return message.get("message") or message["exceptions"][0]["message"]


def _by_message(ingestion: appinsights_fake.Ingestion, expected: int) -> dict[str, dict[str, Any]]:
    def received() -> dict[str, dict[str, Any]] | None:
        messages = {_text(m): m for m in ingestion.messages()}
        return messages if len(messages) >= expected else None

    return until("the run's log records at the fake ingestion endpoint", received, timeout=30)


def test_a_runs_records_reach_application_insights_with_run_participant_and_step(tmp_path):
    with appinsights_fake.ingestion(tmp_path / "tls") as ingestion:
        out = _run(
            {"APPLICATIONINSIGHTS_CONNECTION_STRING": ingestion.connection_string(), "MVD_LOG_FORMAT": "json"},
            ingestion.tls.cert_file,
        )
        messages = _by_message(ingestion, 5)

    published = messages["published the DID document for did:web:example.com"]
    assert {k: published["properties"].get(k) for k in ("runId", "participant", "step")} == {
        "runId": RUN_ID,
        "participant": "galactic-turbine",
        "step": "did",
    }
    assert published["severityLevel"] == 1  # Information

    # the failed-run alert's query (message contains "finished: failed") still finds it
    [finished] = [m for text, m in messages.items() if "finished: failed" in text]
    assert finished["properties"]["event"] == "run-finished"
    assert (finished["properties"]["outcome"], finished["properties"]["action"]) == ("failed", "reset")
    assert finished["severityLevel"] == 3  # Error

    # redacted, in the message, the exception and the dimensions alike
    assert "the hub answered with Bearer ***" in messages
    everything = json.dumps(ingestion.messages())
    assert "abc.def-secret-token" not in everything and "s3cr3tkey" not in everything
    failure = messages["vault write failed"]
    assert failure["exceptions"][0]["typeName"] == "RuntimeError"
    assert "RuntimeError: cannot reach AccountKey=***;" in failure["exceptions"][0]["stack"]
    assert failure["properties"]["step"] == "did"
    for message in ingestion.messages():
        assert set(message.get("properties", {})) <= {
            "runId",
            "participant",
            "step",
            "event",
            "outcome",
            "action",
            "logger_name",
        }, message

    # another library's records: warnings and errors only
    assert "a library's warning" in messages and "a library's request line" not in messages
    # the worker still gets the JSON lines (its log stream), and every function is indexed
    mine = [json.loads(m) for name, _, m in out["records"] if name.startswith("mvd.") and m.startswith("{")]
    assert {"published the DID document for did:web:example.com", "vault write failed"} <= {r["msg"] for r in mine}
    assert out["functions"] > 20


def test_a_bad_connection_string_is_one_line_and_the_app_still_indexes(tmp_path):
    out = _run({"APPLICATIONINSIGHTS_CONNECTION_STRING": "InstrumentationKey=not-a-guid;IngestionEndpoint=x"})
    about = [(level, m) for name, level, m in out["records"] if "APPLICATIONINSIGHTS_CONNECTION_STRING" in m]
    assert len(about) == 1, out["records"]
    level, message = about[0]
    assert level == "WARNING" and "not-a-guid" not in message and "\n" not in message
    assert "Traceback" not in out["stderr"] and "not-a-guid" not in out["stderr"]
    assert out["functions"] > 20
    assert ("mvd.workflow.activities", "INFO", "published the DID document for did:web:example.com") in [
        tuple(r) for r in out["records"]
    ]


def test_with_entra_authentication_records_go_with_the_apps_managed_identity_token(tmp_path):
    with (
        appinsights_fake.ingestion(tmp_path / "tls", token=appinsights_fake.TOKEN) as ingestion,
        appinsights_fake.identity_endpoint() as identity,
    ):
        _run(
            {
                "APPLICATIONINSIGHTS_CONNECTION_STRING": ingestion.connection_string(),
                "APPLICATIONINSIGHTS_AUTHENTICATION_STRING": "Authorization=AAD",
                **identity.environment(),
            },
            ingestion.tls.cert_file,
        )
        messages = _by_message(ingestion, 4)
    assert messages["published the DID document for did:web:example.com"]["properties"]["runId"] == RUN_ID
    assert identity.resources and all(r.startswith("https://monitor.azure.com") for r in identity.resources)
    assert set(ingestion.authorizations) == {f"Bearer {appinsights_fake.TOKEN}"}


def test_an_authentication_string_that_is_not_entra_is_named(tmp_path):
    with appinsights_fake.ingestion(tmp_path / "tls") as ingestion:
        out = _run(
            {
                "APPLICATIONINSIGHTS_CONNECTION_STRING": ingestion.connection_string(),
                "APPLICATIONINSIGHTS_AUTHENTICATION_STRING": "Authorization=Basic",
            },
            ingestion.tls.cert_file,
        )
    about = [(level, m) for _, level, m in out["records"] if "APPLICATIONINSIGHTS_AUTHENTICATION_STRING" in m]
    assert [level for level, _ in about] == ["WARNING"]
    assert not ingestion.envelopes
    assert out["functions"] > 20


def test_the_host_and_the_worker_are_set_for_opentelemetry():
    """host.json's telemetryMode, and the app setting that makes the worker report its
    OpenTelemetry capability (the host then leaves the worker's records to the app's export)
    and attach each invocation's trace context; not the one that would export them twice."""
    from tests.infra.terraform import INFRA, load

    assert json.loads((REPO / "host.json").read_text())["telemetryMode"] == "OpenTelemetry"
    host = load(INFRA).locals["host_settings"]
    assert host["PYTHON_ENABLE_OPENTELEMETRY"] == "true"
    assert "PYTHON_APPLICATIONINSIGHTS_ENABLE_TELEMETRY" not in host


def test_an_activity_on_the_functions_host_logs_in_its_runs_context():
    """As the local engine does around each activity: the run id (from the payload, the
    Durable activity binding gives nothing else), the participant when the payload names
    one, and the activity's name as the step, unless the activity sets its own."""
    import logging

    from blueprints.orchestration import _activity
    from mvd_core.logs import get_logger, log_context

    log = get_logger("mvd_core.workflow.activities")
    seen: list[tuple[str, str | None, str | None, str | None]] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append((record.getMessage(), record.run_id, record.participant, record.step))  # type: ignore[attr-defined]

    def record(data: dict[str, Any]) -> str:
        log.info("recording")
        with log_context(step="record"):
            log.info("recorded")
        return "done"

    mvd, collect = logging.getLogger("mvd"), Collect()
    level = mvd.level
    mvd.addHandler(collect)
    mvd.setLevel(logging.INFO)
    try:
        assert (
            _activity("record_run", record)({"command": {"runId": RUN_ID}, "participant": "space-enforcer"}) == "done"
        )
        assert _activity("remove_onboarded", record)({"runId": RUN_ID}) == "done"
    finally:
        mvd.removeHandler(collect)
        mvd.setLevel(level)
    assert seen == [
        ("recording", RUN_ID, "space-enforcer", "record_run"),
        ("recorded", RUN_ID, "space-enforcer", "record"),
        ("recording", RUN_ID, None, "remove_onboarded"),
        ("recorded", RUN_ID, None, "record"),
    ]
