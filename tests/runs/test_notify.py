"""A failed run is told: the record_run activity (the last step of every run, on both hosts)
logs one ``run-finished`` record with the outcome, which the Azure alert counts, and POSTs a
failed run to MVD_NOTIFY_URL, signed like an incoming webhook. Here a real HTTP receiver on
loopback checks the signature with the webhook code."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from mvd_core.api import webhooks
from mvd_core.runs import open_registry
from mvd_core.settings import get_settings
from mvd_core.workflow.activities import record_run

SECRET = "notify-secret-0123456789"


class Receiver:
    """An HTTP server on loopback that keeps every POST and answers ``status``."""

    def __init__(self) -> None:
        self.posts: list[tuple[dict[str, str], bytes]] = []
        self.status = 204
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                receiver.posts.append((dict(self.headers.items()), body))
                self.send_response(receiver.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/mvd"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver(tmp_path, monkeypatch) -> Iterator[Receiver]:
    got = Receiver()
    monkeypatch.setenv("MVD_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("MVD_NOTIFY_URL", got.url)
    monkeypatch.setenv("MVD_NOTIFY_SECRET", SECRET)
    get_settings.cache_clear()
    yield got
    got.close()
    get_settings.cache_clear()


def _summary(run_id: str, failures: list[dict[str, str]]) -> dict[str, Any]:
    command = {"runId": run_id, "action": "reset", "dataspace": "mvd", "source": "timer",
               "requestedAt": "2026-11-29T00:00:00+00:00", "rotateKeys": []}
    return {"command": command, "startedAt": "2026-11-29T00:00:00+00:00", "finishedAt": "2026-11-29T00:00:07+00:00",
            "results": {}, "failures": failures}


def _claim(run_id: str) -> None:
    _, created = open_registry().claim("mvd", run_id, "reset", "timer")
    assert created


def test_a_failed_run_is_posted_signed_like_a_webhook(receiver, caplog):
    run_id = "r-20261129-000000-failed01"
    _claim(run_id)
    failure = {"participant": "galactic-turbine", "step": "did", "reason": "R2 bucket dids: 403"}
    with caplog.at_level(logging.INFO, logger="mvd"):
        record_run(_summary(run_id, [failure]))

    [(headers, body)] = receiver.posts
    sent = json.loads(body)
    assert sent["event"] == "run.failed" and sent["run"]["id"] == run_id and sent["run"]["status"] == "failed"
    assert sent["run"]["failures"] == [failure]
    # The receiver verifies it with the same code (and secret) that verifies incoming webhooks.
    verified = webhooks.verify("notify", headers, body,
                               {"notify": _secret()}, 300)
    assert verified.delivery_id == f"run-failed-{run_id}"
    assert headers["Content-Type"] == "application/json"
    assert abs(int(headers[webhooks.TIMESTAMP_HEADER]) - time.time()) < 60
    # a body changed on the way no longer matches
    with pytest.raises(Exception, match="signature does not match"):
        webhooks.verify("notify", headers, body.replace(b"galactic", b"Galactic"), {"notify": _secret()}, 300)

    [record] = [r for r in caplog.records if getattr(r, "event", None) == "run-finished"]
    assert (record.outcome, record.run_id, record.levelname) == ("failed", run_id, "ERROR")
    assert SECRET not in caplog.text


def _secret():
    from pydantic import SecretStr

    return SecretStr(SECRET)


def test_a_completed_run_posts_nothing_and_logs_its_outcome(receiver, caplog):
    run_id = "r-20261129-000000-complete"
    _claim(run_id)
    with caplog.at_level(logging.INFO, logger="mvd"):
        record_run(_summary(run_id, []))
    assert receiver.posts == []
    [record] = [r for r in caplog.records if getattr(r, "event", None) == "run-finished"]
    assert record.outcome == "completed"


def test_an_unreachable_or_refusing_receiver_does_not_fail_the_run(receiver, caplog):
    receiver.status = 500
    run_id = "r-20261129-000000-refused1"
    _claim(run_id)
    with caplog.at_level(logging.WARNING, logger="mvd"):
        wire = record_run(_summary(run_id, [{"participant": "p", "step": "cluster", "reason": "boom"}]))
    assert wire["status"] == "failed" and len(receiver.posts) == 1
    assert "MVD_NOTIFY_URL answered 500" in caplog.text
    assert open_registry().get(run_id).finished


def test_the_json_log_line_carries_the_event_and_outcome():
    from mvd_core.logs import JsonFormatter

    record = logging.LogRecord("mvd.runs.notify", logging.ERROR, __file__, 1, "run x finished", None, None)
    record.event, record.outcome, record.run_id = "run-finished", "failed", "r-1"
    line = json.loads(JsonFormatter().format(record))
    assert (line["event"], line["outcome"], line["run_id"]) == ("run-finished", "failed", "r-1")


@pytest.mark.parametrize(("env", "words"), [
    ({"MVD_NOTIFY_SECRET": "short"}, "MVD_NOTIFY_SECRET (Value error, the notification secret is empty or shorter"),
    ({"MVD_NOTIFY_URL": "ftp://example.org/x"}, "MVD_NOTIFY_URL (String should match pattern"),
])
def test_bad_notify_settings_are_named(env, words, monkeypatch):
    from pydantic import ValidationError

    from mvd_core.settings import Settings, describe_invalid

    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError) as info:
        Settings()
    assert words in describe_invalid(info.value)
    assert "short" not in describe_invalid(info.value).replace("shorter", "")


def test_a_run_failed_without_a_summary_is_told_too(receiver, caplog):
    """A nightly reset whose command is poisoned (or whose orchestration crashed) never reaches
    record_run: failing it still logs the failed outcome and POSTs it, with the reason."""
    from mvd_core.commands import CommandQueue, CommandRequest, handle_poison, submit

    sent: list[str] = []

    class Keep(CommandQueue):  # type: ignore[misc]
        def enqueue(self, command) -> None:
            sent.append(command.model_dump_json(by_alias=True))

    registry = open_registry()
    accepted = submit(CommandRequest(action="reset", dataspace="mvd", source="timer"), registry, Keep())
    with caplog.at_level(logging.INFO, logger="mvd"):
        handle_poison(sent[0], registry, dequeue_count=5)
    [(_, body)] = receiver.posts
    run = json.loads(body)["run"]
    assert run["id"] == accepted.run_id and run["status"] == "failed"
    assert run["failures"] == [{"participant": "*", "step": "command",
                                "reason": "reset command from timer could not be processed after 5 attempts"}]
    assert [r.outcome for r in caplog.records if getattr(r, "event", None) == "run-finished"] == ["failed"]
