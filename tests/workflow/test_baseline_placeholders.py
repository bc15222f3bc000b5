"""A provision or reset on the declared targets stops at the baseline step while the blueprint
holds placeholders, naming each field; a teardown still runs (it creates nothing)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mvd_core.dataspace.loader import BlueprintError
from mvd_core.settings import get_settings
from mvd_core.workflow.catalog import ACTIVITIES

FILLED = Path(__file__).parents[1] / "fixtures" / "declared-dataspace.yaml"


def _baseline(action: str) -> dict:
    return ACTIVITIES["load_baseline"]({"runId": "run-1", "action": action, "dataspace": "mvd", "rotateKeys": []})


@pytest.fixture
def declared(monkeypatch):
    monkeypatch.setenv("MVD_TARGETS", "declared")
    get_settings.cache_clear()
    yield monkeypatch
    get_settings.cache_clear()


@pytest.mark.parametrize("action", ["provision", "reset"])
def test_a_run_on_the_declared_targets_refuses_placeholders(declared, action):
    with pytest.raises(BlueprintError) as refused:
        _baseline(action)
    message = str(refused.value)
    assert "(declared targets)" in message and "exposure.zone" in message and "vault.name" in message


def test_a_teardown_and_a_filled_in_blueprint_go_ahead(declared):
    assert _baseline("teardown")["targets"] == "declared"
    declared.setenv("MVD_DATASPACE_FILE", str(FILLED))
    declared.setenv("MVD_PUBLIC_URL", "https://mvd.contoso-dataspace.eu")
    get_settings.cache_clear()
    assert _baseline("provision")["participants"] == ["galactic-turbine", "space-enforcer", "interstellar-assembly"]


def test_the_embedded_targets_run_the_packaged_blueprint(monkeypatch):
    monkeypatch.setenv("MVD_TARGETS", "simulated")
    get_settings.cache_clear()
    assert _baseline("provision")["targets"] == "simulated"
