"""Pick the cluster source a participant's blueprint declares."""

from __future__ import annotations

from typing import Any

from mvd_core.dataspace.models import AksCluster, KubeconfigCluster, SimulatedCluster
from mvd_core.errors import MvdError
from mvd_core.platforms.clusters.base import ClusterSource
from mvd_core.settings import Settings


def open_cluster_source(cluster_model: Any, participant_id: str, settings: Settings, **options: Any) -> ClusterSource:
    """``options`` go to the source (tests pass an ARM ``base_url``/``credential`` or a simulator ``server``)."""
    match cluster_model:
        # Each source is imported when used: the Azure management SDKs take seconds to import.
        case SimulatedCluster():
            from mvd_core.platforms.clusters.simulated import SimulatedClusterSource

            return SimulatedClusterSource(participant_id, settings, **options)
        case KubeconfigCluster():
            from mvd_core.platforms.clusters.kubeconfig import KubeconfigClusterSource

            return KubeconfigClusterSource(cluster_model)
        case AksCluster():
            from mvd_core.platforms.clusters.aks import AksClusterSource

            return AksClusterSource(cluster_model, participant_id, settings, **options)
    raise MvdError(
        f"participant {participant_id!r}: unknown cluster kind {getattr(cluster_model, 'kind', cluster_model)!r}"
    )
