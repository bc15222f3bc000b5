"""A simulated Kubernetes API server (kwok-like) that the official client talks to over HTTP.

One loopback server hosts many clusters under ``/clusters/<name>``; their objects persist in
SQLite under ``$MVD_HOME/clusters/`` so every process sees the same clusters.
"""

from mvd_core.platforms.kubernetes.simulator.portforward import MappedPod
from mvd_core.platforms.kubernetes.simulator.server import (
    Faults,
    SimulatorServer,
    shared_simulator,
    stop_shared_simulators,
)
from mvd_core.platforms.kubernetes.simulator.store import ClusterStore

__all__ = ["ClusterStore", "Faults", "MappedPod", "SimulatorServer", "shared_simulator", "stop_shared_simulators"]
