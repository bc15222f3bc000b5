"""What both hosts answer with, beyond commands: the dataspace view (participants, DIDs and
whether they resolve now), the plan, and a run's live per-participant progress."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import ValidationError

from mvd_core.api.models import (
    DataspaceView,
    ParticipantProgress,
    ParticipantView,
    RunSummary,
    RuntimeView,
)
from mvd_core.dataspace import Dataspace, load_targeted
from mvd_core.dataspace.models import Participant
from mvd_core.commands import RunRegistry
from mvd_core.host import schedule
from mvd_core.errors import MvdError
from mvd_core.plan.desired import dataspace_dids, did_url
from mvd_core.plan.planner import cluster_label, make_plan
from mvd_core.workflow import connect
from mvd_core.settings import Settings, get_settings

GetCustomStatus = Callable[[str], Awaitable[Any]]

_RESOLVE_CACHE_SECONDS = 10.0
_resolved: dict[str, tuple[float, bool, str | None]] = {}


def _resolves(participant: Participant, did: str, settings: Settings) -> tuple[bool, str | None]:
    """Whether a DID resolves right now (cached briefly: the dashboard polls)."""
    from mvd_core.identity.resolver import resolve

    cached = _resolved.get(did)
    if cached and time.monotonic() - cached[0] < _RESOLVE_CACHE_SECONDS:
        return cached[1], cached[2]
    try:
        resolve(did, **{**connect.resolve_options(participant, settings), "timeout": 2.0})
        result: tuple[bool, str | None] = (True, None)
    except MvdError as exc:
        result = (False, exc.message)
    _resolved[did] = (time.monotonic(), *result)
    return result


def _participant_view(p: Participant, declared: Participant, did: str, settings: Settings) -> ParticipantView:
    rt = p.runtimes
    return ParticipantView(
        id=p.id,
        display_name=p.display_name,
        cluster_kind=cluster_label(p),
        simulated=p.cluster.kind == "simulated",
        declared_did_host=declared.identity.host.kind,
        did_host=p.identity.host.kind,
        did=did,
        did_url=did_url(p, settings),
        runtimes=RuntimeView(
            connector_replicas=rt.connector.replicas,
            data_plane_replicas=rt.data_plane.replicas,
            catalog=rt.catalog_mode,
            connector_ui=rt.connector_ui.enabled,
        ),
    )


async def dataspace_view(dataspace: Dataspace, registry: RunRegistry, *, check_dids: bool = True) -> DataspaceView:
    settings = get_settings()
    declared = {p.id: p for p in load_targeted(settings, targets="declared").participants}
    dids = dataspace_dids(dataspace, settings)
    views = [_participant_view(p, declared.get(p.id, p), dids[p.id], settings) for p in dataspace.participants]
    if check_dids:
        checks = await asyncio.gather(*(asyncio.to_thread(_resolves, p, v.did, settings)
                                        for p, v in zip(dataspace.participants, views, strict=True)))
        views = [v.model_copy(update={"resolves": ok, "resolve_error": why}) for v, (ok, why) in zip(views, checks, strict=True)]
    current = await asyncio.to_thread(registry.current, dataspace.name)
    runs = await asyncio.to_thread(registry.list, 1, dataspace.name)
    poison = await asyncio.to_thread(registry.list_poison, 20)
    last = next((r.to_summary() for r in runs if r.finished), None)
    return DataspaceView(
        name=dataspace.name,
        display_name=dataspace.display_name,
        targets=settings.targets,
        reset_schedule=schedule.describe(schedule.reset_schedule(dataspace, settings), settings),
        participants=views,
        current_run=current.to_summary() if current and not current.finished else None,
        last_run=last,
        poison=poison,
    )


async def plan(dataspace: Dataspace) -> dict[str, Any]:
    settings = get_settings()

    def compute() -> dict[str, Any]:
        return make_plan(dataspace, dataspace_dids(dataspace, settings), settings.targets,
                         connect.observer(settings, dataspace.name)).to_json()

    return await asyncio.to_thread(compute)


async def live_progress(summary: RunSummary, parent_custom_status: Any, get_custom_status: GetCustomStatus) -> RunSummary:
    """A running run's per-participant progress: each participant sub-orchestrator publishes
    its own steps as custom status; the parent lists the children's instance ids."""
    if not isinstance(parent_custom_status, dict):
        return summary
    children = parent_custom_status.get("children") or {}
    progress: dict[str, ParticipantProgress] = {}
    for pid, raw in (parent_custom_status.get("participants") or {}).items():
        status = raw
        if pid in children:
            status = await get_custom_status(children[pid]) or raw
        try:
            progress[pid] = ParticipantProgress.model_validate(status)
        except ValidationError:
            progress[pid] = ParticipantProgress(participant=pid)
    return summary.model_copy(update={"participants": progress, "status": "running"})


def local_run(registry: RunRegistry, run_id: str, get_status: Callable[[str], Any]) -> RunSummary | None:
    """A run of the local host as the API shows it: its record, with live progress read from
    the engine (``get_status(instance_id)``: the engine's, or a read-only one) while it runs."""
    record = registry.get(run_id)
    if record is None:
        return None
    summary = record.to_summary()
    if record.finished and record.summary is not None:
        return summary
    status = get_status(run_id)
    if status is None:
        return summary

    async def child(instance_id: str) -> Any:
        child_status = get_status(instance_id)
        return child_status.custom_status if child_status else None

    return asyncio.run(live_progress(summary, status.custom_status, child))
