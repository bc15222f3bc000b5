"""Where a blueprint's participants actually run.

``declared`` uses the clusters, vaults and DID hosts the blueprint names. ``embedded`` keeps
every runtime setting (replicas, catalog mode, images, seed jobs, DID path) and swaps the
infrastructure for what runs on one machine: a simulated cluster, the file vault, and DID
documents served by ``mvd serve``. The original declaration stays visible through
``declared_kind`` so output can say "cloudflare (served locally)".
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from mvd_core.dataspace.loader import load
from mvd_core.dataspace.models import (
    Dataspace,
    LocalDidHost,
    LocalVault,
    Participant,
    SimulatedCluster,
)
from mvd_core.settings import Settings

Targets = Literal["embedded", "declared"]


def embedded_participant(p: Participant) -> Participant:
    identity = p.identity.model_copy(update={"host": LocalDidHost(kind="local", path=p.identity.host.path)})
    return p.model_copy(update={"cluster": SimulatedCluster(), "vault": LocalVault(), "identity": identity})


def apply_targets(dataspace: Dataspace, targets: Targets) -> Dataspace:
    if targets == "declared":
        return dataspace
    return dataspace.model_copy(update={"participants": [embedded_participant(p) for p in dataspace.participants]})


def load_targeted(settings: Settings, *, file: Path | None = None, targets: Targets | None = None) -> Dataspace:
    """The dataspace the control plane runs: the blueprint (``file``, else MVD_DATASPACE_FILE,
    else the packaged default) with its targets applied (``targets``, else MVD_TARGETS).

    The one loader: the hosts, the activities and the CLI all read the blueprint through it,
    so what a view shows is what a run converges to."""
    declared = load(file if file is not None else settings.dataspace_file)
    return apply_targets(declared, targets or settings.targets)
