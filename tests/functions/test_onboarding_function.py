"""The Functions app answers the onboarding routes like `mvd serve` on declared targets: no seed
connector runs there to ask a newcomer, so a join is refused at 'ready' and writes nothing (no
store is created on the app's filesystem); the list shows the seed participants and the timer's
next reset; seed participants cannot be removed. The caller's address is the first entry of
X-Forwarded-For."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import quote

import pytest

from blueprints import _runtime
from mvd_core.plan.desired import dataspace_dids
from mvd_core.settings import get_settings
from tests.functions.test_endpoints_function import declared  # noqa: F401 (a fixture)
from tests.functions.test_invoke import call, http


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("MVD_HOME", str(tmp_path / "home"))
    get_settings.cache_clear()
    yield tmp_path / "home"
    get_settings.cache_clear()


def test_a_join_is_refused_at_ready_and_writes_nothing(storage, declared, home):  # noqa: F811
    request = http("POST", "/api/participants", body=b'{"did": "did:web:guest.example.org"}',
                   headers={"Content-Type": "application/json", "X-Forwarded-For": "203.0.113.9:51234, 10.0.0.1"})
    status, answer = call("participants_join", request)
    assert status == 409, answer
    assert [(c["name"], c["ok"]) for c in answer["checks"]] == [("ready", False)]
    assert "no seed participant's connector runs on this control plane" in answer["error"]
    assert not (home / "onboarding.db").exists()


def test_the_list_shows_the_seeds_and_the_timers_next_reset(storage, declared, home):  # noqa: F811
    status, view = call("participants_list", http("GET", "/api/participants"))
    assert status == 200, view
    dataspace = _runtime.dataspace()
    assert [(p["id"], p["kind"]) for p in view["participants"]] == [(p.id, "seed") for p in dataspace.participants]
    assert view["onboarded"] == 0 and view["removed"] == []
    assert datetime.fromisoformat(view["nextReset"]) == _runtime.next_reset()
    did = dataspace_dids(dataspace, get_settings())["space-enforcer"]
    status, answer = call("participants_leave", http("DELETE", f"/api/participants/{quote(did, safe='')}", {"did": did}))
    assert status == 403 and "seed participant" in answer["error"]
    assert not (home / "onboarding.db").exists()


def test_the_callers_address_is_the_first_forwarded_entry():
    assert _runtime.client_address("203.0.113.9:51234, 10.0.0.1") == "203.0.113.9"
    assert _runtime.client_address("[2001:db8::1]:443") == "2001:db8::1"
    assert _runtime.client_address("2001:db8::2") == "2001:db8::2"
    assert _runtime.client_address(None) == ""
