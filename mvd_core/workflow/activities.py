"""The activities: each one idempotent step against a real system, JSON in and JSON out.

Every activity re-derives what it needs from the baseline snapshot the run loaded first
(``load_baseline``), so a retry or a replay after a crash sees the same desired state,
and running a step twice has the same effect as running it once.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from mvd_core.dataspace import Dataspace, load_targeted
from mvd_core.dataspace.datasets import dataset_bytes
from mvd_core.dataspace.models import Participant, SimulatedCluster
from mvd_core.dataspace.placeholders import refuse_placeholders
from mvd_core.errors import MvdError
from mvd_core.identity import keys
from mvd_core.identity.document import build_did_document
from mvd_core.logs import get_logger, log_context
from mvd_core.plan.desired import dataspace_dids, did_document
from mvd_core.plan.render import WORKLOAD_KINDS, render_participant
from mvd_core.platforms.clusters import ClusterOperation, ClusterSource, VaultIdentity
from mvd_core.platforms.edc import exchange
from mvd_core.platforms.secrets import SecretStore
from mvd_core.runs import notify
from mvd_core.runtimes.spec import RuntimeSpec
from mvd_core.settings import Settings, get_settings
from mvd_core.workflow import cluster_identity, connect, offboard, runtimes, seed
from mvd_core.workflow.functions import activity

log = get_logger(__name__)

ROTATION_MARKER = "mvd-key-rotated-by-{participant}"
VERIFY_EXCHANGE_TIMEOUT = 120.0


class Work:
    """The parsed input of a per-participant activity."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.run_id: str = data["runId"]
        self.action: str = data["action"]
        self.settings: Settings = get_settings()
        self.dataspace = Dataspace.model_validate(data["baseline"]["dataspace"])
        self.dids: dict[str, str] = data["baseline"]["dids"]
        self.participant: Participant = self.dataspace.participant(data["participant"])
        if data.get("vaultIdentity"):
            # made by this run's cluster step (the orchestrator hands it on to every later step)
            identity = VaultIdentity.model_validate(data["vaultIdentity"])
            self.participant = connect.with_vault_identity(self.participant, identity)
            self.dataspace = self.dataspace.model_copy(
                update={
                    "participants": [
                        self.participant if p.id == self.participant.id else p for p in self.dataspace.participants
                    ]
                }
            )
        self.rotate_key: bool = bool(data.get("rotateKey"))
        self.data = data

    def desired(self) -> list[dict[str, Any]]:
        return render_participant(self.dataspace, self.participant, self.dids, self.settings)

    def api(self) -> Any:
        return connect.cluster_source(self.participant, self.settings).api_client()

    def context(self, step: str) -> Any:
        return log_context(run_id=self.run_id, participant=self.participant.id, step=step)

    @property
    def on_processes(self) -> bool:
        return runtimes.on_processes(self.participant)

    def runtime_specs(self) -> list[RuntimeSpec]:
        return runtimes.specs(self.participant, self.dids[self.participant.id], self.settings)

    def store(self) -> SecretStore:
        return connect.secret_store(self.participant, self.settings)


@activity("load_baseline")
def load_baseline(command: dict[str, Any]) -> dict[str, Any]:
    """The baseline this run converges to, as a snapshot every later step reads."""
    settings = get_settings()
    with log_context(run_id=command.get("runId"), step="baseline"):
        dataspace = load_targeted(settings)
        if settings.targets == "declared" and command["action"] != "teardown":
            # nothing is created for a blueprint that still names made-up hosts, ids or global names
            refuse_placeholders(dataspace, settings.dataspace_file, settings.base_url)
        if dataspace.name != command["dataspace"]:
            raise MvdError(
                f"command is for dataspace {command['dataspace']!r}, the blueprint declares {dataspace.name!r}"
            )
        for pid in command.get("rotateKeys", []):
            dataspace.participant(pid)
        log.info(
            "%s of %d participant(s) (targets: %s)", command["action"], len(dataspace.participants), settings.targets
        )
        return {
            "dataspace": dataspace.model_dump(mode="json", by_alias=True),
            "participants": [p.id for p in dataspace.participants],
            "dids": dataspace_dids(dataspace, settings),
            "targets": settings.targets,
        }


