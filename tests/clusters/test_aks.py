"""The AKS source through the real azure-mgmt SDKs against a loopback fake of ARM."""

from __future__ import annotations

import pytest

from mvd_core.dataspace.models import AksCluster
from mvd_core.errors import ExternalError, MvdError
from mvd_core.k8s.objects import object_key
from mvd_core.platforms.clusters import open_cluster_source
from mvd_core.platforms.clusters.aks import AksClusterSource
from mvd_core.platforms.kubernetes import workloads as W
from mvd_core.settings import get_settings
from tests.clusters.arm_fake import FakeCredential, Fault
from tests.kubernetes.objects import DATASPACE, participant_objects
from tests.kubernetes.rollout import settle

pytestmark = pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")
MODEL = AksCluster(kind="aks", subscription_id="sub-1", resource_group="rg-alice", name="aks-alice", node_count=2)


def _source(arm, model: AksCluster = MODEL) -> AksClusterSource:
    return open_cluster_source(model, "alice", get_settings(), credential=FakeCredential(), base_url=arm.url,
                               poll_seconds=0.5, connection_verify=False, retry_backoff_factor=0.01)


def _poll_until_done(source, op, limit=10):
    polls = 0
    while not op.done:
        assert op.token and op.poll_after_seconds == 0.5
        assert polls < limit, "operation never finished"
        op = source.poll(op.token)
        polls += 1
    return op, polls


def test_create_takes_several_polls_then_is_idempotent(arm):
    source = _source(arm)
    op = source.begin_ensure()
    assert not op.done and op.kind == "aks" and not op.simulated and "creating" in op.description
    assert arm.count("PUT", "/resourcegroups/rg-alice") == 1
    assert arm.count("PUT", "/managedClusters/aks-alice") == 1
    op, polls = _poll_until_done(source, op)
    assert polls == 3 and "ready" in op.description
    put = arm.clusters[("rg-alice", "aks-alice")]["properties"]["agentPoolProfiles"][0]
    assert put["count"] == 2 and put["vmSize"] == "Standard_B2s"
    again = source.begin_ensure()
    assert again.done
    assert arm.count("PUT", "/managedClusters/aks-alice") == 1 and arm.count("PUT", "/resourcegroups/rg-alice") == 1


def test_kubeconfig_from_the_credentials_api_reaches_the_cluster(arm, sim):
    source = _source(arm)
    _poll_until_done(source, source.begin_ensure())
    api = source.api_client()
    objects = participant_objects()
    assert W.apply(api, objects).writes == len(objects)
    assert settle(api, objects, timeout_seconds=30).ready
    assert {object_key(o) for o in W.observe(api, "alice", DATASPACE)} == {object_key(o) for o in objects}
    assert arm.count("POST", "listClusterAdminCredential") == 1
    source.api_client()  # kept in memory: no second credentials call
    assert arm.count("POST", "listClusterAdminCredential") == 1


def test_throttling_with_retry_after_and_a_server_error_are_retried(arm):
    arm.faults += [
        Fault("GET", "/managedClusters/aks-alice", 429, {"Retry-After": "0.1"},
              {"error": {"code": "TooManyRequests", "message": "slow down"}}),
        Fault("PUT", "/managedClusters/aks-alice", 500, {}, {"error": {"code": "InternalServerError", "message": "oops"}}),
    ]
    source = _source(arm)
    op = source.begin_ensure()
    assert not op.done
    assert arm.count("PUT", "/managedClusters/aks-alice") == 2  # the 500, then the retry
    statuses = [s for m, p, s in arm.requests if m == "GET" and "managedClusters" in p]
    assert statuses[:2] == [429, 404]
    _poll_until_done(source, op)


def test_permanent_403_fails_with_a_clear_error_and_no_retries(arm):
    arm.forbidden_groups.add("rg-alice")
    with pytest.raises(ExternalError) as err:
        _source(arm).begin_ensure()
    text = str(err.value)
    assert "403 AuthorizationFailed" in text and "rg-alice" in text
    # the project's role and the action it lacks, not a broad built-in role
    assert "lacks Microsoft.Resources/subscriptions/resourcegroups/read" in text
    assert "-control-plane-participants from infra/roles.tf" in text and "Contributor" not in text
    assert "fake-arm-token" not in text
    assert len(arm.requests) == 1


