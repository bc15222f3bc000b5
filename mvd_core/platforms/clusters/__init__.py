"""Where a participant's Kubernetes cluster comes from: simulated, an existing kubeconfig, or AKS."""

from mvd_core.platforms.clusters.base import ClusterMissing, ClusterOperation, ClusterSource, VaultIdentity
from mvd_core.platforms.clusters.factory import open_cluster_source

__all__ = ["ClusterMissing", "ClusterOperation", "ClusterSource", "VaultIdentity", "open_cluster_source"]
