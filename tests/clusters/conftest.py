"""A simulated-cluster server and an ARM fake whose AKS kubeconfigs point at it; ``aks``: the
control plane's own code (connect.cluster_source) reaches that fake."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from mvd_core.dataspace.models import Participant
from mvd_core.platforms.clusters import open_cluster_source
from mvd_core.platforms.kubernetes.simulator import SimulatorServer
from mvd_core.settings import get_settings
from mvd_core.workflow import connect
from tests.clusters.arm_fake import ArmFake, FakeCredential


@pytest.fixture
def sim() -> Iterator[SimulatorServer]:
    server = SimulatorServer(get_settings().home / "clusters" / "simulated.db", ready_delay=0.05).start()
    yield server
    server.stop()


@pytest.fixture
def arm(sim: SimulatorServer) -> Iterator[ArmFake]:
    def kubeconfig_for(rg: str, name: str) -> dict:
        sim.store.ensure_cluster(name)
        return {
            "apiVersion": "v1", "kind": "Config", "current-context": name,
            "clusters": [{"name": name, "cluster": {"server": sim.cluster_url(name)}}],
            "users": [{"name": f"clusterAdmin_{rg}_{name}", "user": {"token": "aks-admin-token"}}],
            "contexts": [{"name": name, "context": {"cluster": name, "user": f"clusterAdmin_{rg}_{name}"}}],
        }

    with ArmFake(kubeconfig_for, polls_until_ready=3) as fake:
        yield fake


@pytest.fixture
def aks(arm, monkeypatch):
    """The activities reach the ARM fake: only where and how to connect differs from Azure."""
    monkeypatch.setenv("MVD_AZURE_SUBSCRIPTION_ID", "sub-1")
    get_settings.cache_clear()

    def cluster_source(participant: Participant, settings: Any):
        return open_cluster_source(participant.cluster, participant.id, settings, credential=FakeCredential(),
                                   base_url=arm.url, poll_seconds=0.01, connection_verify=False,
                                   retry_backoff_factor=0.01)

    monkeypatch.setattr(connect, "cluster_source", cluster_source)
    yield arm
    get_settings.cache_clear()
