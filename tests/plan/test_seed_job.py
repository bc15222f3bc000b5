"""The Kubernetes seed Job for the offers and the connector UI (the EDC Data Dashboard).

The Job's script runs here with real curl and sh against a stand-in management API that records
what it receives: its requests are the ones the processes target's seed step
(workflow/seed.py, through ManagementApi) sends, byte-for-byte equal JSON; 409 counts as kept,
so running it again succeeds; it retries while the connector does not answer yet. The
dashboard's config file carries the spec's addresses, its key comes from the vault at pod start,
and it is not on the Ingress."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import threading
from http.server import ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
import yaml

from mvd_core.dataspace import BlueprintError, load, parse
from mvd_core.plan.desired import dataspace_dids, did_document
from mvd_core.plan.render import (
    API_KEY_PLACEHOLDER,
    CONNECTOR_UI,
    OFFERS_JOB,
    SEED_IMAGE,
    participant_specs,
    render_participant,
    runtime_images,
)
from mvd_core.platforms.edc.management import ManagementApi
from mvd_core.runtimes.cluster import api_url
from mvd_core.runtimes.participant import MANAGEMENT_API_KEY
from mvd_core.settings import Settings
from mvd_core.workflow.seed import seed_offers
from tests.fixtures.loopback import QuietHandler, serve

DEFAULT = resources.files("mvd_core.dataspace").joinpath("default-dataspace.yaml").read_text("utf-8")
KEY = 'k3y-"with\\quote-and-backslash'
CONTROL_PLANE = Settings(public_url="https://mvd.example.org")


class StandIn:
    """A management API that records each POST and answers 200 once per entity, then 409;
    the first ``not_serving`` requests get 404 (EDC before Jersey serves the context)."""

    def __init__(self, not_serving: int = 0, refuse: str | None = None) -> None:
        self.received: list[tuple[str, dict[str, Any], str | None]] = []
        self.known: set[str] = set()
        self.not_serving = not_serving
        self.refuse = refuse  # a path answered 400
        self.lock = threading.Lock()

    def handler(self) -> type[QuietHandler]:
        stand_in = self

        class Handler(QuietHandler):
            def do_POST(self) -> None:
                body = json.loads(self.read_body())
                with stand_in.lock:
                    if stand_in.not_serving:
                        stand_in.not_serving -= 1
                        return self.send(404, b"not found")
                    stand_in.received.append((self.path, body, self.headers.get("x-api-key")))
                    if self.path == stand_in.refuse:
                        return self.send(400, b'[{"message":"bad body"}]')
                    key = f"{self.path}/{body['@id']}"
                    status = 409 if key in stand_in.known else 200
                    stand_in.known.add(key)
                self.send(status, b'{"@id":"x"}', {"Content-Type": "application/json"})

        return Handler


@pytest.fixture(scope="module")
def seed():
    ds = load()
    return ds, dataspace_dids(ds, CONTROL_PLANE)


def of_kind(objects: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {o["metadata"]["name"]: o for o in objects if o["kind"] == kind}


def job_files(tmp_path: Path, objects: list[dict[str, Any]]) -> tuple[Path, Path]:
    """The offers Job's ConfigMap as the files its pod mounts, and a vault with the key."""
    directory = tmp_path / "seed"
    directory.mkdir()
    for name, text in of_kind(objects, "ConfigMap")[OFFERS_JOB]["data"].items():
        (directory / name).write_text(text)
    vault = tmp_path / "vault"
    vault.mkdir()
    (vault / MANAGEMENT_API_KEY).write_text(KEY + "\n")
    return directory, vault


