"""The cluster step makes the runtimes' Key Vault identity on an AKS cluster the control plane
creates (the real activities, the real azure-mgmt SDKs against the ARM fake, the objects applied
to the simulated cluster the fake's kubeconfig points at); the orchestrator hands it on to every
later step. A blueprint that names its identity (infra/ made it) keeps it and nothing is made."""

from __future__ import annotations

from typing import Any

import pytest
from kubernetes import client as k8s

from mvd_core.dataspace import load
from mvd_core.dataspace.models import AzureKeyVault
from mvd_core.plan.desired import dataspace_dids
from mvd_core.plan.exposure import WORKLOAD_IDENTITY_CLIENT_KEY, WORKLOAD_IDENTITY_TENANT_KEY
from mvd_core.platforms.clusters import open_cluster_source
from mvd_core.settings import get_settings
from mvd_core.workflow import orchestrators
from mvd_core.workflow.catalog import ACTIVITIES
from tests.clusters.arm_fake import FakeCredential
from tests.workflow.test_orchestrators import PARTICIPANTS, Activities, run

pytestmark = pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")
NAMED = "3f1c2a4b-5d6e-4f70-8192-a3b4c5d6e7f8"
TENANT = "5e4d3c2b-1a09-4f8e-9d7c-6b5a4f3e2d1c"


def _work(vault: AzureKeyVault | None = None) -> dict[str, Any]:
    """The first packaged participant as a declared run sees it: its AKS cluster and Key Vault."""
    ds = load()
    first = ds.participants[0]
    if vault is not None:
        first = first.model_copy(update={"vault": vault})
    ds = ds.model_copy(update={"participants": [first]})
    baseline = {"dataspace": ds.model_dump(mode="json", by_alias=True), "dids": dataspace_dids(ds, get_settings())}
    return {"runId": "run-1", "action": "provision", "participant": first.id, "baseline": baseline,
            "rotateKey": False}


def _cluster_step(work: dict[str, Any]) -> dict[str, Any]:
    op = ACTIVITIES["begin_cluster"](work)
    for _ in range(10):
        if op["done"]:
            return op
        op = ACTIVITIES["poll_cluster"]({**work, "token": op["token"]})
    raise AssertionError(f"the cluster never became ready: {op}")


def test_the_cluster_step_makes_the_identity_and_the_workloads_step_uses_it(aks):
    work = _work()
    assert work["baseline"]["dataspace"]["participants"][0]["vault"].get("clientId") is None
    op = _cluster_step(work)
    [identity] = aks.identities.values()
    made = op["work"]["vaultIdentity"]
    assert made["client_id"] == identity["properties"]["clientId"]
    client_id, tenant_id = identity["properties"]["clientId"], identity["properties"]["tenantId"]
    assert client_id in op["description"]
    [credential] = aks.federated_credentials.values()
    assert credential["properties"]["subject"] == "system:serviceaccount:galactic-turbine:runtimes"
    assert len(aks.role_assignments) == 1

    # the workloads step of the same run, with what the orchestrator hands on
    answer = ACTIVITIES["apply_workloads"]({**work, **op["work"]})
    assert answer["writes"] > 0
    api = open_cluster_source(load().participants[0].cluster, "galactic-turbine", get_settings(),
                              credential=FakeCredential(), base_url=aks.url, connection_verify=False).api_client()
    account = k8s.CoreV1Api(api).read_namespaced_service_account("runtimes", "galactic-turbine")
    assert account.metadata.annotations[WORKLOAD_IDENTITY_CLIENT_KEY] == client_id
    assert account.metadata.annotations[WORKLOAD_IDENTITY_TENANT_KEY] == tenant_id
    provider = k8s.CustomObjectsApi(api).get_namespaced_custom_object(
        "secrets-store.csi.x-k8s.io", "v1", "galactic-turbine", "secretproviderclasses", "galactic-turbine-vault")
    assert provider["spec"]["parameters"]["clientID"] == client_id
    assert provider["spec"]["parameters"]["tenantId"] == tenant_id
    assert provider["spec"]["parameters"]["keyvaultName"] == "kv-mvd-galactic-turbine"

    # the next run (a nightly reset): the cluster is ready at once, the same identity, no new grant
    again = _cluster_step({**work, "runId": "run-2", "action": "reset"})
    assert again["work"] == op["work"]
    assert len(aks.identities) == len(aks.federated_credentials) == len(aks.role_assignments) == 1
    assert aks.count("PUT", "/userAssignedIdentities/id-galactic-turbine-runtimes") == 1
    # and its workloads step changes nothing on the cluster
    assert ACTIVITIES["apply_workloads"]({**work, **again["work"], "runId": "run-2"})["writes"] == 0


