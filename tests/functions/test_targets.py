"""The Functions host reads the blueprint through the one loader, so what it shows and plans is
what the orchestrations it starts converge to."""

from __future__ import annotations

from blueprints import _runtime
from mvd_core.dataspace import load
from mvd_core.settings import get_settings
from tests.functions.test_invoke import call, http


def test_the_functions_host_applies_the_targets_like_its_runs(storage, monkeypatch):
    monkeypatch.setenv("MVD_TARGETS", "simulated")
    get_settings.cache_clear()
    _runtime.dataspace.cache_clear()
    try:
        status, view = call("dataspace_view", http("GET", "/api/dataspace"))
    finally:
        _runtime.dataspace.cache_clear()
    assert status == 200 and view["targets"] == "simulated"
    declared = {p.id: p.identity.host.kind for p in load().participants}
    shown = {p["id"]: (p["simulated"], p["didHost"], p["declaredDidHost"]) for p in view["participants"]}
    assert shown == {pid: (True, "local", kind) for pid, kind in declared.items()}
