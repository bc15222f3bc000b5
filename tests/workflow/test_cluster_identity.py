"""The identity step on a cluster target, against a real IdentityHub 0.15.1 process: the step
finds the hub's pod through the Kubernetes API (the simulated API server, where the test maps the
pod's identity and STS ports to the real process), reaches it through a port-forward driven by
the official client, creates the participant context, writes the STS client secret the hub
generated to the participant's vault, restarts the connector onto it, and gets the
MembershipCredential from the control plane's issuer (a full DCP issuance round trip)."""

from __future__ import annotations

import json
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from mvd_core.dataspace import load
from mvd_core.dataspace.targets import apply_targets
from mvd_core.identity import keys
from mvd_core.identity.didweb import did_from_host_and_path
from mvd_core.identity.document import build_did_document
from mvd_core.identity.issuer import Issuer
from mvd_core.k8s import labels as L
from mvd_core.plan.desired import dataspace_dids
from mvd_core.plan.render import render_participant
from mvd_core.plan.trust import issuer_did, participant_list_url
from mvd_core.platforms.edc.identityhub import IdentityHub, SecureTokenService
from mvd_core.platforms.kubernetes import workloads
from mvd_core.platforms.kubernetes.simulator import MappedPod, shared_simulator
from mvd_core.platforms.processes import JavaCommand, ProcessPlatform
from mvd_core.platforms.secrets.local import LocalFileVault
from mvd_core.runtimes.participant import (
    IDENTITY_HUB_PARTICIPANT_KEY,
    IDENTITY_HUB_SUPERUSER_KEY,
    STS_CLIENT_SECRET,
    context_id,
    participant_runtimes,
    required_ports,
)
from mvd_core.settings import get_settings
from mvd_core.workflow import connect, runtimes
from mvd_core.workflow.catalog import ACTIVITIES
from mvd_core.workflow.cluster_identity import STS_SECRET_STAMP, secret_stamp
from mvd_core.workflow.orchestrators import participant_slice
from tests.fixtures.loopback import QuietHandler, serve
from tests.fixtures.polling import until

PARTICIPANT = "space-enforcer"
POD = "identityhub-6f7c9d5b8-x2k4q"


class Site:
    """The control plane's public URL: the issuer's DID and DCP endpoint, the participant's DID."""

    def __init__(self) -> None:
        self.documents: dict[str, dict[str, Any]] = {}
        self.issuer: Issuer | None = None


@pytest.fixture
def site() -> Iterator[tuple[Site, str]]:
    state = Site()

    class Handler(QuietHandler):
        def do_GET(self) -> None:
            document = state.documents.get(self.path.split("?")[0])
            if document is None:
                return self.send(404)
            return self.send(200, json.dumps(document).encode(), {"Content-Type": "application/did+json"})

        def do_POST(self) -> None:
            body = self.read_body()
            if self.path != "/issuer/dcp/credentials" or state.issuer is None:
                return self.send(404)
            answer = state.issuer.handle_credential_request(dict(self.headers), body)
            if answer.job is not None:
                threading.Thread(target=answer.job.run, daemon=True).start()
            return self.send(answer.status, answer.body, answer.headers)

    with serve(Handler) as url:
        yield state, url


def _work(ds: Any, dids: dict[str, str], run_id: str) -> dict[str, Any]:
    baseline = {"dataspace": ds.model_dump(mode="json", by_alias=True), "dids": dids}
    return {
        "runId": run_id,
        "action": "provision",
        "participant": PARTICIPANT,
        "baseline": participant_slice(baseline, PARTICIPANT),
        "rotateKey": False,
    }


def _connector_stamp(api: Any) -> str | None:
    connector = workloads.read(api, "Deployment", PARTICIPANT, "connector")
    assert connector is not None
    return ((connector["spec"]["template"].get("metadata") or {}).get("annotations") or {}).get(STS_SECRET_STAMP)


