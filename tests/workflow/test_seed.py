"""The seed step on the processes target, against one real EDC connector (the project's
assembly): the participant's offers as assets, the membership policy and the contract
definition, created through its management API; a second run creates nothing; after a
restart (a reset: in-memory state gone) the step creates them again."""

from __future__ import annotations

from typing import Any

import pytest

from mvd_core.dataspace import Dataspace
from mvd_core.platforms.processes import JavaCommand, ProcessPlatform
from mvd_core.settings import get_settings
from mvd_core.workflow import connect, runtimes, seed
from mvd_core.workflow.catalog import ACTIVITIES
from mvd_core.workflow.orchestrators import participant_slice
from tests.platforms.processes.conftest import settle

pytestmark = pytest.mark.timeout(600)

RUN_ID = "mvd-mvd-20261202T000000-5eed00"
PID = "space-enforcer"  # two offers, one data plane


def _work(baseline: dict[str, Any]) -> dict[str, Any]:
    return {
        "runId": RUN_ID,
        "action": "provision",
        "participant": PID,
        "baseline": participant_slice(baseline, PID),
        "rotateKey": False,
    }


def test_the_seed_step_creates_the_offers_once_and_again_after_a_restart(edc_runtimes, monkeypatch):
    monkeypatch.setenv("MVD_TARGETS", "embedded")
    get_settings.cache_clear()
    settings = get_settings()
    baseline = ACTIVITIES["load_baseline"](
        {"runId": RUN_ID, "action": "provision", "dataspace": "mvd", "rotateKeys": []}
    )
    work = _work(baseline)
    ACTIVITIES["ensure_key"](work)  # the vault step: the runtime secrets, the data-source key among them
    participant = Dataspace.model_validate(baseline["dataspace"]).participant(PID)
    store = connect.secret_store(participant, settings)
    specs = runtimes.specs(participant, baseline["dids"][PID], settings)
    connector = runtimes.by_name(specs, "connector").model_copy(update={"start_after": []})
    platform = ProcessPlatform(settings.home, command=JavaCommand(edc_runtimes), stop_grace=10)
    try:
        assert platform.apply([connector]).started == ["connector"]
        settle(platform, PID, timeout=240)

        first = ACTIVITIES["check_rollout"]({**work, "kinds": ["Job"]})
        assert first == {
            "ready": True,
            "total": 4,
            "detail": "2 assets, 1 policy, 1 contract definition created",
        }
        second = ACTIVITIES["check_rollout"]({**work, "kinds": ["Job"]})
        assert second["detail"] == "2 assets, 1 policy, 1 contract definition kept"

        api = runtimes.management_api(specs, store)
        try:
            assets = {a.id: a for a in api.assets()}
            assert set(assets) == {o.id for o in participant.offers}  # nothing twice
            key = store.get(seed.DATA_SOURCE_KEY)
            assert key
            for offer in participant.offers:
                assert assets[offer.id].properties["name"] == offer.title
                stored = api.json("GET", f"/v3/assets/{offer.id}")
                address = stored["dataAddress"]
                assert address["baseUrl"] == seed.data_url(settings, PID, offer.id)
                assert address["secretName"] == seed.DATA_SOURCE_KEY
                assert address["authKey"] == seed.DATA_SOURCE_HEADER
                assert key not in str(stored)
            policy = api.json("GET", f"/v3/policydefinitions/{seed.MEMBERSHIP_POLICY}")
            assert "MembershipCredential" in str(policy["policy"])
            offers = api.json("GET", f"/v3/contractdefinitions/{seed.MEMBERSHIP_OFFERS}")
            assert offers["accessPolicyId"] == offers["contractPolicyId"] == seed.MEMBERSHIP_POLICY

            assert platform.restart(PID).started == ["connector"]  # what a reset does
            settle(platform, PID, timeout=240)
            api.wait_until_serving(timeout=120)
            assert api.assets() == []
            again = ACTIVITIES["check_rollout"]({**work, "kinds": ["Job"]})
            assert again["detail"] == "2 assets, 1 policy, 1 contract definition created"
            assert {a.id for a in api.assets()} == {o.id for o in participant.offers}
        finally:
            api.close()
    finally:
        platform.stop(PID)


def test_the_seed_report_says_what_it_did():
    assert seed.SeedReport(assets_created=3, policies_created=1, contracts_created=1).describe() == (
        "3 assets, 1 policy, 1 contract definition created"
    )
    mixed = seed.SeedReport(assets_created=1, assets_kept=2, policies_kept=1, contracts_kept=1)
    assert mixed.describe() == "1 asset created; 2 assets, 1 policy, 1 contract definition kept"
    assert seed.SeedReport().describe() == "nothing to seed"
