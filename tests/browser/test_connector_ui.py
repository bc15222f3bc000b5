"""A participant's connector page in Chromium, on a real `mvd serve` with the embedded targets:
the seed's three participants with one data plane each and every catalog embedded (9 EDC runtimes
as its child processes; the full 14 run in tests/e2e/test_dataspace_runtimes.py), provisioned and
seeded once for the module. From Space Enforcer's page: find Interstellar Assembly's dataset in the catalog,
negotiate it (FINALIZED), transfer it (STARTED) and see its data, which is byte for byte what
Interstellar Assembly's asset source serves. Then what the proxy relays from real runtimes
when asked for something that is not there."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from importlib import resources
from pathlib import Path

import httpx
import psutil
import pytest
import yaml
from playwright.sync_api import Page, expect

from mvd_core.dataspace import load
from mvd_core.dataspace.datasets import dataset_bytes
from mvd_core.platforms.secrets.local import LocalFileVault
from tests.browser.conftest import TOKEN, MvdServe, launch, shot, stop
from tests.browser.test_policy import _watch
from tests.fixtures.polling import until

pytestmark = [pytest.mark.browser, pytest.mark.timeout(1500)]

CONSUMER, PROVIDER = "space-enforcer", "interstellar-assembly"
SEED = load(None)
OFFER = SEED.participant(PROVIDER).offers[0]
EXPECTED = dataset_bytes(PROVIDER, OFFER)
AUTH = {"Authorization": f"Bearer {TOKEN}"}
PROVISION_TIMEOUT = 900.0  # 9 JVMs on a 2-core machine
EXCHANGE_TIMEOUT_MS = 180_000


def runtime_processes(home: Path, participant: str = "", name: str = "") -> list[psutil.Process]:
    """The live EDC runtimes started for ``home`` (each with a settings file under it,
    ``<participant>/<name>.properties``), of one participant or one runtime when asked."""
    found = []
    for proc in psutil.process_iter(["cmdline", "status"]):
        if proc.info["status"] == psutil.STATUS_ZOMBIE:
            continue
        for arg in proc.info["cmdline"] or []:
            config = Path(arg.split("=", 1)[1]) if arg.startswith("-Dedc.fs.config=") else None
            if config is None or not config.is_relative_to(home):
                continue
            if (not participant or config.parent.name == participant) and (not name or config.stem == name):
                found.append(proc)
    return found


def when(iso: str) -> datetime:
    return datetime.fromisoformat(iso)


def finished(server: MvdServe, run_id: str) -> dict | None:
    run = httpx.get(f"{server.url}/api/runs/{run_id}", headers=AUTH, timeout=30).json()
    return run if run["status"] in ("completed", "failed") else None


def lighter(path: Path) -> Path:
    """The seed blueprint with one data plane per participant and Galactic Turbine's catalog
    embedded in its connector: what the page does is the same, with 9 runtimes instead of 14."""
    doc = yaml.safe_load(resources.files("mvd_core.dataspace").joinpath("default-dataspace.yaml").read_text("utf-8"))
    for participant in doc["participants"]:
        participant["runtimes"]["dataPlane"] = {"replicas": 1}
        if participant["runtimes"].pop("catalog", None) is not None:
            participant["runtimes"]["connector"]["embeddedCatalog"] = True
    path.write_text(yaml.safe_dump(doc, sort_keys=False), "utf-8")
    return path


@pytest.fixture(scope="module")
def dataspace(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MvdServe]:
    blueprint = tmp_path_factory.mktemp("blueprint") / "dataspace.yaml"
    server = launch(tmp_path_factory, targets="embedded", env={"MVD_DATASPACE_FILE": str(lighter(blueprint))})
    try:
        answer = httpx.post(f"{server.url}/api/dataspace/provision", headers=AUTH, timeout=30)
        assert answer.status_code == 202, answer.text
        run = until("the provision of the seed dataspace", lambda: finished(server, answer.json()["runId"]),
                    timeout=PROVISION_TIMEOUT, max_interval=2)
        failures = {pid: p.get("error") for pid, p in run["participants"].items() if p["status"] != "done"}
        assert run["status"] == "completed", f"provision failed: {failures}\n{server.log()[-3000:]}"
        yield server
    finally:
        stop(server)
        # mvd serve's runtimes die with it (parent-death signal); none may outlive the module
        try:
            until("the runtimes to exit with mvd serve", lambda: not runtime_processes(server.home), timeout=60)
        finally:
            for proc in runtime_processes(server.home):
                proc.kill()


def test_from_space_enforcers_page_negotiate_transfer_and_see_interstellar_assemblys_data(
    dataspace: MvdServe, page: Page
):
    page.goto(dataspace.url + "/")
    card = page.locator(f'#participants li.card[data-participant="{CONSUMER}"]')
    card.get_by_role("link", name="Open connector of Space Enforcer Laser Tec").click()
    expect(page).to_have_url(f"{dataspace.url}/participants/{CONSUMER}")
    expect(page.locator("#participant-title")).to_have_text("Space Enforcer Laser Tec")

    # its own assets, and the catalog grouped by provider (its own datasets are not in it)
    own = SEED.participant(CONSUMER).offers
    expect(page.locator("#assets li[data-asset]")).to_have_count(len(own), timeout=60_000)
    expect(page.locator(f'#assets li[data-asset="{own[0].id}"] h4')).to_have_text(own[0].title)
    provider = page.locator(f'#catalog section.provider[data-provider="{PROVIDER}"]')
    expect(provider.locator("h3")).to_contain_text("Interstellar Assembly Services", timeout=120_000)
    expect(provider.locator("li.dataset")).to_have_count(len(SEED.participant(PROVIDER).offers))
    turbine = page.locator('#catalog section.provider[data-provider="galactic-turbine"]')
    expect(turbine.locator("li.dataset")).to_have_count(len(SEED.participant("galactic-turbine").offers))
    expect(page.locator(f'#catalog li.dataset[data-provider="{CONSUMER}"]')).to_have_count(0)
    dataset = provider.locator(f'li.dataset[data-dataset="{OFFER.id}"]')
    expect(dataset.locator("h4")).to_have_text(OFFER.title)
    expect(dataset).to_contain_text(OFFER.description)
    expect(dataset.locator(".badge")).to_have_text(OFFER.media_type)

    # negotiate: the token is asked for, then the negotiation is followed until FINALIZED
    dataset.get_by_role("button", name=f"Negotiate {OFFER.title} from Interstellar Assembly Services").click()
    page.get_by_role("textbox", name="API token").fill(TOKEN)
    page.keyboard.press("Enter")
    negotiation = page.locator('#exchange [data-step="negotiation"] [data-state]')
    expect(negotiation).to_have_attribute("data-state", "FINALIZED", timeout=EXCHANGE_TIMEOUT_MS)
    expect(page.locator("#message")).to_contain_text("Agreement ")
    negotiation_id = page.locator('#exchange [data-step="negotiation"]').get_attribute("data-id")

    # transfer: followed until STARTED, then the data is fetched and shown
    start = page.get_by_role("button", name="Start transfer")
    expect(start).to_be_focused()
    start.click()
    expect(page.locator('#exchange [data-step="transfer"] [data-state]')).to_have_attribute(
        "data-state", "STARTED", timeout=EXCHANGE_TIMEOUT_MS)
    transfer_id = page.locator('#exchange [data-step="transfer"]').get_attribute("data-id")
    preview = page.locator("#data-preview")
    expect(preview).to_be_visible(timeout=EXCHANGE_TIMEOUT_MS)
    assert preview.text_content() == EXPECTED.decode("utf-8")
    meta = page.locator("#data .data-meta")
    expect(meta).to_have_attribute("data-bytes", str(len(EXPECTED)))
    expect(meta).to_contain_text(f"{OFFER.id} · {len(EXPECTED)} bytes · {OFFER.media_type}")
    expect(page.locator("#data-save")).to_have_attribute("download", f"{OFFER.id}.csv")

    # the history: the agreement and the started pull, whose data can be shown again
    expect(page.locator(f'#negotiations li[data-negotiation="{negotiation_id}"]')).to_have_attribute(
        "data-state", "FINALIZED", timeout=30_000)
    transfer_row = page.locator(f'#transfers li[data-transfer="{transfer_id}"]')
    expect(transfer_row).to_have_attribute("data-state", "STARTED", timeout=30_000)
    expect(transfer_row).to_contain_text(f"{OFFER.id} from Interstellar Assembly Services")
    page.evaluate("document.getElementById('data').replaceChildren()")
    transfer_row.get_by_role("button", name=f"Show the data of transfer {transfer_id}").click()
    expect(preview).to_have_text(EXPECTED.decode("utf-8"))
    expect(page.locator("#data")).not_to_contain_text("null")
    shot(page, "connector-ui")  # docs/connector-ui.png is a copy of this one
    page.evaluate("document.getElementById('exchange-panel').scrollIntoView({block: 'start'})")
    shot(page, "connector-ui-exchange", full_page=False)
    page.set_viewport_size({"width": 375, "height": 800})
    assert page.evaluate("document.documentElement.scrollWidth") <= 375, "the page scrolls sideways at 375 px"
    shot(page, "connector-ui-narrow")
    page.set_viewport_size({"width": 1280, "height": 900})

    # the bytes through the proxy are what the provider's asset source serves (its data plane
    # fetched them there with the provider's data-source key)
    relayed = httpx.get(f"{dataspace.url}/api/participants/{CONSUMER}/connector/transfers/{transfer_id}/data",
                        timeout=60)
    assert relayed.status_code == 200 and relayed.content == EXPECTED
    assert relayed.headers["content-type"] == OFFER.media_type
    assert relayed.headers["content-disposition"] == f'attachment; filename="{OFFER.id}.csv"'
    assert relayed.headers["content-security-policy"] == "sandbox; default-src 'none'"
    key = LocalFileVault(dataspace.home / "vaults" / PROVIDER).get("data-source-key")
    served = httpx.get(f"{dataspace.url}/api/dataspace/data/{PROVIDER}/{OFFER.id}",
                       headers={"X-Data-Source-Key": key}, timeout=30)
    assert served.status_code == 200 and served.content == relayed.content

    # the provider's side of the same negotiation, through its own connector (EDC 0.15.1 gives the
    # two sides' agreements different ids: matched by counter-party and time)
    ours = httpx.get(f"{dataspace.url}/api/participants/{CONSUMER}/connector/negotiations/{negotiation_id}",
                     timeout=60).json()
    assert ours["role"] == "consumer" and ours["counterParty"] == PROVIDER
    provided = httpx.get(f"{dataspace.url}/api/participants/{PROVIDER}/connector/negotiations", timeout=60).json()
    theirs = [n for n in provided["negotiations"] if n["role"] == "provider" and n["counterParty"] == CONSUMER
              and n["state"] == "FINALIZED" and when(n["createdAt"]) >= when(ours["createdAt"])]
    assert len(theirs) == 1, json.dumps([ours, provided["negotiations"]], indent=0)


def test_what_real_runtimes_answer_for_what_is_not_there(dataspace: MvdServe):
    base = f"{dataspace.url}/api/participants/{CONSUMER}/connector"
    key = LocalFileVault(dataspace.home / "vaults" / CONSUMER).get("management-api-key")
    assert key
    answers = []

    def call(method: str, path: str, **kwargs) -> httpx.Response:
        answers.append(httpx.request(method, base + path, headers=AUTH, timeout=60, **kwargs))
        return answers[-1]

    missing = call("GET", "/negotiations/no-such-negotiation")
    assert missing.status_code == 404, missing.text
    assert missing.json()["error"] == "space-enforcer's connector has no contract negotiation 'no-such-negotiation'"
    assert call("GET", "/transfers/no-such-transfer").status_code == 404
    assert call("GET", "/transfers/no-such-transfer/data").status_code == 404
    unknown = call("POST", "/negotiations", json={"provider": PROVIDER, "datasetId": "no-such-dataset"})
    assert unknown.status_code == 404
    prefix = f"{PROVIDER} offers {CONSUMER} no dataset 'no-such-dataset' (it offers "
    message = unknown.json()["error"]
    assert message.startswith(prefix) and message.endswith(")")
    assert set(message[len(prefix):-1].split(", ")) == {o.id for o in SEED.participant(PROVIDER).offers}
    no_agreement = call("POST", "/transfers", json={"agreementId": "no-such-agreement"})
    assert no_agreement.status_code == 404 and "has no agreement 'no-such-agreement'" in no_agreement.json()["error"]
    for answer in answers:
        assert key not in answer.text and "Traceback" not in answer.text
    assert key not in dataspace.log() and "Traceback" not in dataspace.log()



def test_a_runtime_that_is_down_is_named(dataspace: MvdServe, page: Page):
    """Last on the real dataspace (it kills runtimes, which nothing restarts until a run): a
    provider's connector down is that provider's error in the catalog, the others are still
    listed; the participant's own connector down is a 503 naming it, on the page too."""
    [provider_connector] = runtime_processes(dataspace.home, PROVIDER, "connector")
    provider_connector.kill()
    until("its connector to die", lambda: not runtime_processes(dataspace.home, PROVIDER, "connector"), timeout=30)
    catalog = httpx.get(f"{dataspace.url}/api/participants/{CONSUMER}/connector/catalog", timeout=120).json()
    by_id = {p["participant"]: p for p in catalog["providers"]}
    error = by_id[PROVIDER]["error"]
    assert by_id[PROVIDER]["datasets"] == [] and error, catalog
    assert error.startswith(f"management API of {CONSUMER}/connector: POST http://localhost:"), error
    assert "/v3/catalog/request answered HTTP 5" in error, error
    assert by_id["galactic-turbine"]["error"] is None and by_id["galactic-turbine"]["datasets"]

    [own] = runtime_processes(dataspace.home, CONSUMER, "connector")
    own.kill()
    until("its connector to die", lambda: not runtime_processes(dataspace.home, CONSUMER, "connector"), timeout=30)
    answer = httpx.get(f"{dataspace.url}/api/participants/{CONSUMER}/connector/assets", timeout=60)
    assert answer.status_code == 503, answer.text
    assert answer.json()["error"].startswith(f"the connector of {CONSUMER} does not answer (management API of "
                                             f"{CONSUMER}/connector: POST http://localhost:")
    page.goto(f"{dataspace.url}/participants/{CONSUMER}")
    for section in ("#catalog", "#assets", "#negotiations", "#transfers"):
        expect(page.locator(f"{section} .step-error")).to_contain_text(f"the connector of {CONSUMER} does not answer")
    shot(page, "connector-ui-down")


