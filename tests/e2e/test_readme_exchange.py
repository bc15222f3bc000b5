"""The README's "Use the dataspace with curl" block, run as written (bash, curl, jq and `mvd`)
against a real `mvd serve` on the embedded targets after a provision: catalog over DSP,
negotiation, pull transfer, EDR from the consumer's management API, data from the provider's
data plane. Its output must be the bytes the provider's offer was seeded with.

The dataspace is the default blueprint's two participants the block names, with one data plane
each (6 JVMs instead of the seed's 14); the block itself is not changed.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

import httpx
import pytest
import yaml

from mvd_core.dataspace import load
from mvd_core.dataspace.datasets import dataset_bytes
from tests.e2e.conftest import ServeProcess, embedded_serve
from tests.fixtures.polling import until

pytestmark = pytest.mark.timeout(600)

README = Path(__file__).resolve().parents[2] / "README.md"
CONSUMER, PROVIDER, DATASET = "space-enforcer", "interstellar-assembly", "assembly-schedule"


def readme_block() -> str:
    section = README.read_text("utf-8").split("### Use the dataspace with curl", 1)[1]
    section = re.split(r"\n#{2,3} ", section, maxsplit=1)[0]  # up to the next section, whatever its level
    [block] = re.findall(r"```sh\n(.*?)```", section, re.DOTALL)
    return block


def two_participants(path: Path) -> Path:
    doc = yaml.safe_load(resources.files("mvd_core.dataspace").joinpath("default-dataspace.yaml").read_text("utf-8"))
    doc["participants"] = [p for p in doc["participants"] if p["id"] in (CONSUMER, PROVIDER)]
    for participant in doc["participants"]:
        participant["runtimes"]["dataPlane"] = {"replicas": 1}
    path.write_text(yaml.safe_dump(doc, sort_keys=False), "utf-8")
    return path


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> Iterator[ServeProcess]:
    root = tmp_path_factory.mktemp("readme-exchange")
    sp = embedded_serve(root, two_participants(root / "dataspace.yaml"))
    try:
        answer = sp.api("POST", "/api/dataspace/provision")
        assert answer.status_code == 202, answer.text
        run_id = answer.json()["runId"]

        def ended() -> dict | None:
            run = sp.api("GET", f"/api/runs/{run_id}").json()
            return run if run["status"] in ("completed", "failed") else None

        run = until(f"provision {run_id}", ended, timeout=400)
        assert run["status"] == "completed", run
        yield sp
    finally:
        sp.stop()


def test_the_readme_curl_walkthrough_gets_the_seeded_bytes(served):
    assert shutil.which("jq") and shutil.which("curl") and shutil.which("mvd", path=served.env["PATH"])
    key = (served.home / "vaults" / CONSUMER / "management-api-key").read_text("utf-8")
    api = httpx.Client(base_url=management_url(served), headers={"X-Api-Key": key}, timeout=30)
    before = history(api)  # the run's verify step made its own round trips

    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", readme_block()],
        env=served.env,
        capture_output=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    provider = next(p for p in load(served.env["MVD_DATASPACE_FILE"]).participants if p.id == PROVIDER)
    offer = next(o for o in provider.offers if o.id == DATASET)
    assert done.stdout == dataset_bytes(PROVIDER, offer)
    assert key.encode() not in done.stdout + done.stderr

    # what it did is in the consumer's history: one more FINALIZED negotiation and STARTED pull
    negotiations, transfers = (
        {k: v for k, v in now.items() if k not in then} for now, then in zip(history(api), before, strict=True)
    )
    assert list(negotiations.values()) == [("CONSUMER", "FINALIZED", DATASET)]
    assert list(transfers.values()) == [("CONSUMER", "STARTED", DATASET, "HttpData-PULL")]


def history(api: httpx.Client) -> tuple[dict[str, tuple], dict[str, tuple]]:
    """The consumer's negotiations and transfers by id, read from its management API."""
    query = {"@context": ["https://w3id.org/edc/connector/management/v0.0.1"], "@type": "QuerySpec", "limit": 100}
    negotiations = api.post("/v3/contractnegotiations/request", json=query).json()
    transfers = api.post("/v3/transferprocesses/request", json=query).json()
    return (
        {n["@id"]: (n["type"], n["state"], n.get("assetId")) for n in negotiations},
        {t["@id"]: (t["type"], t["state"], t.get("assetId"), t["transferType"]) for t in transfers},
    )


def management_url(sp: ServeProcess) -> str:
    endpoints = sp.api("GET", "/api/dataspace/endpoints").json()
    return endpoints["participants"][CONSUMER]["management"]
