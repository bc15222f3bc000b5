"""Workload identity in the participants module: per participant with a key vault, a managed
identity; a federated credential trusting only its own AKS cluster's issuer and its namespace's
`runtimes` ServiceAccount; and the least role that reads its secrets, on its vault only."""

from __future__ import annotations

from mvd_core.plan.exposure import RUNTIMES_SERVICE_ACCOUNT
from tests.infra.terraform import INFRA, MODULE, load


def test_each_participant_with_a_vault_gets_a_managed_identity():
    module = load(MODULE)
    identity = module.resource("azurerm_user_assigned_identity", "runtimes")
    assert identity["for_each"] == "${local.vaults}"
    assert identity["name"] == "id-${each.key}-runtimes"


def test_the_aks_cluster_issues_tokens_entra_accepts():
    cluster = load(MODULE).resource("azurerm_kubernetes_cluster", "this")
    assert cluster["oidc_issuer_enabled"] is True and cluster["workload_identity_enabled"] is True
    # the Secrets Store CSI driver's Azure provider mounts the vault with that identity (as on the
    # clusters the control plane creates: aks.py CSI_ADDON)
    assert cluster["key_vault_secrets_provider"] == [{"secret_rotation_enabled": False}]


def test_the_federated_credential_trusts_the_participants_cluster_and_service_account_only():
    module = load(MODULE)
    credential = module.resource("azurerm_federated_identity_credential", "runtimes")
    assert credential["issuer"] == "${azurerm_kubernetes_cluster.this[each.key].oidc_issuer_url}"
    assert credential["subject"] == "system:serviceaccount:${each.key}:${var.runtimes_service_account}"
    assert credential["audience"] == ["api://AzureADTokenExchange"]
    assert credential["parent_id"] == "${azurerm_user_assigned_identity.runtimes[each.key].id}"
    # only where the cluster is created here: another cluster's issuer is not known to this module
    assert "contains(keys(local.clusters), id)" in credential["for_each"]
    # the ServiceAccount the render annotates is the one trusted
    assert module.variables["runtimes_service_account"]["default"] == RUNTIMES_SERVICE_ACCOUNT


def test_the_runtimes_read_their_own_vault_and_nothing_more():
    assignment = load(MODULE).resource("azurerm_role_assignment", "runtimes_secrets")
    assert assignment["role_definition_name"] == "Key Vault Secrets User"  # get and list secrets, no writes
    assert assignment["scope"] == "${azurerm_key_vault.this[each.key].id}"
    assert assignment["principal_id"] == "${azurerm_user_assigned_identity.runtimes[each.key].principal_id}"
    assert assignment["principal_type"] == "ServicePrincipal"


def test_the_client_ids_are_outputs_for_the_blueprint():
    assert "runtime_identities" in load(MODULE).outputs
    output = load(INFRA).outputs["runtime_identities"]
    assert "module.participants[0].runtime_identities" in output["value"]
