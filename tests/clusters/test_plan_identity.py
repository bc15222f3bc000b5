"""`mvd plan` renders an AKS participant with the runtimes' vault identity the cluster step made,
looked up read-only through the cluster source (the real azure-mgmt SDKs against the ARM fake,
the objects on the simulated cluster its kubeconfig points at): a provisioned cluster shows no
change; before the identity exists the plan says so and shows what it will change."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from mvd_core.api import views
from mvd_core.api.models import PlanView
from mvd_core.dataspace import Dataspace, load
from mvd_core.errors import ExternalError
from mvd_core.plan.desired import dataspace_dids
from mvd_core.plan.planner import PENDING_IDENTITY, Plan, make_plan
from mvd_core.plan.render import render_participant
from mvd_core.platforms.kubernetes import workloads
from mvd_core.settings import get_settings
from mvd_core.workflow import connect
from mvd_core.workflow.catalog import ACTIVITIES
from tests.clusters.arm_fake import Fault
from tests.clusters.test_aks_vault_identity_step import _cluster_step, _work

pytestmark = pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")
PID = "galactic-turbine"
ACCOUNT = f"ServiceAccount/{PID}/runtimes"
PROVIDER = f"SecretProviderClass/{PID}/{PID}-vault"
IDENTITY = "/userAssignedIdentities/id-galactic-turbine-runtimes"


def _dataspace(work: dict[str, Any]) -> Dataspace:
    return Dataspace.model_validate(work["baseline"]["dataspace"])


def _plan(dataspace: Dataspace) -> Plan:
    """What `mvd plan` computes (cli/blueprint.py): the live clusters, the live identity."""
    settings = get_settings()
    return make_plan(dataspace, dataspace_dids(dataspace, settings), "declared", settings,
                     connect.observer(settings, dataspace.name), connect.runtime_plan(settings),
                     connect.as_rendered(settings))


def _writes(arm, since: int = 0) -> list[tuple[str, str]]:
    """ARM requests from ``since`` on that change something (the admin kubeconfig's POST reads)."""
    return [(m, p) for m, p, _ in arm.requests[since:] if m != "GET" and not p.endswith("/listClusterAdminCredential")]


def test_plan_after_a_provision_shows_no_change_and_the_lookup_writes_nothing(aks):
    work = _work()
    op = _cluster_step(work)
    assert ACTIVITIES["apply_workloads"]({**work, **op["work"]})["writes"] > 0
    since, lookups = len(aks.requests), aks.count("GET", IDENTITY)

    plan = _plan(_dataspace(work))
    [participant] = plan.participants
    assert plan.counts == (0, 0, 0), plan.to_json()
    assert {ACCOUNT, PROVIDER} <= set(participant.diff.unchanged)
    assert participant.note is None
    # read-only: one GET of the identity, no PUT, POST or DELETE to ARM
    assert aks.count("GET", IDENTITY) == lookups + 1
    assert _writes(aks, since) == []


def test_plan_before_the_identity_exists_says_so_and_shows_what_it_changes(aks):
    """The cluster exists and holds the objects rendered without an identity (the cluster step
    never got to make it): the plan names the missing identity in one line, shows the
    ServiceAccount's annotation changing and the SecretProviderClass to be created, and writes
    nothing to ARM."""
    work = _work()
    dataspace = _dataspace(work)
    [participant] = dataspace.participants
    settings = get_settings()
    source = connect.cluster_source(participant, settings)
    op = source.begin_ensure()
    for _ in range(10):
        if op.done:
            break
        op = source.poll(op.token)
    assert op.done
    workloads.apply(source.api_client(), render_participant(dataspace, participant, work["baseline"]["dids"],
                                                            settings))
    since = len(aks.requests)

    plan = _plan(dataspace)
    [planned] = plan.participants
    assert planned.note is not None and "\n" not in planned.note
    assert "id-galactic-turbine-runtimes does not exist yet" in planned.note
    assert "the cluster step creates it" in planned.note and PROVIDER.rsplit("/", 1)[1] in planned.note
    [account] = [u for u in planned.diff.update if u.key == ACCOUNT]
    assert any(PENDING_IDENTITY in json.dumps(f.desired) for f in account.fields), account
    assert PROVIDER in planned.diff.create
    # nothing else differs: the identity is the only reason for a change
    assert plan.counts == (1, 1, 0), plan.to_json()
    assert aks.count("GET", IDENTITY) == 1 and aks.identities == {}
    assert _writes(aks, since) == []

    # the API's plan (dashboard, Functions app) carries the same note
    served = asyncio.run(views.plan(dataspace))
    assert PlanView.model_validate(served).participants[PID].note == planned.note


def test_no_cluster_and_no_identity_yet_plans_everything_with_the_note(aks):
    plan = _plan(_dataspace(_work()))
    [planned] = plan.participants
    assert planned.note is not None and "does not exist yet" in planned.note
    assert ACCOUNT in planned.diff.create and PROVIDER in planned.diff.create
    assert _writes(aks) == []
    assert plan.to_json()["participants"][PID]["note"] == planned.note


def test_a_blueprint_that_names_its_identity_is_not_looked_up(aks):
    from tests.clusters.test_aks_vault_identity_step import NAMED, TENANT

    named = load().participants[0].vault.model_copy(update={"client_id": NAMED, "tenant_id": TENANT})
    plan = _plan(_dataspace(_work(named)))
    assert plan.participants[0].note is None
    assert aks.count("GET", "userAssignedIdentities") == 0


def test_find_vault_identity_reads_what_the_cluster_step_made_and_writes_nothing(aks):
    work = _work()
    [participant] = _dataspace(work).participants
    settings = get_settings()
    assert connect.find_vault_identity(participant, settings) is None
    assert _writes(aks) == []
    made = _cluster_step(work)["work"]["vaultIdentity"]
    since = len(aks.requests)
    found = connect.find_vault_identity(participant, settings)
    assert found is not None and found.model_dump() == made
    assert _writes(aks, since) == [] and len(aks.requests) == since + 1


def test_a_refused_lookup_fails_the_plan_in_one_line_naming_the_action(aks):
    aks.faults.append(Fault("GET", "userAssignedIdentities", 403, body={"error": {
        "code": "AuthorizationFailed", "message": (
            "The client 'c0ffee00-0000-0000-0000-000000000001' with object id 'c0ffee00-0000-0000-0000-000000000001' "
            "does not have authorization to perform action 'Microsoft.ManagedIdentity/userAssignedIdentities/read' "
            "over scope '/subscriptions/sub-1/resourceGroups/rg-mvd-galactic-turbine' or the scope is invalid.")}}))
    with pytest.raises(ExternalError) as refused:
        _plan(_dataspace(_work()))
    message = str(refused.value)
    assert "\n" not in message and "403 AuthorizationFailed" in message and PID in message
    assert "lacks Microsoft.ManagedIdentity/userAssignedIdentities/read" in message
    assert "fake-arm-token" not in message and _writes(aks) == []