def _operation(work: Work, source: ClusterSource, op: ClusterOperation) -> dict[str, Any]:
    """The cluster step's answer. Once the cluster is ready, the runtimes' Key Vault identity is
    made on it where the control plane makes it, and handed on (``work``) to the later steps."""
    answer: dict[str, Any] = {
        "done": op.done,
        "pollAfterSeconds": op.poll_after_seconds,
        "token": op.token,
        "description": op.description,
    }
    identity = connect.ensure_vault_identity(work.participant, source) if op.done else None
    if identity is not None:
        answer["work"] = {"vaultIdentity": identity.model_dump(mode="json")}
        answer["description"] += f"; runtimes read their vault as managed identity {identity.client_id}"
    return answer


@activity("begin_cluster")
def begin_cluster(data: dict[str, Any]) -> dict[str, Any]:
    work = Work(data)
    with work.context("cluster"):
        if work.on_processes:
            java = runtimes.platform_check()
            return {
                "done": True,
                "pollAfterSeconds": None,
                "token": None,
                "description": f"no cluster: runtimes run as processes on this machine ({java})",
            }
        source = connect.cluster_source(work.participant, work.settings)
        return _operation(work, source, source.begin_ensure())


@activity("poll_cluster")
def poll_cluster(data: dict[str, Any]) -> dict[str, Any]:
    work = Work(data)
    with work.context("cluster"):
        source = connect.cluster_source(work.participant, work.settings)
        return _operation(work, source, source.poll(data["token"]))


@activity("ensure_key")
def ensure_key(data: dict[str, Any]) -> dict[str, Any]:
    """The participant's signing key: created once; rotated once per run that asks for it."""
    work = Work(data)
    p = work.participant
    with work.context("vault"):
        store = connect.secret_store(p, work.settings)
        marker = ROTATION_MARKER.format(participant=p.id)
        if work.rotate_key and store.get(marker) != work.run_id:
            jwk = keys.rotate_participant_key(store, p.id, p.identity.key_type)
            store.set(marker, work.run_id)
            verb = "rotated to"
        else:
            jwk = keys.ensure_participant_key(store, p.id, p.identity.key_type)
            verb = "key"
        detail = f"{verb} {jwk['kid'][:12]}… in {store.description}"
        # wherever runtimes really run: processes read the vault, a real cluster's pods mount it
        # (its SecretProviderClass lists these); a simulated cluster runs none
        if not isinstance(p.cluster, SimulatedCluster):
            created = runtimes.ensure_secrets(store)
            detail += f", runtime secrets {'created' if created else 'kept'}"
        return {"kid": jwk["kid"], "detail": detail}


@activity("publish_did")
def publish_did(data: dict[str, Any]) -> dict[str, Any]:
    """Upload did.json if it changed, then resolve the DID and compare with what was published."""
    from mvd_core.identity.resolver import verify_published

    work = Work(data)
    p = work.participant
    with work.context("did"):
        jwk = keys.public_key(connect.secret_store(p, work.settings), p.id)
        if jwk is None:
            raise MvdError(f"{p.id} has no signing key in its vault yet")
        did = work.dids[p.id]
        if work.on_processes:
            specs = work.runtime_specs()
            document = build_did_document(
                did,
                jwk,
                credential_service_url=runtimes.credential_service_url(specs, did),
                protocol_url=runtimes.protocol_url(specs),
            )
        else:
            document = did_document(work.dataspace, p, did, jwk)
        result = connect.did_host(p, work.settings).publish(document)
        verify_published(did, document, **connect.resolve_options(p, work.settings))
        state = "published" if result.written else "unchanged"
        return {
            "did": did,
            "url": result.url,
            "written": result.written,
            "detail": f"{state} at {result.url}, resolves",
        }


@activity("apply_workloads")
def apply_workloads(data: dict[str, Any]) -> dict[str, Any]:
    """Server-side apply of what differs from the baseline (drift included); nothing else is written."""
    from mvd_core.platforms.kubernetes import workloads

    work = Work(data)
    with work.context("workloads"):
        if work.on_processes:
            started = runtimes.platform(work.settings).apply(work.runtime_specs())
            return {"detail": runtimes.describe(started)}
        api = work.api()
        report = workloads.apply(api, work.desired())
        detail = f"{len(report.created)} created, {len(report.updated)} updated, {len(report.unchanged)} unchanged"
        return {"created": report.created, "updated": report.updated, "writes": report.writes, "detail": detail}


