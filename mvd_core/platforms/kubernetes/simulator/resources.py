"""The resources the simulated API server knows: (group, version, plural) -> kind."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Resource:
    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool = True
    has_generation: bool = False

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def qualified(self) -> str:
        """``deployments.apps`` as the real API names a resource in messages."""
        return f"{self.plural}.{self.group}" if self.group else self.plural


RESOURCES: dict[tuple[str, str, str], Resource] = {
    (r.group, r.version, r.plural): r
    for r in [
        Resource("", "v1", "namespaces", "Namespace", namespaced=False),
        Resource("", "v1", "configmaps", "ConfigMap"),
        Resource("", "v1", "secrets", "Secret"),
        Resource("", "v1", "serviceaccounts", "ServiceAccount"),
        Resource("", "v1", "services", "Service"),
        Resource("apps", "v1", "deployments", "Deployment", has_generation=True),
        Resource("apps", "v1", "statefulsets", "StatefulSet", has_generation=True),
        Resource("batch", "v1", "jobs", "Job", has_generation=True),
        Resource("networking.k8s.io", "v1", "ingresses", "Ingress", has_generation=True),
        Resource("networking.k8s.io", "v1", "networkpolicies", "NetworkPolicy", has_generation=True),
        Resource("secrets-store.csi.x-k8s.io", "v1", "secretproviderclasses", "SecretProviderClass"),
    ]
}

BY_KIND: dict[str, Resource] = {r.kind: r for r in RESOURCES.values()}