def test_failed_provisioning_is_reported(arm):
    source = _source(arm)
    op = source.begin_ensure()
    arm.clusters[("rg-alice", "aks-alice")]["properties"]["provisioningState"] = "Failed"
    arm._pending.clear()
    with pytest.raises(ExternalError, match="provisioning state Failed"):
        source.poll(op.token)


def test_drifted_node_count_sends_an_update(arm):
    source = _source(arm)
    _poll_until_done(source, source.begin_ensure())
    bigger = _source(arm, MODEL.model_copy(update={"node_count": 3}))
    op = bigger.begin_ensure()
    assert not op.done and "updating" in op.description
    _poll_until_done(bigger, op)
    assert arm.clusters[("rg-alice", "aks-alice")]["properties"]["agentPoolProfiles"][0]["count"] == 3


def test_delete_is_polled_until_gone(arm):
    source = _source(arm)
    _poll_until_done(source, source.begin_ensure())
    op = source.delete()
    assert not op.done and op.token == "delete"
    _poll_until_done(source, op)
    assert ("rg-alice", "aks-alice") not in arm.clusters
    assert source.delete().done


def test_missing_subscription_is_a_user_error(monkeypatch):
    monkeypatch.delenv("MVD_AZURE_SUBSCRIPTION_ID", raising=False)
    model = MODEL.model_copy(update={"subscription_id": None})
    with pytest.raises(MvdError, match="needs a subscription"):
        open_cluster_source(model, "alice", get_settings(), credential=FakeCredential())


def test_kubeconfig_of_a_cluster_not_created_yet_is_cluster_missing(arm):
    from mvd_core.platforms.clusters import ClusterMissing

    source = _source(arm)
    arm.resource_groups["rg-alice"] = {"name": "rg-alice", "location": "westeurope"}
    with pytest.raises(ClusterMissing, match="does not exist yet"):
        source.api_client()


# --- workload identity: the runtimes' managed identity, its federated credential, its vault role ---

def test_the_cluster_is_created_with_its_oidc_issuer_and_workload_identity(arm):
    source = _source(arm)
    _poll_until_done(source, source.begin_ensure())
    props = arm.clusters[("rg-alice", "aks-alice")]["properties"]
    assert props["oidcIssuerProfile"]["enabled"] is True
    assert props["securityProfile"]["workloadIdentity"]["enabled"] is True
    # the Secrets Store CSI driver's Azure provider, which mounts the vault with that identity
    assert props["addonProfiles"]["azureKeyvaultSecretsProvider"]["enabled"] is True


@pytest.mark.parametrize("missing", ["securityProfile", "addonProfiles"])
def test_a_cluster_without_workload_identity_or_the_vault_driver_is_updated(arm, missing):
    source = _source(arm)
    _poll_until_done(source, source.begin_ensure())
    arm.clusters[("rg-alice", "aks-alice")]["properties"].pop(missing)  # made by hand, say
    op = source.begin_ensure()
    assert not op.done and "updating" in op.description
    assert arm.count("PUT", "/managedClusters/aks-alice") == 2