@activity("restart_runtimes")
def restart_runtimes(data: dict[str, Any]) -> dict[str, Any]:
    """Restart every runtime (their state is in memory), then re-run the seed jobs that
    loaded it; both once per run id, so a retry writes nothing more."""
    from mvd_core.platforms.kubernetes import workloads

    work = Work(data)
    with work.context("restart"):
        if work.on_processes:
            restarted = runtimes.platform(work.settings).restart(work.participant.id)
            return {
                "detail": f"{len(restarted.started) + len(restarted.waiting)} runtime(s) restarted (in-memory state gone)"
            }
        api, desired = work.api(), work.desired()
        deployments = [o for o in desired if o["kind"] in WORKLOAD_KINDS]
        workloads.restart(api, deployments, work.run_id)
        workloads.rerun_jobs(api, desired, work.run_id)
        # what this run re-ran, counted from the baseline (a retry re-runs nothing and says the same)
        jobs = [o for o in desired if o["kind"] == "Job"]
        detail = f"{len(deployments)} runtime(s) restarted" + (f", {len(jobs)} seed job(s) re-run" if jobs else "")
        return {"detail": detail}


@activity("check_rollout")
def check_rollout(data: dict[str, Any]) -> dict[str, Any]:
    """Whether the participant's Deployments (or seed Jobs) are ready; never waits."""
    from mvd_core.platforms.kubernetes import workloads

    work = Work(data)
    kinds = set(data.get("kinds") or WORKLOAD_KINDS)
    with work.context("rollout"):
        if work.on_processes:
            return _runtimes_ready(work, kinds)
        objects = [o for o in work.desired() if o["kind"] in kinds]
        status = workloads.rollout_status(work.api(), objects)
        if status.failed:
            raise MvdError("; ".join(s.describe() for s in status.failed))
        noun = "seed job(s)" if kinds == {"Job"} else "runtime(s)"
        if not objects:
            detail = f"no {noun} declared"
        elif status.ready:
            detail = f"{len(objects)} {noun} ready"
        else:
            detail = "waiting for " + ", ".join(s.describe() for s in status.pending)
        return {"ready": status.ready, "total": len(objects), "detail": detail}


def _runtimes_ready(work: Work, kinds: set[str]) -> dict[str, Any]:
    """Processes: start the runtimes whose dependencies are now ready, then whether all are.
    A runtime that died fails the step with its own last log lines."""
    if kinds == {"Job"}:
        return _seed_offers(work)
    platform = runtimes.platform(work.settings)
    platform.advance(work.participant.id)
    states = platform.status(work.participant.id)
    failed = [s for s in states if s.state in ("failed", "stopped")]
    if failed:
        raise MvdError("; ".join(runtimes.describe_failure(s) for s in failed))
    pending = [s for s in states if s.state != "ready"]
    if pending:
        detail = "waiting for " + ", ".join(f"{s.name} ({s.detail or s.state})" for s in pending)
    else:
        detail = f"{len(states)} runtime(s) ready: " + ", ".join(s.name for s in states)
    return {"ready": not pending and bool(states), "total": len(states), "detail": detail}


def _seed_offers(work: Work) -> dict[str, Any]:
    """Processes: the seed step creates the participant's offers through its management API
    (again after every reset: the connector keeps them in memory); what exists is kept."""
    api = runtimes.management_api(work.runtime_specs(), work.store())
    try:
        api.wait_until_serving()
        report = seed.seed_offers(api, work.participant, work.settings)
    finally:
        api.close()
    log.info("seeded: %s", report.describe())
    return {"ready": True, "total": len(work.participant.offers) + 2, "detail": report.describe()}


