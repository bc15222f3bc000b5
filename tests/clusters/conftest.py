"""A simulated-cluster server and an ARM fake whose AKS kubeconfigs point at it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from mvd_core.platforms.kubernetes.simulator import SimulatorServer
from mvd_core.settings import get_settings
from tests.clusters.arm_fake import ArmFake


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