def test_vault_identity_creates_the_identity_its_federated_credential_and_the_read_role(arm):
    from mvd_core.dataspace.models import AzureKeyVault
    from mvd_core.plan.exposure import RUNTIMES_SERVICE_ACCOUNT

    source = _source(arm)
    _poll_until_done(source, source.begin_ensure())
    arm.resource_groups["rg-alice-vault"] = {"name": "rg-alice-vault", "location": "westeurope"}
    vault = AzureKeyVault(kind="azure-key-vault", name="kv-alice", resource_group="rg-alice-vault")
    made = source.vault_identity(vault, RUNTIMES_SERVICE_ACCOUNT)
    # beside the vault it reads, where infra/'s participants module puts it (the same resource then)
    identity = arm.identities[("rg-alice-vault", "id-alice-runtimes")]
    assert made.client_id == identity["properties"]["clientId"] and made.tenant_id == identity["properties"]["tenantId"]
    assert identity["location"] == "westeurope"
    [credential] = arm.federated_credentials.values()
    issuer = arm.clusters[("rg-alice", "aks-alice")]["properties"]["oidcIssuerProfile"]["issuerURL"]
    assert credential["properties"] == {"issuer": issuer, "subject": "system:serviceaccount:alice:runtimes",
                                        "audiences": ["api://AzureADTokenExchange"]}
    [assignment] = arm.role_assignments.values()
    assert assignment["scope"] == "/subscriptions/sub-1/resourceGroups/rg-alice-vault/providers/Microsoft.KeyVault/vaults/kv-alice"
    assert assignment["properties"]["roleDefinitionId"].endswith("/roleDefinitions/4633458b-17de-408a-b874-0445c86b69e6")
    assert assignment["properties"]["principalId"] == made.principal_id
    assert assignment["properties"]["principalType"] == "ServicePrincipal"
    # a repeat reads the identity and its credential, writes neither, and PUTs the same role assignment
    assert source.vault_identity(vault, RUNTIMES_SERVICE_ACCOUNT) == made
    assert len(arm.identities) == len(arm.federated_credentials) == len(arm.role_assignments) == 1
    assert arm.count("PUT", "/userAssignedIdentities/id-alice-runtimes") == 1
    assert arm.count("PUT", "/federatedIdentityCredentials/aks-alice-runtimes") == 1
    assert arm.count("GET", "/federatedIdentityCredentials/aks-alice-runtimes") == 2


def test_vault_identity_follows_a_new_issuer_and_keeps_a_grant_made_under_another_name(arm):
    """A recreated cluster has a new issuer: the credential is rewritten. A role assignment infra/
    made for the same identity (a random name) is the same grant: ARM's 409 RoleAssignmentExists is
    not an error, and no second assignment appears."""
    from mvd_core.dataspace.models import AzureKeyVault

    source = _source(arm)
    _poll_until_done(source, source.begin_ensure())
    vault = AzureKeyVault(kind="azure-key-vault", name="kv-alice")
    made = source.vault_identity(vault, "runtimes")
    [grant] = arm.role_assignments.values()
    arm.role_assignments = {"0b5e0a35-infra-made": grant}
    arm.clusters[("rg-alice", "aks-alice")]["properties"]["oidcIssuerProfile"]["issuerURL"] = "https://new.issuer/"
    assert source.vault_identity(vault, "runtimes") == made
    [credential] = arm.federated_credentials.values()
    assert credential["properties"]["issuer"] == "https://new.issuer/"
    assert arm.count("PUT", "/federatedIdentityCredentials/aks-alice-runtimes") == 2
    assert list(arm.role_assignments) == ["0b5e0a35-infra-made"]
    assert [s for m, p, s in arm.requests if m == "PUT" and "roleAssignments" in p] == [201, 409]


def test_vault_identity_without_permission_is_one_line_naming_it(arm):
    from mvd_core.dataspace.models import AzureKeyVault

    source = _source(arm)
    _poll_until_done(source, source.begin_ensure())
    arm.faults.append(Fault("PUT", "roleAssignments", 403, body={"error": {
        "code": "AuthorizationFailed", "message": (
            "The client 'c0ffee00-0000-0000-0000-000000000001' with object id 'c0ffee00-0000-0000-0000-000000000001' "
            "does not have authorization to perform action 'Microsoft.Authorization/roleAssignments/write' over "
            "scope '/subscriptions/sub-1/resourceGroups/rg-alice/providers/Microsoft.KeyVault/vaults/kv-alice' or "
            "the scope is invalid. If access was recently granted, please refresh your credentials.")}}))
    with pytest.raises(ExternalError) as refused:
        source.vault_identity(AzureKeyVault(kind="azure-key-vault", name="kv-alice"), "runtimes")
    message = str(refused.value)
    assert "\n" not in message and "403" in message and "alice" in message
    assert "lacks Microsoft.Authorization/roleAssignments/write: assign it <name_prefix>-control-plane-runtime-" \
           "identities from infra/roles.tf" in message
    assert "Contributor" not in message and "fake-arm-token" not in message