def test_the_identity_step_enrolls_through_a_port_forward_to_the_hub_pod(
    site, edc_runtimes, monkeypatch, tmp_path: Path
):
    state, url = site
    monkeypatch.setenv("MVD_PUBLIC_URL", url)
    get_settings.cache_clear()
    settings = get_settings()
    ds = apply_targets(load(), "simulated")
    participant = ds.participant(PARTICIPANT)
    port = int(url.rsplit(":", 1)[1])
    did = did_from_host_and_path("localhost", port, [PARTICIPANT])
    dids = {**dataspace_dids(ds, settings), PARTICIPANT: did}

    # what the vault step leaves in the participant's vault (the cluster's Key Vault)
    store = connect.secret_store(participant, settings)
    jwk = keys.ensure_participant_key(store, PARTICIPANT, "EC-P256")
    runtimes.ensure_secrets(store)
    placeholder = store.get(STS_CLIENT_SECRET)
    assert placeholder is not None

    # the hub pod's vault: the memory volume its init container fills from the mounted Key Vault
    hub_vault = LocalFileVault(tmp_path / "hub-vault")
    for name in (keys.secret_name(PARTICIPANT), IDENTITY_HUB_SUPERUSER_KEY, STS_CLIENT_SECRET):
        value = store.get(name)
        assert value is not None
        hub_vault.set(name, value)
    platform = ProcessPlatform(tmp_path / "processes", command=JavaCommand(edc_runtimes), stop_grace=20)
    [hub] = [
        spec
        for spec in participant_runtimes(
            participant,
            did=did,
            issuer_did=issuer_did(settings),
            participant_list_url=participant_list_url(settings),
            vault_path=hub_vault.root,
            ports=platform.allocate_ports(PARTICIPANT, required_ports(participant)),
        )
        if spec.name == "identityhub"
    ]
    state.documents[f"/{PARTICIPANT}/did.json"] = build_did_document(
        did,
        jwk,
        credential_service_url=f"{hub.url('credentials')}/v1/participants/{context_id(did)}",
        protocol_url="http://localhost:1/api/dsp/2025-1",
    )
    state.issuer = Issuer(
        LocalFileVault(tmp_path / "issuer-vault"),
        issuer_did(settings),
        f"{url}/issuer/dcp",
        {did},
        resolve_options={"allow_http_loopback": True, "allow_private": True},
    )
    state.documents["/dids/issuer/did.json"] = state.issuer.did_document()

    # the cluster: the participant's objects applied, its hub pod mapped to the real process
    sim = shared_simulator()
    sim.store.ensure_cluster(PARTICIPANT)
    api = connect.cluster_source(participant, settings).api_client()
    workloads.apply(api, render_participant(ds, participant, dids, settings))
    try:
        platform.apply([hub])
        until(
            "the identity hub to be ready",
            lambda: any(s.state == "ready" for s in platform.status(PARTICIPANT)),
            timeout=240,
        )
        sim.map_pod(
            PARTICIPANT,
            MappedPod(
                PARTICIPANT,
                POD,
                {L.NAME_KEY: "identityhub", L.PARTICIPANT_KEY: PARTICIPANT},
                {
                    15151: ("127.0.0.1", hub.apis["identity"].port),
                    9292: ("127.0.0.1", hub.apis["sts"].port),
                },
            ),
        )
        first = ACTIVITIES["enroll_identity"](_work(ds, dids, "run-1"))["detail"]
        assert f"through a port-forward to pod {POD}" in first
        assert "participant context created" in first and "MembershipCredential issued by" in first
        assert first.endswith("; connector restarted onto the hub's STS client secret")
        secret = store.get(STS_CLIENT_SECRET)
        # the hub generated its own secret; the step wrote it to the participant's vault
        assert secret is not None and secret != placeholder
        assert hub_vault.get(STS_CLIENT_SECRET) == secret
        assert store.get(IDENTITY_HUB_PARTICIPANT_KEY) == hub_vault.get(IDENTITY_HUB_PARTICIPANT_KEY)
        sts = SecureTokenService(hub.url("sts"), runtime="test")
        try:
            assert sts.accepts(did, SecretStr(secret)) and not sts.accepts(did, SecretStr(placeholder))
        finally:
            sts.close()
        assert _connector_stamp(api) == secret_stamp(secret)
        holder = IdentityHub(hub.url("identity"), runtime="test", api_key=store.get(IDENTITY_HUB_PARTICIPANT_KEY))
        try:
            held = holder.credentials(did)
        finally:
            holder.close()
        assert [c.issuer for c in held if "MembershipCredential" in c.types] == [issuer_did(settings)]
        assert secret not in first and placeholder not in first

        # a second run keeps the context and the credential, and restarts nothing
        writes = sim.writes(PARTICIPANT)
        second = ACTIVITIES["enroll_identity"](_work(ds, dids, "run-1"))["detail"]
        assert "participant context kept, MembershipCredential already held" in second
        assert second.endswith("; connector already run with the hub's STS client secret")
        assert sim.writes(PARTICIPANT) == writes and store.get(STS_CLIENT_SECRET) == secret

        # killed after the hub answered, before the vault write: the re-run re-creates the context
        store.set(STS_CLIENT_SECRET, placeholder)
        third = ACTIVITIES["enroll_identity"](_work(ds, dids, "run-2"))["detail"]
        assert "participant context re-created" in third
        # IdentityHub 0.15.1 keeps a deleted context's credentials: the re-created one holds it again
        assert "MembershipCredential already held" in third
        renewed = store.get(STS_CLIENT_SECRET)
        assert renewed not in (secret, placeholder) and hub_vault.get(STS_CLIENT_SECRET) == renewed
        assert _connector_stamp(api) == secret_stamp(renewed)

        # the simulated cluster without a mapped hub pod: nothing ran, and it says so
        sim.unmap_pod(PARTICIPANT, PARTICIPANT, POD)
        skipped = ACTIVITIES["enroll_identity"](_work(ds, dids, "run-3"))
        assert skipped["skipped"] is True
        assert skipped["detail"].startswith("nothing ran: a simulated cluster runs no runtimes")
    finally:
        platform.stop(PARTICIPANT)
        api.close()
        shutil.rmtree(tmp_path / "processes", ignore_errors=True)
