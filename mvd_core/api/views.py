"""What the API shows of the dataspace beyond its runs: each participant with its DID and
whether that resolves now, the current and last run, poison commands; and the plan."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from mvd_core.api.models import CatalogView, DataspaceView, ParticipantView, RuntimeView
from mvd_core.dataspace import Dataspace, load_targeted
from mvd_core.dataspace.models import Participant
from mvd_core.errors import MvdError
from mvd_core.identity.resolver import resolve
from mvd_core.plan.desired import dataspace_dids, did_url
from mvd_core.plan.planner import cluster_label, make_plan
from mvd_core.runs import RunRegistry
from mvd_core.settings import Settings, get_settings
from mvd_core.workflow import connect, runtimes

_RESOLVE_CACHE_SECONDS = 10.0
_resolved: dict[str, tuple[float, bool, str | None]] = {}


def _resolves(participant: Participant, did: str, settings: Settings) -> tuple[bool, str | None]:
    """Whether a DID resolves right now (cached briefly: the dashboard polls)."""
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


_CATALOG_CACHE_SECONDS = 10.0
_catalogs: dict[tuple[str, str], tuple[float, CatalogView]] = {}


def _catalog(participant: Participant, did: str, settings: Settings) -> CatalogView:
    """How many datasets the participant's federated catalog finds (cached briefly: the
    dashboard polls, and a catalog that does not answer costs a timeout)."""
    if not runtimes.on_processes(participant):
        kind = participant.cluster.kind
        where = "no EDC runtime runs on a simulated cluster" if kind == "simulated" else f"runs on its {kind} cluster"
        return CatalogView(note=f"no catalog to ask here: {where}")
    specs = runtimes.recorded_specs(participant, did, settings)
    if specs is None:
        return CatalogView(note="not provisioned yet")
    crawler = runtimes.catalog_runtime(specs)
    key = (str(settings.home), crawler.url("catalog"))
    cached = _catalogs.get(key)
    if cached and time.monotonic() - cached[0] < _CATALOG_CACHE_SECONDS:
        return cached[1]
    try:
        datasets, providers = runtimes.catalog_findings(specs)
        view = CatalogView(datasets=datasets, participants=providers)
    except MvdError:
        view = CatalogView(note=f"its {crawler.name} does not answer")
    _catalogs[key] = (time.monotonic(), view)
    return view


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


async def dataspace_view(
    dataspace: Dataspace, registry: RunRegistry, reset_schedule: str, *, check_dids: bool = True
) -> DataspaceView:
    """The dataspace as ``GET /api/dataspace`` shows it; ``reset_schedule`` is the host's nightly
    reset as it describes it. The current run is the registry's, without live progress."""
    settings = get_settings()
    declared = {p.id: p for p in load_targeted(settings, targets="declared").participants}
    dids = dataspace_dids(dataspace, settings)
    views = [_participant_view(p, declared.get(p.id, p), dids[p.id], settings) for p in dataspace.participants]
    if check_dids:
        checks = await asyncio.gather(
            *(
                asyncio.to_thread(_resolves, p, v.did, settings)
                for p, v in zip(dataspace.participants, views, strict=True)
            )
        )
        catalogs = await asyncio.gather(
            *(
                asyncio.to_thread(_catalog, p, v.did, settings)
                for p, v in zip(dataspace.participants, views, strict=True)
            )
        )
        views = [
            v.model_copy(update={"resolves": ok, "resolve_error": why, "catalog": catalog})
            for v, (ok, why), catalog in zip(views, checks, catalogs, strict=True)
        ]
    current = await asyncio.to_thread(registry.current, dataspace.name)
    runs = await asyncio.to_thread(registry.recent, 1, dataspace.name)
    poison = await asyncio.to_thread(registry.list_poison, 20)
    last = next((r.to_summary() for r in runs if r.finished), None)
    return DataspaceView(
        name=dataspace.name,
        display_name=dataspace.display_name,
        targets=settings.targets,
        reset_schedule=reset_schedule,
        participants=views,
        current_run=current.to_summary() if current and not current.finished else None,
        last_run=last,
        poison=poison,
    )


async def plan(dataspace: Dataspace) -> dict[str, Any]:
    """What an apply would change on each participant's cluster (``mvd plan --json``)."""
    settings = get_settings()

    def compute() -> dict[str, Any]:
        observer = connect.observer(settings, dataspace.name)
        return make_plan(
            dataspace,
            dataspace_dids(dataspace, settings),
            settings.targets,
            settings,
            observer,
            connect.runtime_plan(settings),
            connect.as_rendered(settings),
        ).to_json()

    return await asyncio.to_thread(compute)