@activity("enroll_identity")
def enroll_identity(data: dict[str, Any]) -> dict[str, Any]:
    """The participant's identity hub context with its key, and its MembershipCredential from the
    dataspace issuer (again after every reset: the hub's state is in memory)."""
    work = Work(data)
    with work.context("identity"):
        holder_pid = f"membership-{work.run_id}"
        if not work.on_processes:
            return cluster_identity.enroll_on_cluster(
                work.dataspace,
                work.participant,
                work.dids,
                work.api(),
                work.store(),
                work.settings,
                work.desired(),
                holder_pid,
            )
        did = work.dids[work.participant.id]
        detail = runtimes.enroll(
            work.participant,
            did,
            runtimes.hub_endpoints(work.runtime_specs()),
            work.store(),
            work.settings,
            holder_pid=holder_pid,
        )
        return {"detail": detail}


@activity("prune_workloads")
def prune_workloads(data: dict[str, Any]) -> dict[str, Any]:
    from mvd_core.platforms.kubernetes import workloads

    work = Work(data)
    with work.context("prune"):
        if work.on_processes:
            stopped = runtimes.platform(work.settings).prune(
                work.participant.id, [s.name for s in work.runtime_specs()]
            )
            return {
                "deleted": stopped,
                "detail": f"{len(stopped)} runtime(s) stopped" if stopped else "nothing to remove",
            }
        deleted = workloads.prune(work.api(), work.desired(), work.participant.id, work.dataspace.name)
        return {"deleted": deleted, "detail": f"{len(deleted)} object(s) removed" if deleted else "nothing to remove"}


@activity("delete_workloads")
def delete_workloads(data: dict[str, Any]) -> dict[str, Any]:
    from mvd_core.platforms.clusters import ClusterMissing
    from mvd_core.platforms.kubernetes import workloads

    work = Work(data)
    with work.context("workloads"):
        if work.on_processes:
            stopped = runtimes.platform(work.settings).stop(work.participant.id)
            return {"detail": f"{len(stopped)} runtime(s) stopped" if stopped else "no runtime running"}
        try:
            api = work.api()
        except ClusterMissing:
            return {"detail": "no cluster, nothing to delete"}
        deleted = workloads.delete_namespace(api, work.participant.id)
        return {"detail": f"namespace {work.participant.id} deleted" if deleted else "namespace already gone"}


@activity("remove_did")
def remove_did(data: dict[str, Any]) -> dict[str, Any]:
    work = Work(data)
    with work.context("did"):
        removed = connect.did_host(work.participant, work.settings).remove()
        return {"detail": "did.json removed (key kept: the DID stays stable)" if removed else "no did.json to remove"}


@activity("verify_dataspace")
def verify_dataspace(data: dict[str, Any]) -> dict[str, Any]:
    """Every participant's DID resolves to its current key, and each cluster's participant
    list names exactly the baseline's participants."""
    from mvd_core.identity.document import verification_keys
    from mvd_core.identity.resolver import resolve

    settings = get_settings()
    dataspace = Dataspace.model_validate(data["baseline"]["dataspace"])
    dids: dict[str, str] = data["baseline"]["dids"]
    problems: dict[str, str] = {}
    for p in dataspace.participants:
        if p.id in data.get("skip", []):
            continue
        with log_context(participant=p.id, step="verify"):
            try:
                served = resolve(dids[p.id], **connect.resolve_options(p, settings))
                jwk = keys.public_key(connect.secret_store(p, settings), p.id)
                if jwk is None or jwk["kid"] not in [k.get("kid") for k in verification_keys(served)]:
                    problems[p.id] = f"{dids[p.id]} does not serve the key in the vault"
            except MvdError as exc:
                problems[p.id] = exc.message
    exchanged, proved = _verify_exchange(dataspace, dids, settings, skip={*data.get("skip", []), *problems})
    problems.update(exchanged)
    return {"problems": problems, "proved": proved}


