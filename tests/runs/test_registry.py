"""The run registry's contract, on SQLite and on Table Storage (Azurite)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from mvd_core.errors import MvdError
from mvd_core.runs import PoisonCommand, RunSummary, new_run_id


def test_claim_creates_then_coalesces_until_finished(registry):
    first = new_run_id("ds")
    assert registry.claim("ds", first, "reset", "timer") == (first, True)
    assert registry.claim("ds", new_run_id("ds"), "provision", "button") == (first, False)
    assert registry.current("ds").id == first

    registry.finish(first, RunSummary(id=first, dataspace="ds", action="reset", source="timer",
                                      status="completed", created_at=datetime.now(UTC)))
    assert registry.current("ds") is None
    second = new_run_id("ds")
    assert registry.claim("ds", second, "provision", "button") == (second, True)
    assert registry.get(first).status == "completed"
    assert registry.get(second).status == "pending"


def test_dataspaces_are_independent(registry):
    a, b = new_run_id("one"), new_run_id("two")
    assert registry.claim("one", a, "reset", "api")[1]
    assert registry.claim("two", b, "reset", "api")[1]


def test_fail_releases_and_keeps_reason(registry):
    run = new_run_id("ds")
    registry.claim("ds", run, "reset", "webhook")
    registry.mark_running(run)
    assert registry.get(run).status == "running"
    registry.fail(run, "command could not be processed after 5 attempts")
    registry.fail(run, "command could not be processed after 5 attempts")  # idempotent
    record = registry.get(run)
    assert record.status == "failed" and record.finished_at is not None
    summary = record.to_summary()
    assert summary.failures[0].reason == "command could not be processed after 5 attempts"
    assert registry.current("ds") is None
    registry.mark_running(run)  # a late start does not resurrect a failed run
    assert registry.get(run).status == "failed"


def test_finish_keeps_summary_and_coalesced_count(registry):
    run = new_run_id("ds")
    registry.claim("ds", run, "provision", "button")
    registry.add_coalesced(run)
    registry.add_coalesced(run)
    summary = RunSummary(id=run, dataspace="ds", action="provision", source="button", status="failed",
                         created_at=datetime.now(UTC), finished_at=datetime.now(UTC),
                         failures=[{"participant": "alpha", "step": "cluster", "reason": "quota"}])
    registry.finish(run, summary)
    registry.finish(run, summary)
    out = registry.get(run).to_summary()
    assert out.status == "failed"
    assert out.coalesced == 2
    assert out.failures[0].participant == "alpha"


def test_finish_unknown_run_names_it(registry):
    with pytest.raises(MvdError, match="mvd-ds-20260101T000000-abcdef"):
        registry.finish("mvd-ds-20260101T000000-abcdef", RunSummary(
            id="x", dataspace="ds", action="reset", source="api", status="completed", created_at=datetime.now(UTC)))


def test_list_is_newest_first_and_limited(registry):
    ids = []
    for i in range(3):
        run = new_run_id("ds", datetime(2026, 1, 1, 0, 0, i, tzinfo=UTC))
        registry.claim("ds", run, "reset", "api")
        registry.fail(run, "x")
        ids.append(run)
    listed = [r.id for r in registry.recent(limit=2)]
    assert listed == [ids[2], ids[1]]
    assert registry.get("mvd-ds-20990101T000000-000000") is None


def test_poison_is_kept_once_and_listed(registry):
    now = datetime.now(UTC)
    registry.record_poison(PoisonCommand(id="abc123", received_at=now - timedelta(minutes=1), reason="first"))
    registry.record_poison(PoisonCommand(id="abc123", received_at=now, reason="again"))
    registry.record_poison(PoisonCommand(id="def456", received_at=now, reason="second"))
    listed = registry.list_poison()
    assert [p.id for p in listed] == ["def456", "abc123"]
    assert listed[1].reason == "first"


def test_delivery_ids_are_remembered_per_source_until_expiry(registry):
    assert registry.remember_delivery("github", "d-1") is True
    assert registry.remember_delivery("github", "d-1") is False
    assert registry.remember_delivery("other", "d-1") is True
    assert registry.remember_delivery("github", "d-2", ttl=timedelta(seconds=-1)) is True
    # expired: the same id is new again
    assert registry.remember_delivery("github", "d-2") is True


def test_a_forgotten_delivery_can_come_again_and_only_for_its_source(registry):
    assert registry.remember_delivery("github", "d-1") is True
    assert registry.remember_delivery("other", "d-1") is True
    registry.forget_delivery("github", "d-1")
    registry.forget_delivery("github", "never-seen")  # nothing to forget is fine
    assert registry.remember_delivery("github", "d-1") is True
    assert registry.remember_delivery("other", "d-1") is False


def test_concurrent_deliveries_with_one_id_are_taken_once(registry):
    from concurrent.futures import ThreadPoolExecutor
    from threading import Barrier

    barrier = Barrier(10)

    def deliver(_):
        barrier.wait()
        return registry.remember_delivery("github", "same-id")

    with ThreadPoolExecutor(max_workers=10) as pool:
        results = list(pool.map(deliver, range(10)))
    assert results.count(True) == 1
