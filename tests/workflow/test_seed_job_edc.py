"""The Kubernetes offers Job's script against one real EDC connector (the project's assembly),
run here with sh and curl: it creates what the seed step creates, the seed step then finds it all
there (409 = kept), a second run of the script keeps everything, and after a restart (a reset:
in-memory state gone) it creates the offers again."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from mvd_core.dataspace import Dataspace
from mvd_core.plan.desired import dataspace_dids
from mvd_core.plan.render import OFFERS_JOB, render_participant
from mvd_core.platforms.processes import JavaCommand, ProcessPlatform
from mvd_core.runtimes.participant import MANAGEMENT_API_KEY
from mvd_core.runtimes.seed import data_address
from mvd_core.settings import get_settings
from mvd_core.workflow import connect, runtimes, seed
from mvd_core.workflow.catalog import ACTIVITIES
from mvd_core.workflow.orchestrators import participant_slice
from tests.platforms.processes.conftest import settle

pytestmark = pytest.mark.timeout(600)

RUN_ID = "mvd-mvd-20261202T000000-5eedj0"
PID = "space-enforcer"  # two offers, one data plane


def run_script(directory: Path, management_url: str, vault: Path) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": os.environ["PATH"],
        "MVD_MANAGEMENT_URL": management_url,
        "MVD_API_KEY_FILE": str(vault / MANAGEMENT_API_KEY),
        "MVD_SEED_INTERVAL": "0.5",
    }
    return subprocess.run(
        ["sh", str(directory / "seed.sh")], check=False, env=env, capture_output=True, text=True, timeout=300
    )


def test_the_offers_jobs_script_seeds_a_real_connector_like_the_seed_step(edc_runtimes, monkeypatch, tmp_path):
    monkeypatch.setenv("MVD_TARGETS", "embedded")
    get_settings.cache_clear()
    settings = get_settings()
    baseline = ACTIVITIES["load_baseline"](
        {"runId": RUN_ID, "action": "provision", "dataspace": "mvd", "rotateKeys": []}
    )
    work: dict[str, Any] = {
        "runId": RUN_ID,
        "action": "provision",
        "participant": PID,
        "baseline": participant_slice(baseline, PID),
        "rotateKey": False,
    }
    ACTIVITIES["ensure_key"](work)  # the vault step: the management API key among the secrets
    dataspace = Dataspace.model_validate(baseline["dataspace"])
    participant = dataspace.participant(PID)
    store = connect.secret_store(participant, settings)
    specs = runtimes.specs(participant, baseline["dids"][PID], settings)
    connector = runtimes.by_name(specs, "connector").model_copy(update={"start_after": []})
    vault = Path(connector.settings["edc.vault.file.path"])
    assert (vault / MANAGEMENT_API_KEY).is_file()

    # the Job's files as its pod mounts them, rendered with this control plane's settings
    objects = render_participant(dataspace, participant, dataspace_dids(dataspace, settings), settings)
    [configmap] = [o for o in objects if o["kind"] == "ConfigMap" and o["metadata"]["name"] == OFFERS_JOB]
    for name, text in configmap["data"].items():
        (tmp_path / name).write_text(text)

    platform = ProcessPlatform(settings.home, command=JavaCommand(edc_runtimes), stop_grace=10)
    try:
        assert platform.apply([connector]).started == ["connector"]
        # the script waits for the management API itself: started before the runtime is ready
        first = run_script(tmp_path, runtimes.management_url(specs), vault)
        assert first.returncode == 0, first.stderr
        assert first.stdout.count(": created") == len(participant.offers) + 2, first.stdout
        settle(platform, PID, timeout=240)

        kept = ACTIVITIES["check_rollout"]({**work, "kinds": ["Job"]})
        assert kept["detail"] == "2 assets, 1 policy, 1 contract definition kept"  # the seed step's own requests
        again = run_script(tmp_path, runtimes.management_url(specs), vault)
        assert again.returncode == 0, again.stderr
        assert again.stdout.count(": kept") == len(participant.offers) + 2 and "created" not in again.stdout

        api = runtimes.management_api(specs, store)
        try:
            assert sorted(a.id for a in api.assets()) == sorted(o.id for o in participant.offers)  # nothing twice
            for offer in participant.offers:
                stored = api.json("GET", f"/v3/assets/{offer.id}")["dataAddress"]
                assert {k: stored[k] for k in ("type", "baseUrl", "authKey", "secretName")} == data_address(
                    settings, PID, offer.id
                )
            offers = api.json("GET", f"/v3/contractdefinitions/{seed.MEMBERSHIP_OFFERS}")
            assert offers["accessPolicyId"] == offers["contractPolicyId"] == seed.MEMBERSHIP_POLICY

            assert platform.restart(PID).started == ["connector"]  # what a reset does; the Job runs again
            after_reset = run_script(tmp_path, runtimes.management_url(specs), vault)
            assert after_reset.returncode == 0, after_reset.stderr
            assert after_reset.stdout.count(": created") == len(participant.offers) + 2
            assert sorted(a.id for a in api.assets()) == sorted(o.id for o in participant.offers)
            key = store.get(MANAGEMENT_API_KEY)
            assert key and all(key not in r.stdout + r.stderr for r in (first, again, after_reset))
        finally:
            api.close()
    finally:
        platform.stop(PID)