def _verify_exchange(
    dataspace: Dataspace, dids: dict[str, str], settings: Settings, skip: set[str]
) -> tuple[dict[str, str], list[str]]:
    """Each participant running real runtimes asks each other one for its catalog over DSP, with
    DCP trust; then one consumer per provider negotiates the provider's first offer and pulls
    its data through the provider's data plane, which must be the bytes that were seeded: the
    dataspace works, not only its processes. Returns the problems and what was proved."""
    running = [p for p in dataspace.participants if runtimes.on_processes(p) and p.id not in skip]
    specs = {p.id: runtimes.specs(p, dids[p.id], settings) for p in running}
    problems: dict[str, str] = {}
    for requester in running:
        store = connect.secret_store(requester, settings)
        for provider in running:
            if provider.id == requester.id:
                continue
            with log_context(participant=requester.id, step="verify"):
                try:
                    found = runtimes.catalog_request(specs[requester.id], store, dids[provider.id], specs[provider.id])
                    log.info("catalog of %s over DSP: %d dataset(s)", provider.id, found)
                except MvdError as exc:
                    problems[requester.id] = f"catalog request to {provider.id} over DSP failed: {exc.message}"
                    break
    proved: list[str] = []
    healthy = [p for p in running if p.id not in problems]
    for index, provider in enumerate(healthy):
        consumer = healthy[(index + 1) % len(healthy)]
        if consumer.id == provider.id or not provider.offers:
            continue
        with log_context(participant=provider.id, step="verify"):
            try:
                proved.append(_round_trip(consumer, provider, specs, dids, settings))
                log.info("%s", proved[-1])
            except MvdError as exc:
                problems.setdefault(provider.id, exc.message)
    return problems, proved


def _round_trip(
    consumer: Participant,
    provider: Participant,
    specs: dict[str, list[RuntimeSpec]],
    dids: dict[str, str],
    settings: Settings,
) -> str:
    """``consumer`` negotiates ``provider``'s first offer and pulls its data; what that proved."""
    offer = provider.offers[0]
    api = runtimes.management_api(specs[consumer.id], connect.secret_store(consumer, settings))
    try:
        trip = exchange.round_trip(
            api,
            provider_protocol_url=runtimes.protocol_url(specs[provider.id]),
            provider_did=dids[provider.id],
            dataset_id=offer.id,
            timeout=VERIFY_EXCHANGE_TIMEOUT,
        )
    except MvdError as exc:
        raise MvdError(f"{consumer.id} could not get {offer.id} from {provider.id}: {exc.message}") from None
    finally:
        api.close()
    seeded = dataset_bytes(provider.id, offer)
    if trip.data != seeded:
        raise MvdError(
            f"{consumer.id} pulled {len(trip.data)} bytes of {offer.id} from {provider.id}, "
            f"not the {len(seeded)} seeded bytes"
        )
    return (
        f"{consumer.id} negotiated {provider.id}'s {offer.id} (agreement {trip.agreement_id}) and pulled its "
        f"{len(seeded)} bytes through {provider.id}'s data plane: the seeded data"
    )


@activity("remove_onboarded")
def remove_onboarded(data: dict[str, Any]) -> list[dict[str, Any]]:
    """A reset's (and a teardown's) first step: every onboarded participant leaves the participant
    list and the issuer's member set, its credentials revoked. Idempotent: a retry answers the same."""
    settings = get_settings()
    dataspace = Dataspace.model_validate(data["baseline"]["dataspace"])
    with log_context(run_id=data["runId"], step="offboard"):
        return [r.wire() for r in offboard.remove_all(dataspace, settings, data["runId"])]


@activity("record_run")
def record_run(summary: dict[str, Any]) -> dict[str, Any]:
    """Write the run's summary to the run registry, which releases the dataspace for the next run."""
    from mvd_core.runs import RunSummary, open_registry

    command = summary["command"]
    now = datetime.fromisoformat(summary["finishedAt"]) if summary.get("finishedAt") else datetime.now(UTC)
    now = now if now.tzinfo else now.replace(tzinfo=UTC)
    created = datetime.fromisoformat(command["requestedAt"])
    run = RunSummary(
        id=command["runId"],
        dataspace=command["dataspace"],
        action=command["action"],
        source=command["source"],
        status="failed" if summary["failures"] else "completed",
        created_at=created,
        finished_at=now,
        duration_ms=int((now - created).total_seconds() * 1000),
        participants=summary["results"],
        failures=summary["failures"],
        verified=summary.get("verified", []),
        removed=summary.get("removed", []),
    )
    with log_context(run_id=run.id, step="record"):
        open_registry().finish(run.id, run)
    notify.run_finished(run, get_settings())
    return run.wire()
