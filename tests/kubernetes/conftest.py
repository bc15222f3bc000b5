"""A simulated-cluster server per test, and an official kubernetes ApiClient bound to one cluster."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from kubernetes import client as k8s

from mvd_core.platforms.kubernetes.client import api_client_for_url
from mvd_core.platforms.kubernetes.simulator import SimulatorServer
from mvd_core.settings import get_settings


@pytest.fixture
def sim() -> Iterator[SimulatorServer]:
    server = SimulatorServer(get_settings().home / "clusters" / "simulated.db", ready_delay=0.05).start()
    server.store.ensure_cluster("alice")
    yield server
    server.stop()


@pytest.fixture
def api(sim: SimulatorServer) -> Iterator[k8s.ApiClient]:
    client = api_client_for_url(sim.cluster_url("alice"))
    yield client
    client.close()
