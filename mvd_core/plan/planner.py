"""Plan a dataspace: per participant, the diff of its desired objects against what its
cluster holds. ``observe`` is how the planner sees a cluster (empty when there is none yet)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import BaseModel

from mvd_core.dataspace.models import Dataspace, Participant
from mvd_core.k8s.diff import ParticipantDiff, diff_objects
from mvd_core.plan.render import render_participant
from mvd_core.settings import Settings

Observe = Callable[[Participant], list[dict[str, Any]]]
# How the planner sees a participant whose runtimes run as local processes (no cluster).
PlanRuntimes = Callable[[Participant], ParticipantDiff]


class ParticipantPlan(BaseModel):
    participant: str
    display_name: str
    cluster: str
    diff: ParticipantDiff


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
) -> Plan:
    plans = []
    for p in dataspace.participants:
        if p.cluster.kind == "processes":
            diff = runtimes(p)
        else:
            diff = diff_objects(render_participant(dataspace, p, dids, settings), observe(p), p.id)
        plans.append(
            ParticipantPlan(participant=p.id, display_name=p.display_name, cluster=cluster_label(p), diff=diff)
        )
    return Plan(dataspace=dataspace.name, targets=targets, participants=plans)