def test_on_simulated_clusters_the_page_says_why_there_is_no_connector(idle_server: MvdServe, page: Page):
    """No runtime runs on a simulated cluster: the dashboard links no connector page, and the page
    (reached by its address) names why in every section, under the dashboard's CSP."""
    console = _watch(page)
    page.goto(idle_server.url + "/")
    expect(page.locator("#participants > li.card")).to_have_count(3)
    expect(page.locator("[data-connector-link]")).to_have_count(0)
    response = page.goto(f"{idle_server.url}/participants/{CONSUMER}")
    assert response is not None and "script-src 'self'" in response.headers["content-security-policy"]
    expect(page.locator("#participant-title")).to_have_text("Space Enforcer Laser Tec")
    why = "space-enforcer has no connector this control plane can call: simulated cluster"
    for section in ("#catalog", "#assets", "#negotiations", "#transfers"):
        expect(page.locator(f"{section} .step-error")).to_contain_text(why)
        expect(page.locator(section)).to_have_attribute("aria-busy", "false")
    assert page.evaluate("window.__violations") == [] and console == []
    page.goto(f"{idle_server.url}/participants/nobody")
    expect(page.locator("#participant-meta")).to_have_text('No participant "nobody" in this dataspace.')
    expect(page.locator("#assets .step-error")).to_contain_text("unknown participant 'nobody'")


def test_where_reads_need_the_token_the_page_asks_for_it_once(start_server, page: Page):
    server = start_server(env={"MVD_ANONYMOUS_READS": "false"})
    page.goto(f"{server.url}/participants/{CONSUMER}")
    dialog = page.locator("#token-dialog")
    expect(dialog).to_be_visible()
    page.get_by_role("textbox", name="API token").fill(TOKEN)
    page.keyboard.press("Enter")
    expect(dialog).to_be_hidden()
    expect(page.locator("#participant-title")).to_have_text("Space Enforcer Laser Tec")
    why = "space-enforcer has no connector this control plane can call: simulated cluster"
    for section in ("#catalog", "#assets", "#negotiations", "#transfers"):
        expect(page.locator(f"{section} .step-error")).to_contain_text(why)
    expect(page.get_by_role("button", name="Change API token")).to_be_visible()
