"""The custom role grants what the code calls, nothing more: every Azure SDK call the
platforms make (ARM for AKS and resource groups, Key Vault secrets, Blob service properties)
is found in mvd_core/platforms, mapped to the RBAC action Azure checks for it, and the union
of those actions must equal the role's actions and data actions."""

from __future__ import annotations

import re

from tests.infra.terraform import INFRA, ROOT, load

PLATFORMS = ROOT / "mvd_core" / "platforms"

# SDK call -> the actions Azure authorizes it with (Azure RBAC resource provider operations).
SDK_ACTIONS: dict[str, set[str]] = {
    "resource_groups.get": {"Microsoft.Resources/subscriptions/resourceGroups/read"},
    "resource_groups.create_or_update": {"Microsoft.Resources/subscriptions/resourceGroups/write"},
    "managed_clusters.get": {"Microsoft.ContainerService/managedClusters/read"},
    "managed_clusters.begin_create_or_update": {"Microsoft.ContainerService/managedClusters/write"},
    "managed_clusters.begin_delete": {"Microsoft.ContainerService/managedClusters/delete"},
    "managed_clusters.list_cluster_admin_credentials": {
        "Microsoft.ContainerService/managedClusters/listClusterAdminCredential/action"},
    "secrets.get_secret": {"Microsoft.KeyVault/vaults/secrets/getSecret/action"},
    "secrets.set_secret": {"Microsoft.KeyVault/vaults/secrets/setSecret/action"},
    # the poller reads the deleted secret until it is gone
    "secrets.begin_delete_secret": {"Microsoft.KeyVault/vaults/secrets/delete",
                                    "Microsoft.KeyVault/vaults/secrets/readMetadata/action"},
    "secrets.purge_deleted_secret": {"Microsoft.KeyVault/vaults/secrets/purge/action"},
    "secrets.begin_recover_deleted_secret": {"Microsoft.KeyVault/vaults/secrets/recover/action",
                                             "Microsoft.KeyVault/vaults/secrets/getSecret/action"},
    "blob_service.get_service_properties": {"Microsoft.Storage/storageAccounts/blobServices/read"},
    "blob_service.set_service_properties": {"Microsoft.Storage/storageAccounts/blobServices/write"},
}

# Calls in code no step runs yet, with the function that holds them: not granted. Their
# actions would include Microsoft.Authorization/roleAssignments/write, which the control
# plane must not have; infra's participants module creates the runtimes' identity, federated
# credential and vault role instead. The test below fails once a step calls the function.
NOT_CALLED_YET: dict[str, str] = {
    # clusters/aks.py: the managed identity, its federated credential and its vault role (k8s-exposure)
    "resources.begin_create_or_update_by_id": "vault_identity",
    "resources.get_by_id": "vault_identity",
}

# How each client is spelled in the code.
CALLS = [
    (re.compile(r"resources\.resources\.(\w+)\("), "resources"),
    (re.compile(r"\.resource_groups\.(\w+)\("), "resource_groups"),
    (re.compile(r"\.managed_clusters\.(\w+)\("), "managed_clusters"),
    (re.compile(r"self\.client\.(\w+)\("), "secrets", "secrets/azure_keyvault.py"),
    (re.compile(r"self\.service\.(\w+_service_properties)\("), "blob_service", "didhosts/azure_blob.py"),
]


def sdk_calls() -> dict[str, list[str]]:
    """Every Azure SDK call in mvd_core/platforms, with where it is made."""
    found: dict[str, list[str]] = {}
    for path in sorted(PLATFORMS.rglob("*.py")):
        rel = path.relative_to(PLATFORMS).as_posix()
        text = path.read_text()
        for pattern, client, *only in CALLS:
            if only and rel != only[0]:
                continue
            for match in pattern.finditer(text):
                line = text[: match.start()].count("\n") + 1
                found.setdefault(f"{client}.{match.group(1)}", []).append(f"{rel}:{line}")
    return found


def role_actions(*names: str) -> set[str]:
    """The actions and data actions of the control plane's custom roles (all, or those named)."""
    roles = load(INFRA).resources("azurerm_role_definition")
    granted: set[str] = set()
    for name in names or tuple(roles):
        permissions = roles[name]["permissions"][0]
        granted |= set(permissions["actions"]) | set(permissions["data_actions"])
    return granted


def test_every_sdk_call_is_mapped_to_its_action():
    calls = sdk_calls()
    assert {"managed_clusters.begin_create_or_update", "secrets.set_secret",
            "blob_service.set_service_properties"} <= set(calls), calls
    unmapped = {call: where for call, where in calls.items() if call not in SDK_ACTIONS and call not in NOT_CALLED_YET}
    assert not unmapped, f"Azure SDK calls with no RBAC action in SDK_ACTIONS (add it, and to the role): {unmapped}"


def test_the_role_grants_exactly_what_the_code_calls():
    needed = set().union(*(SDK_ACTIONS[call] for call in sdk_calls() if call not in NOT_CALLED_YET))
    granted = role_actions()
    assert not needed - granted, f"the code calls what the role does not grant: {sorted(needed - granted)}"
    assert not granted - needed, f"the role grants what no code calls: {sorted(granted - needed)}"


def test_the_calls_not_granted_are_not_called_yet():
    code = [*ROOT.joinpath("mvd_core").rglob("*.py"), *ROOT.joinpath("blueprints").rglob("*.py")]
    for call, function in NOT_CALLED_YET.items():
        callers = [p.relative_to(ROOT).as_posix() for p in code if re.search(rf"\.{function}\(", p.read_text())]
        assert not callers, (
            f"{callers} call {function}(), which makes {call}: map its actions in SDK_ACTIONS and grant them "
            "(a role assignment would need roleAssignments/write, which the control plane must not have)")


def test_nothing_deletes_a_resource_group_or_a_vault():
    granted = role_actions()
    assert "Microsoft.Resources/subscriptions/resourceGroups/delete" not in granted
    assert not [a for a in granted if a.startswith("Microsoft.KeyVault/vaults/") and "/secrets/" not in a]


def test_the_participants_role_is_never_assigned_on_the_subscription():
    """Its scope is the resource groups of the declared AKS clusters and key vaults, which
    Terraform creates with or without the module; only the DID website role (an Azure Blob DID
    host names its account, not its group) can reach the subscription without the module."""
    root = load(INFRA)
    locals_ = root.locals
    assert "subscription" not in locals_["participant_scopes"]
    assert "azurerm_resource_group.participant_groups" in locals_["participant_scopes"]
    groups = root.resource("azurerm_resource_group", "participant_groups")
    assert groups["for_each"] == "${var.participants_enabled ? toset([]) : local.participant_groups}"
    assert "p.cluster.resource_group" in locals_["participant_groups"]
    assert "p.vault.resource_group" in locals_["participant_groups"]
    assert role_actions("did_website") == {"Microsoft.Storage/storageAccounts/blobServices/read",
                                           "Microsoft.Storage/storageAccounts/blobServices/write"}
    assert not [a for a in role_actions("participants") if a.startswith("Microsoft.Storage/")]
    website = root.resource("azurerm_role_assignment", "did_website")
    assert website["for_each"] == "${local.did_blob_scopes}"
    assert "roleAssignments" not in (INFRA / "roles.tf").read_text(), "the identity must not grant itself roles"