def run_job(directory: Path, vault: Path, url: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {
        "PATH": os.environ["PATH"],
        "MVD_MANAGEMENT_URL": url + "/api/management",
        "MVD_API_KEY_FILE": str(vault / MANAGEMENT_API_KEY),
        "MVD_SEED_INTERVAL": "0.1",
        **env,
    }
    return subprocess.run(
        ["sh", str(directory / "seed.sh")], check=False, env=environment, capture_output=True, text=True, timeout=120
    )


def test_the_job_sends_what_the_seed_step_sends_and_a_second_run_keeps_everything(seed, tmp_path):
    ds, dids = seed
    participant = ds.participant("galactic-turbine")
    objects = render_participant(ds, participant, dids, CONTROL_PLANE)
    directory, vault = job_files(tmp_path, objects)

    python, shell = StandIn(), StandIn(not_serving=3)
    with serve(python.handler()) as url:
        api = ManagementApi(url + "/api/management", runtime="galactic-turbine/connector", api_key=KEY)
        report = seed_offers(api, participant, CONTROL_PLANE)
        api.close()
    assert report.describe() == "3 assets, 1 policy, 1 contract definition created"
    with serve(shell.handler()) as url:
        first = run_job(directory, vault, url)
        assert first.returncode == 0, first.stderr
        second = run_job(directory, vault, url)
        assert second.returncode == 0, second.stderr

    sent = python.received
    assert [path for path, _, _ in sent] == ["/api/management/v3/assets"] * 3 + [
        "/api/management/v3/policydefinitions",
        "/api/management/v3/contractdefinitions",
    ]
    assert shell.received == sent + sent  # same paths, bodies and key, twice
    assert {key for _, _, key in shell.received} == {KEY}
    asset = sent[0][1]["dataAddress"]
    assert asset["baseUrl"] == "https://mvd.example.org/api/dataspace/data/galactic-turbine/" + sent[0][1]["@id"]
    assert first.stdout.splitlines() == [
        *(f"asset {o.id}: created" for o in participant.offers),
        "policy membership-required: created",
        "contract membership-offers: created",
    ]
    assert second.stdout.count(": kept") == 5 and "created" not in second.stdout
    assert KEY not in first.stdout + first.stderr + second.stdout + second.stderr
    assert KEY not in json.dumps(objects)


def test_the_job_waits_for_a_connector_that_is_not_listening_yet(seed, tmp_path):
    ds, dids = seed
    participant = ds.participant("space-enforcer")
    directory, vault = job_files(tmp_path, render_participant(ds, participant, dids, CONTROL_PLANE))
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    stand_in = StandIn()
    environment = {
        "PATH": os.environ["PATH"],
        "MVD_MANAGEMENT_URL": f"http://127.0.0.1:{port}/api/management",
        "MVD_API_KEY_FILE": str(vault / MANAGEMENT_API_KEY),
        "MVD_SEED_INTERVAL": "0.2",
    }
    job = subprocess.Popen(
        ["sh", str(directory / "seed.sh")], env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert job.stderr is not None
        refused = job.stderr.readline()  # curl's own error: the first attempt found nobody listening
        assert "Failed to connect" in refused or "Connection refused" in refused, refused
        server = ThreadingHTTPServer(("127.0.0.1", port), stand_in.handler())
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        thread.start()
        try:
            out, err = job.communicate(timeout=60)
        finally:
            server.shutdown()
            server.server_close()
    finally:
        if job.poll() is None:
            job.kill()
            job.wait()
    assert job.returncode == 0, err
    assert len(stand_in.received) == len(participant.offers) + 2
    assert out.count(": created") == len(participant.offers) + 2


def test_the_job_fails_on_an_answer_that_is_neither_created_nor_kept(seed, tmp_path):
    ds, dids = seed
    participant = ds.participant("space-enforcer")
    directory, vault = job_files(tmp_path, render_participant(ds, participant, dids, CONTROL_PLANE))
    stand_in = StandIn(refuse="/api/management/v3/policydefinitions")
    with serve(stand_in.handler()) as url:
        result = run_job(directory, vault, url)
    assert result.returncode == 1
    assert 'policy membership-required: POST /v3/policydefinitions answered 400: [{"message":"bad body"}]' in (
        result.stderr
    )
    assert [path for path, _, _ in stand_in.received][-1] == "/api/management/v3/policydefinitions"  # stopped there
    assert KEY not in result.stdout + result.stderr


def test_the_job_reads_the_key_from_the_vault_uses_a_published_image_and_reruns_when_its_requests_change(seed):
    ds, dids = seed
    participant = ds.participant("interstellar-assembly")
    objects = render_participant(ds, participant, dids, CONTROL_PLANE)
    job = of_kind(objects, "Job")[OFFERS_JOB]
    [container] = job["spec"]["template"]["spec"]["containers"]
    assert container["image"] == SEED_IMAGE == runtime_images(ds, participant)[OFFERS_JOB].image
    assert re.fullmatch(r"curlimages/curl:\d+\.\d+\.\d+", SEED_IMAGE)  # pinned, never latest
    env = {e["name"]: e["value"] for e in container["env"]}
    connector = next(s for s in participant_specs(ds, participant, dids, CONTROL_PLANE) if s.name == "connector")
    assert env == {
        "MVD_MANAGEMENT_URL": api_url(connector, "management"),
        "MVD_API_KEY_FILE": "/var/run/mvd/vault/management-api-key",
    }
    volumes = {v["name"]: v for v in job["spec"]["template"]["spec"]["volumes"]}
    assert volumes["vault"]["csi"]["volumeAttributes"] == {"secretProviderClass": "interstellar-assembly-vault"}
    assert volumes["requests"]["configMap"]["name"] == OFFERS_JOB
    # the ConfigMap precedes the Job (apply order); another offer changes the Job's spec, so apply re-creates it
    names = [f"{o['kind']}/{o['metadata']['name']}" for o in objects]
    assert names.index(f"ConfigMap/{OFFERS_JOB}") < names.index(f"Job/{OFFERS_JOB}")
    fewer = participant.model_copy(update={"offers": participant.offers[:1]})
    changed = of_kind(render_participant(ds, fewer, dids, CONTROL_PLANE), "Job")[OFFERS_JOB]
    assert changed["spec"] != job["spec"]


def test_the_data_dashboard_config_carries_the_spec_addresses_and_no_key(seed):
    ds, dids = seed
    for participant in ds.participants:
        objects = render_participant(ds, participant, dids, CONTROL_PLANE)
        specs = {s.name: s for s in participant_specs(ds, participant, dids, CONTROL_PLANE)}
        configmap = of_kind(objects, "ConfigMap")[CONNECTOR_UI]
        [config] = json.loads(configmap["data"]["edc-connector-config.json"])
        protocol = {
            s["type"]: s["serviceEndpoint"]
            for s in did_document(ds, participant, dids[participant.id], None)["service"]
        }["ProtocolEndpoint"]
        assert config["protocolUrl"] == protocol  # the public DSP address, as the DID document names it
        assert config["did"] == dids[participant.id]
        assert config["apiToken"] == API_KEY_PLACEHOLDER and config["federatedCatalogEnabled"] is True
        # the browser calls the dashboard's own origin; its nginx forwards each path to the spec's address
        catalog = specs.get("catalog", specs["connector"])
        proxies = dict(re.findall(r"location (\S+) \{\n    proxy_pass (\S+);", configmap["data"]["nginx.conf"]))
        assert proxies == {
            "/api/management/": api_url(specs["connector"], "management") + "/",
            "/api/check/": api_url(specs["connector"], "default") + "/check/",
            "/api/catalog/": api_url(catalog, "catalog") + "/",
        }
        assert config["managementUrl"] == "http://localhost:8080/api/management"
        assert config["federatedCatalogUrl"] == "http://localhost:8080/api/catalog"
        assert config["defaultUrl"] == "http://localhost:8080/api"
        assert ("catalog" in specs) == (participant.id == "galactic-turbine")

        deployment = of_kind(objects, "Deployment")[CONNECTOR_UI]
        pod = deployment["spec"]["template"]["spec"]
        [container] = pod["containers"]
        assert container["image"] == "ghcr.io/eclipse-edc/data-dashboard:0.5.0"
        assert container["ports"] == [{"name": "http", "containerPort": 8080}]
        mounts = {m["mountPath"]: (m["name"], m.get("subPath")) for m in container["volumeMounts"]}
        assert mounts == {
            "/app/config/edc-connector-config.json": ("filled", "edc-connector-config.json"),
            "/etc/nginx/conf.d/default.conf": ("config", "nginx.conf"),
            "/tmp": ("tmp", None),  # nginx-unprivileged's pid and temp files, on a read-only root
        }
        [init] = pod["initContainers"]
        assert init["image"] == container["image"]
        assert {v["name"]: next(k for k in v if k != "name") for v in pod["volumes"]} == {
            "config": "configMap",
            "vault": "csi",
            "filled": "emptyDir",
            "tmp": "emptyDir",
        }
        [ingress] = of_kind(objects, "Ingress").values()
        assert CONNECTOR_UI not in json.dumps(ingress)


def test_the_dashboard_pod_fills_in_the_key_from_the_vault(seed, tmp_path):
    """The init container's shell, run here: the config file the app serves has the vault's key
    (JSON-escaped) as its apiToken, everything else as rendered."""
    ds, dids = seed
    participant = ds.participant("space-enforcer")
    objects = render_participant(ds, participant, dids, CONTROL_PLANE)
    configmap = of_kind(objects, "ConfigMap")[CONNECTOR_UI]
    [init] = of_kind(objects, "Deployment")[CONNECTOR_UI]["spec"]["template"]["spec"]["initContainers"]
    mounts = {m["name"]: m["mountPath"] for m in init["volumeMounts"]}
    for name, mount in mounts.items():
        (tmp_path / name).mkdir()
    for file, text in configmap["data"].items():
        (tmp_path / "config" / file).write_text(text)
    (tmp_path / "vault" / MANAGEMENT_API_KEY).write_text(KEY + "\n")
    _shell, argument, script = init["command"]
    for name, mount in mounts.items():
        script = script.replace(mount, str(tmp_path / name))
    env = {e["name"]: e["value"].replace(mounts["vault"], str(tmp_path / "vault")) for e in init["env"]}
    result = subprocess.run(
        ["sh", argument, script],
        check=False,
        env={"PATH": os.environ["PATH"], **env},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    filled = json.loads((tmp_path / "filled" / "edc-connector-config.json").read_text())
    rendered = json.loads(configmap["data"]["edc-connector-config.json"])
    assert filled == [{**rendered[0], "apiToken": KEY}]
    assert KEY not in result.stdout + result.stderr + json.dumps(objects)


@pytest.mark.parametrize(
    ("names", "problem"),
    [
        (["offers"], "seed job name 'offers' is taken"),
        (["assets", "assets"], "seed job name 'assets' is declared twice"),
    ],
)
def test_a_seed_job_cannot_take_the_offers_jobs_name_or_another_jobs(names, problem):
    data = yaml.safe_load(DEFAULT)
    data["participants"][0]["seedJobs"] = [{"name": name, "image": "busybox:1.36"} for name in names]
    with pytest.raises(BlueprintError) as info:
        parse(yaml.safe_dump(data), "test.yaml")
    [found] = [str(p) for p in info.value.problems]
    assert "participants[0].seedJobs" in found and problem in found
