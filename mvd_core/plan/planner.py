"""Plan a dataspace: per participant, the diff of its desired objects against what its
cluster holds. ``observe`` is how the planner sees a cluster (empty when there is none yet);
``as_rendered`` what it renders a participant as (with the vault identity a run would use)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import BaseModel

from mvd_core.dataspace.models import Dataspace, Participant
from mvd_core.k8s.diff import ParticipantDiff, diff_objects
from mvd_core.plan.cloud import runtimes_identity_name
from mvd_core.plan.exposure import RUNTIMES_SERVICE_ACCOUNT, vault_secret_provider, with_vault_identity
from mvd_core.plan.render import render_participant
from mvd_core.settings import Settings

Observe = Callable[[Participant], list[dict[str, Any]]]
# How the planner sees a participant whose runtimes run as local processes (no cluster).
PlanRuntimes = Callable[[Participant], ParticipantDiff]
# What a participant's desired objects are rendered with only in a plan, never applied: the
# cluster step has not made its runtimes' vault identity yet.
PENDING_IDENTITY = "(made by the cluster step)"


class Rendering(BaseModel):
    """The participant as the planner renders it, and a note when that is not yet what a run
    will apply."""

    participant: Participant
    note: str | None = None


AsRendered = Callable[[Participant], Rendering]


def as_declared(participant: Participant) -> Rendering:
    return Rendering(participant=participant)


def identity_pending(participant: Participant) -> Rendering:
    """A participant whose vault identity the cluster step makes but has not made yet: its
    ServiceAccount and SecretProviderClass are rendered with :data:`PENDING_IDENTITY`, so the
    plan shows them changing (or created) for that reason, and the note says why."""
    note = (
        f"the runtimes' vault identity {runtimes_identity_name(participant.id)} does not exist yet: the cluster "
        f"step creates it, then ServiceAccount {RUNTIMES_SERVICE_ACCOUNT} and SecretProviderClass "
        f"{vault_secret_provider(participant)} carry its client id"
    )
    pending = with_vault_identity(participant, PENDING_IDENTITY, PENDING_IDENTITY)
    return Rendering(participant=pending, note=note)


class ParticipantPlan(BaseModel):
    participant: str
    display_name: str
    cluster: str
    diff: ParticipantDiff
    note: str | None = None


class Plan(BaseModel):
    dataspace: str
    targets: str
    participants: list[ParticipantPlan]

    def to_json(self) -> dict[str, Any]:
        """The stable script-facing shape of ``mvd plan --json``."""
        return {
            "dataspace": self.dataspace,
            "targets": self.targets,
            "participants": {
                p.participant: {
                    "cluster": p.cluster,
                    "note": p.note,
                    "create": p.diff.create,
                    "update": [
                        {"object": u.key, "fields": [f.model_dump(mode="json") for f in u.fields]}
                        for u in p.diff.update
                    ],
                    "delete": p.diff.delete,
                    "unchanged": len(p.diff.unchanged),
                }
                for p in self.participants
            },
        }

    @property
    def counts(self) -> tuple[int, int, int]:
        return (
            sum(len(p.diff.create) for p in self.participants),
            sum(len(p.diff.update) for p in self.participants),
            sum(len(p.diff.delete) for p in self.participants),
        )


def no_cluster(_: Participant) -> list[dict[str, Any]]:
    return []


def cluster_label(participant: Participant) -> str:
    cluster = participant.cluster
    return "simulated" if cluster.kind == "simulated" else cluster.kind


def no_runtimes(participant: Participant) -> ParticipantDiff:
    return ParticipantDiff()


def make_plan(
    dataspace: Dataspace,
    dids: dict[str, str],
    targets: str,
    settings: Settings,
    observe: Observe = no_cluster,
    runtimes: PlanRuntimes = no_runtimes,
    as_rendered: AsRendered = as_declared,
) -> Plan:
    plans = []
    for p in dataspace.participants:
        note = None
        if p.cluster.kind == "processes":
            diff = runtimes(p)
        else:
            rendering = as_rendered(p)
            note = rendering.note
            diff = diff_objects(render_participant(dataspace, rendering.participant, dids, settings), observe(p), p.id)
        plans.append(
            ParticipantPlan(
                participant=p.id, display_name=p.display_name, cluster=cluster_label(p), diff=diff, note=note
            )
        )
    return Plan(dataspace=dataspace.name, targets=targets, participants=plans)
