"""A simulated cluster per participant, served by the process's loopback simulator."""

from __future__ import annotations

from kubernetes import client as k8s

from mvd_core.platforms.clusters.base import ClusterOperation
from mvd_core.platforms.kubernetes.client import api_client_for_url
from mvd_core.platforms.kubernetes.simulator import SimulatorServer, shared_simulator
from mvd_core.settings import Settings


class SimulatedClusterSource:
    kind = "simulated"
    simulated = True

    def __init__(self, participant_id: str, settings: Settings, server: SimulatorServer | None = None) -> None:
        self.name = participant_id
        self.settings = settings
        self._server = server

    @property
    def server(self) -> SimulatorServer:
        if self._server is None:
            self._server = shared_simulator(self.settings.home)
        return self._server

    def describe(self) -> str:
        return f"simulated cluster {self.name!r} (no real Kubernetes; state in {self.server.store.path.parent})"

    def _op(self, done: bool = True) -> ClusterOperation:
        return ClusterOperation(done=done, kind=self.kind, simulated=True, description=self.describe())

    def begin_ensure(self) -> ClusterOperation:
        self.server.store.ensure_cluster(self.name)
        return self._op()

    def poll(self, token: str) -> ClusterOperation:
        return self.begin_ensure() if token != "delete" else self._op()

    def api_client(self) -> k8s.ApiClient:
        # A cluster not created yet answers 404 to everything, so observe() sees it as empty.
        return api_client_for_url(self.server.cluster_url(self.name))

    def delete(self) -> ClusterOperation:
        self.server.store.delete_cluster(self.name)
        return ClusterOperation(
            done=True, kind=self.kind, simulated=True, description=f"simulated cluster {self.name!r} deleted"
        )
