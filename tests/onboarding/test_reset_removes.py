"""The reset removes every onboarded participant, on a real `mvd serve` in this process
(simulated clusters: no EDC runtime): out of the participant list every catalog crawls and the
issuer's member set, their MembershipCredentials revoked on the status list `mvd serve`
publishes, the removals in the run's summary; the seed participants are reset as before.
A removal interrupted between marking and revoking is completed by the next attempt."""

from __future__ import annotations

from datetime import timedelta

import httpx

from mvd_core.identity.statuslist import decode
from mvd_core.onboarding import Onboarded, open_store
from mvd_core.runs.models import utcnow
from mvd_core.workflow import offboard
from tests.e2e.conftest import Plane, plane  # noqa: F401 - the fixture


def onboard(p: Plane, name: str) -> tuple[str, int]:
    """What a join leaves (the store's row) and a credential the issuer signed for it: its index."""
    did = f"did:web:{name}.example.org"
    open_store(p.settings).add(
        Onboarded(
            did=did,
            participant_id=f"{name}-example-org",
            protocol_url=f"https://{name}.example.org/api/dsp/2025-1",
            credential_service=f"https://{name}.example.org/api/credentials",
            joined_at=utcnow() - timedelta(hours=1),
            source_address="192.0.2.7",
            invite_id=None,
        ),
        cap=10,
        invite_token=None,
    )
    issuer = offboard.issuer(p.host.dataspace, p.settings)
    issuer.credential(did)
    [entry] = issuer.status_list.entries(did)
    return did, entry["idx"]


def published_revoked(p: Plane) -> set[int]:
    answer = httpx.get(f"{p.url}/issuer/status/membership", timeout=10)
    assert answer.status_code == 200, answer.text
    return decode(answer.json()["credentialSubject"]["encodedList"])


def nodes(p: Plane) -> list[str]:
    return [n["id"] for n in httpx.get(f"{p.url}/api/dataspace/participants.json", timeout=10).json()]


def test_a_reset_removes_every_onboarded_participant_and_revokes_their_credentials(plane):  # noqa: F811
    guest, guest_index = onboard(plane, "guest")
    other, other_index = onboard(plane, "other")
    assert {guest, other} <= set(nodes(plane))
    assert {guest, other} <= set(offboard.issuer(plane.host.dataspace, plane.settings).members())
    assert not published_revoked(plane) & {guest_index, other_index}

    run = plane.post("reset").json()
    summary = plane.wait(run["runId"])
    assert summary["status"] == "completed", summary["failures"]
    assert [(r["did"], r["revoked"]) for r in summary["removed"]] == [(guest, True), (other, True)]
    assert all(p["status"] == "done" for p in summary["participants"].values())

    assert not {guest, other} & set(nodes(plane))
    assert not {guest, other} & set(offboard.issuer(plane.host.dataspace, plane.settings).members())
    assert {guest_index, other_index} <= published_revoked(plane)
    view = httpx.get(f"{plane.url}/api/participants", timeout=10).json()
    assert view["onboarded"] == 0 and all(p["kind"] == "seed" for p in view["participants"])
    assert {(p["did"], p["removedBy"]) for p in view["removed"]} == {(guest, run["runId"]), (other, run["runId"])}

    # the next reset has nobody to remove
    again = plane.wait(plane.post("reset").json()["runId"])
    assert again["status"] == "completed" and again["removed"] == []


def test_a_removal_interrupted_before_revoking_is_completed_by_the_retry(plane):  # noqa: F811
    guest, index = onboard(plane, "guest")
    store = open_store(plane.settings)
    # the step was killed after marking the removal, before revoking
    [marked] = store.remove_all("mvd-run-1")
    assert marked.revoked_at is None and guest not in nodes(plane)
    assert index not in published_revoked(plane)

    [removal] = offboard.remove_all(plane.host.dataspace, plane.settings, "mvd-run-1")
    assert (removal.did, removal.revoked) == (guest, True)
    assert index in published_revoked(plane)
    # once more (a replayed activity): the same answer, nothing revoked twice
    assert offboard.remove_all(plane.host.dataspace, plane.settings, "mvd-run-1") == [removal]
    assert store.unrevoked() == []


def test_the_dashboards_run_history_lists_the_removals(plane, page):  # noqa: F811
    from playwright.sync_api import expect

    guest, _ = onboard(plane, "guest")
    run = plane.post("reset").json()
    assert plane.wait(run["runId"])["status"] == "completed"
    page.goto(plane.url + "/")
    item = page.locator(f'.history-item[data-run-id="{run["runId"]}"]')
    item.locator("summary").click()
    removed = item.locator(f'.run-removed li[data-did="{guest}"]')
    expect(removed).to_contain_text(f"Removed guest-example-org ({guest}), joined ")
    expect(removed).to_contain_text("its credentials revoked")


def test_where_nobody_ever_joined_the_reset_removes_nobody_and_creates_no_store():
    """The Functions app runs the same step; its filesystem may be read-only, so nothing is created."""
    from mvd_core.dataspace import load_targeted
    from mvd_core.settings import get_settings
    from mvd_core.workflow.catalog import ACTIVITIES

    settings = get_settings()
    baseline = {"dataspace": load_targeted(settings).model_dump(mode="json", by_alias=True)}
    assert ACTIVITIES["remove_onboarded"]({"runId": "mvd-mvd-20261202T000000-abcdef", "baseline": baseline}) == []
    assert not (settings.home / "onboarding.db").exists()
