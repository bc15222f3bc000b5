"""An existing cluster reached through a kubeconfig context (kind, k3s, EKS, LKE...)."""

from __future__ import annotations

from typing import cast

import urllib3
from kubernetes import client as k8s

from mvd_core.dataspace.models import KubeconfigCluster
from mvd_core.platforms.clusters.base import ClusterOperation
from mvd_core.platforms.kubernetes.client import api_client_from_kubeconfig, call

SIMULATED_VERSION_MARK = "mvd-simulated"


class KubeconfigClusterSource:
    kind = "kubeconfig"

    def __init__(self, model: KubeconfigCluster) -> None:
        self.model = model
        self.simulated = False
        self._version: str | None = None

    def describe(self) -> str:
        where = self.model.path or "~/.kube/config"
        version = f", Kubernetes {self._version}" if self._version else ""
        sim = " — a SIMULATED cluster" if self.simulated else ""
        return f"kubeconfig context {self.model.context!r} in {where}{version}{sim}"

    def api_client(self) -> k8s.ApiClient:
        return api_client_from_kubeconfig(self.model.path, self.model.context)

    def begin_ensure(self) -> ClusterOperation:
        """The cluster exists outside the control plane: check it answers, and what it is."""
        with self.api_client() as api:
            # Unparsed: the client's VersionInfo refuses a server that leaves out build fields
            # (the simulated cluster does), and then the client returns the raw response.
            info = cast(
                urllib3.BaseHTTPResponse,
                call(
                    k8s.VersionApi(api).get_code,
                    _preload_content=False,
                    what=f"reach the cluster of kubeconfig context {self.model.context!r}",
                ),
            )
        import json

        body = json.loads(info.data)
        self._version = body.get("gitVersion")
        self.simulated = SIMULATED_VERSION_MARK in (self._version or "")
        return ClusterOperation(done=True, kind=self.kind, simulated=self.simulated, description=self.describe())

    def poll(self, token: str) -> ClusterOperation:
        return self.begin_ensure()

    def delete(self) -> ClusterOperation:
        return ClusterOperation(
            done=True,
            kind=self.kind,
            simulated=self.simulated,
            description=f"{self.describe()}: not owned by the control plane, left in place",
        )
