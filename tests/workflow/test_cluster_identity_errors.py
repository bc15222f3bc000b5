"""The identity step on a real (kubeconfig) cluster when it cannot reach the identity hub: no
ready hub pod fails the step naming the namespace, and a hub pod whose identity port refuses the
port-forward fails it with what the API server said on the port's error channel. The kubeconfig
points at the simulated API server, so the step takes a real cluster's path; no hub runs."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import pytest
import yaml

from mvd_core.dataspace import load
from mvd_core.dataspace.models import KubeconfigCluster
from mvd_core.dataspace.targets import apply_targets
from mvd_core.errors import MvdError
from mvd_core.identity import keys
from mvd_core.k8s import labels as L
from mvd_core.plan.desired import dataspace_dids
from mvd_core.platforms.kubernetes.simulator import MappedPod, shared_simulator
from mvd_core.settings import get_settings
from mvd_core.workflow import connect, runtimes
from mvd_core.workflow.catalog import ACTIVITIES
from mvd_core.workflow.orchestrators import participant_slice

PARTICIPANT = "space-enforcer"
TOKEN = "k8s-bearer-t0ken-never-shown"


def _kubeconfig(path: Path, server: str) -> str:
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "c", "cluster": {"server": server}}],
                "users": [{"name": "u", "user": {"token": TOKEN}}],
                "contexts": [{"name": "kind-mvd", "context": {"cluster": "c", "user": "u"}}],
                "current-context": "kind-mvd",
            }
        )
    )
    return str(path)


def _work(tmp_path: Path) -> dict[str, Any]:
    sim = shared_simulator()
    sim.store.ensure_cluster("real")
    cluster = KubeconfigCluster(
        kind="kubeconfig", context="kind-mvd", path=_kubeconfig(tmp_path / "kubeconfig", sim.cluster_url("real"))
    )
    ds = apply_targets(load(), "simulated")
    ds = ds.model_copy(
        update={
            "participants": [
                p.model_copy(update={"cluster": cluster}) if p.id == PARTICIPANT else p for p in ds.participants
            ]
        }
    )
    participant = ds.participant(PARTICIPANT)
    store = connect.secret_store(participant, get_settings())
    keys.ensure_participant_key(store, PARTICIPANT, "EC-P256")
    runtimes.ensure_secrets(store)
    baseline = {"dataspace": ds.model_dump(mode="json", by_alias=True), "dids": dataspace_dids(ds, get_settings())}
    return {
        "runId": "run-1",
        "action": "provision",
        "participant": PARTICIPANT,
        "baseline": participant_slice(baseline, PARTICIPANT),
        "rotateKey": False,
    }


def test_no_ready_hub_pod_on_a_real_cluster_fails_the_step_naming_the_namespace(tmp_path: Path):
    with pytest.raises(MvdError, match=f"no ready identity hub pod in namespace {PARTICIPANT}") as failed:
        ACTIVITIES["enroll_identity"](_work(tmp_path))
    assert TOKEN not in str(failed.value)


def test_a_hub_port_that_refuses_the_forward_is_named_in_the_steps_error(tmp_path: Path):
    work = _work(tmp_path)
    closed = socket.create_server(("127.0.0.1", 0))
    address = closed.getsockname()[:2]
    closed.close()  # a port nothing listens on: the forward's connection is refused
    shared_simulator().map_pod(
        "real",
        MappedPod(
            PARTICIPANT,
            "identityhub-0",
            {L.NAME_KEY: "identityhub", L.PARTICIPANT_KEY: PARTICIPANT},
            {15151: address, 9292: address},
        ),
    )
    with pytest.raises(MvdError) as failed:
        ACTIVITIES["enroll_identity"](work)
    message = str(failed.value)
    assert "(port-forward to pod identityhub-0: error forwarding port 15151 to pod identityhub-0" in message
    assert "Connection refused" in message and TOKEN not in message