def test_a_blueprint_that_names_its_identity_keeps_it(aks):
    named = load().participants[0].vault.model_copy(update={"client_id": NAMED, "tenant_id": TENANT})
    work = _work(named)
    op = _cluster_step(work)
    assert "work" not in op
    assert not [p for _, p, _ in aks.requests if "Microsoft.ManagedIdentity" in p or "roleAssignments" in p]
    ACTIVITIES["apply_workloads"](work)
    api = open_cluster_source(load().participants[0].cluster, "galactic-turbine", get_settings(),
                              credential=FakeCredential(), base_url=aks.url, connection_verify=False).api_client()
    account = k8s.CoreV1Api(api).read_namespaced_service_account("runtimes", "galactic-turbine")
    assert account.metadata.annotations[WORKLOAD_IDENTITY_CLIENT_KEY] == NAMED


def test_a_refused_identity_fails_the_cluster_step_in_one_line(aks):
    from tests.clusters.arm_fake import Fault

    aks.faults.append(Fault("PUT", "userAssignedIdentities", 403, body={"error": {
        "code": "AuthorizationFailed", "message": (
            "The client 'c0ffee00-0000-0000-0000-000000000001' with object id 'c0ffee00-0000-0000-0000-000000000001' "
            "does not have authorization to perform action 'Microsoft.ManagedIdentity/userAssignedIdentities/write' "
            "over scope '/subscriptions/sub-1/resourceGroups/rg-mvd-galactic-turbine/providers/"
            "Microsoft.ManagedIdentity/userAssignedIdentities/id-galactic-turbine-runtimes' or the scope is invalid.")}}))
    with pytest.raises(Exception) as refused:
        _cluster_step(_work())
    message = str(refused.value)
    assert "\n" not in message and "403 AuthorizationFailed" in message
    assert "lacks Microsoft.ManagedIdentity/userAssignedIdentities/write" in message
    assert "<name_prefix>-control-plane-runtime-identities" in message and "Contributor" not in message


def test_a_step_cut_short_after_the_identity_is_finished_by_its_retry(aks):
    """A worker lost between the identity and its role assignment (here: ARM refuses that one
    write once): the retry finds the identity and credential, writes neither again, and grants
    the role once; the run's later steps get the same client id as an uninterrupted run's."""
    from tests.clusters.arm_fake import Fault

    aks.faults.append(Fault("PUT", "roleAssignments", 403, body={"error": {
        "code": "AuthorizationFailed", "message": "cut short"}}))
    with pytest.raises(Exception, match="cut short"):
        _cluster_step(_work())
    assert len(aks.identities) == len(aks.federated_credentials) == 1 and not aks.role_assignments
    op = _cluster_step(_work())
    [identity] = aks.identities.values()
    assert op["work"]["vaultIdentity"]["client_id"] == identity["properties"]["clientId"]
    assert len(aks.identities) == len(aks.federated_credentials) == len(aks.role_assignments) == 1
    assert aks.count("PUT", "/userAssignedIdentities/id-galactic-turbine-runtimes") == 1
    assert aks.count("PUT", "/federatedIdentityCredentials/aks-galactic-turbine-runtimes") == 1


def test_the_orchestrator_hands_the_identity_to_every_later_step(tmp_path, monkeypatch):
    """Through the real orchestrators (replayed by azure-functions-durable in the local engine):
    what the cluster step's last poll hands on reaches the vault, DID, workloads, rollout,
    identity, seed and prune steps of that participant, and only its own."""
    monkeypatch.setattr(orchestrators, "RETRY_FIRST_SECONDS", 0.05)
    acts = Activities(cluster_polls=2)
    table = acts.table()
    seen: dict[tuple[str, str], Any] = {}

    def recording(name: str):
        inner = table[name]

        def fn(data: dict[str, Any]) -> Any:
            seen[(name, data["participant"])] = data.get("vaultIdentity")
            return inner(data)
        return fn

    def poll(data: dict[str, Any]) -> dict[str, Any]:
        answer = dict(table["poll_cluster"](data))
        if answer["done"] and data["participant"] == "alpha":
            answer["work"] = {"vaultIdentity": {"client_id": NAMED, "tenant_id": TENANT, "principal_id": NAMED}}
        return answer

    later = ("ensure_key", "publish_did", "apply_workloads", "check_rollout", "enroll_identity", "prune_workloads")
    patched = {**{name: recording(name) for name in later}, "poll_cluster": poll}
    monkeypatch.setattr(Activities, "table", lambda self: {**table, **patched})
    result = run(tmp_path, acts)
    assert result["output"]["failures"] == []
    for name in later:
        assert seen[(name, "alpha")] == {"client_id": NAMED, "tenant_id": TENANT, "principal_id": NAMED}, name
        assert all(seen[(name, p)] is None for p in PARTICIPANTS if p != "alpha"), name
