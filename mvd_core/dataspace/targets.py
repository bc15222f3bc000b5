"""Where a blueprint's participants actually run.

``declared`` uses the clusters, vaults and DID hosts the blueprint names. ``embedded`` keeps
every runtime setting (replicas, catalog mode, DID path) and runs the participants on this
machine: their EDC runtimes as local processes, the file vault, and DID documents served by
``mvd serve``. ``simulated`` is ``embedded`` with a simulated Kubernetes cluster per
participant in place of the processes: no runtime runs, which makes it the target for fast
tests of plan, drift and orchestration (output always says a cluster is simulated).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from mvd_core.dataspace.loader import load
from mvd_core.dataspace.models import (
    Cluster,
    Dataspace,
    LocalDidHost,
    LocalVault,
    Participant,
    ProcessesCluster,
    SimulatedCluster,
)
from mvd_core.settings import Settings

Targets = Literal["embedded", "simulated", "declared"]


def local_participant(p: Participant, cluster: Cluster) -> Participant:
    identity = p.identity.model_copy(update={"host": LocalDidHost(kind="local", path=p.identity.host.path)})
    return p.model_copy(update={"cluster": cluster, "vault": LocalVault(), "identity": identity})


def apply_targets(dataspace: Dataspace, targets: Targets) -> Dataspace:
    if targets == "declared":
        return dataspace
    cluster: Cluster = ProcessesCluster() if targets == "embedded" else SimulatedCluster()
    return dataspace.model_copy(
        update={"participants": [local_participant(p, cluster) for p in dataspace.participants]}
    )


def load_targeted(settings: Settings, *, file: Path | None = None, targets: Targets | None = None) -> Dataspace:
    """The dataspace the control plane runs: the blueprint (``file``, else MVD_DATASPACE_FILE,
    else the packaged default) with its targets applied (``targets``, else MVD_TARGETS).

    The one loader: the hosts, the activities and the CLI all read the blueprint through it,
    so what a view shows is what a run converges to."""
    declared = load(file if file is not None else settings.dataspace_file)
    return apply_targets(declared, targets or settings.targets)
