"""The custom role grants what the code calls, nothing more: every Azure SDK call the
platforms make (ARM for AKS and resource groups, Key Vault secrets, Blob service properties)
is found in mvd_core/platforms, mapped to the RBAC action Azure checks for it, and the union
of those actions must equal the role's actions and data actions."""

from __future__ import annotations

import re

import pytest

from tests.infra.terraform import INFRA, ROOT, load

pytestmark = pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")
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

# Generic ARM calls (resources.get_by_id / begin_create_or_update_by_id): their action depends on
# the resource they name, so it is read off the requests they send to the ARM fake (arm_action).
GENERIC = {"resources.get_by_id", "resources.begin_create_or_update_by_id"}
KEY_VAULT_SECRETS_USER = "4633458b-17de-408a-b874-0445c86b69e6"

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


def arm_action(method: str, path: str) -> str:
    """The RBAC action ARM checks for a request: the provider namespace and resource types of the
    path's last provider segment, then read (GET), write (PUT) or delete (DELETE)."""
    segments = [s for s in path.split("/") if s]
    lowered = [s.lower() for s in segments]
    if "providers" not in lowered:
        types = ["Microsoft.Resources", "subscriptions", "resourceGroups"]
    else:
        at = len(lowered) - 1 - lowered[::-1].index("providers")
        namespace, rest = segments[at + 1], segments[at + 2:]
        types = [namespace, *rest[0::2]]
    return "/".join(types) + "/" + {"GET": "read", "HEAD": "read", "PUT": "write", "DELETE": "delete"}[method]


@pytest.fixture(scope="module")
def vault_identity_requests() -> list[tuple[str, str, int]]:
    """Every request vault_identity sends (a first run and a repeat) through the real SDK to the ARM fake."""
    from mvd_core.dataspace.models import AksCluster, AzureKeyVault
    from mvd_core.platforms.clusters.aks import AksClusterSource
    from mvd_core.settings import get_settings
    from tests.clusters.arm_fake import ArmFake, FakeCredential

    with ArmFake(lambda rg, name: {}, polls_until_ready=0) as arm:
        model = AksCluster(kind="aks", subscription_id="sub-1", resource_group="rg-p", name="aks-p")
        source = AksClusterSource(model, "p", get_settings(), credential=FakeCredential(), base_url=arm.url,
                                  connection_verify=False, retry_backoff_factor=0.01)
        source.begin_ensure()
        before = len(arm.requests)
        vault = AzureKeyVault(kind="azure-key-vault", name="kv-p")
        source.vault_identity(vault, "runtimes")
        source.vault_identity(vault, "runtimes")
        return arm.requests[before:]


def generic_actions(requests: list[tuple[str, str, int]]) -> set[str]:
    """The actions of the generic calls' requests (the cluster GET is managed_clusters.get's)."""
    return {arm_action(method, path) for method, path, _ in requests if "managedClusters" not in path}


def test_arm_actions_are_read_off_a_request_path():
    assert arm_action("PUT", "/subscriptions/s/resourceGroups/g/providers/Microsoft.KeyVault/vaults/v/providers/"
                             "Microsoft.Authorization/roleAssignments/1") == "Microsoft.Authorization/roleAssignments/write"
    assert arm_action("GET", "/subscriptions/s/resourceGroups/g/providers/Microsoft.ManagedIdentity/"
                             "userAssignedIdentities/i/federatedIdentityCredentials/f") == (
        "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials/read")
    assert arm_action("PUT", "/subscriptions/s/resourcegroups/g") == "Microsoft.Resources/subscriptions/resourceGroups/write"


def test_every_sdk_call_is_mapped_to_its_action():
    calls = sdk_calls()
    assert {"managed_clusters.begin_create_or_update", "secrets.set_secret",
            "blob_service.set_service_properties"} <= set(calls), calls
    unmapped = {call: where for call, where in calls.items() if call not in SDK_ACTIONS and call not in GENERIC}
    assert not unmapped, f"Azure SDK calls with no RBAC action in SDK_ACTIONS (add it, and to the role): {unmapped}"
    generic = {call: where for call, where in calls.items() if call in GENERIC}
    assert {where.split(":")[0] for places in generic.values() for where in places} == {"clusters/aks.py"}, (
        f"generic ARM calls outside aks.py's vault_identity need their actions read off too: {generic}")


def test_the_role_grants_exactly_what_the_code_calls(vault_identity_requests):
    needed = set().union(*(SDK_ACTIONS[call] for call in sdk_calls() if call not in GENERIC))
    needed |= generic_actions(vault_identity_requests)
    granted = role_actions()
    assert not needed - granted, f"the code calls what the role does not grant: {sorted(needed - granted)}"
    assert not granted - needed, f"the role grants what no code calls: {sorted(granted - needed)}"


def test_the_runtime_identities_role_is_exactly_what_vault_identity_calls(vault_identity_requests):
    assert role_actions("runtime_identities") == generic_actions(vault_identity_requests) == {
        "Microsoft.ManagedIdentity/userAssignedIdentities/read",
        "Microsoft.ManagedIdentity/userAssignedIdentities/write",
        "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials/read",
        "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials/write",
        "Microsoft.Authorization/roleAssignments/write",
    }
    # and the one role assignment vault_identity writes is the one the condition allows
    [body_role] = {p for m, p, _ in vault_identity_requests if m == "PUT" and "roleAssignments" in p}
    assert "/providers/Microsoft.KeyVault/vaults/kv-p/providers/Microsoft.Authorization/" in body_role


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
    # without the module, on the storage accounts in the groups the operator names, never the subscription
    assert "subscription =" not in locals_["did_blob_scopes"]
    assert "var.did_storage_account_groups[account]" in locals_["did_blob_scopes"]


def test_role_assignment_writes_are_granted_only_under_the_secrets_user_condition():
    """roleAssignments/write is in one role only, whose every assignment carries the ABAC condition
    that allows Key Vault Secrets User to service principals and nothing else, on the groups of the
    vaults whose runtimes' identity the control plane makes (never the subscription)."""
    root = load(INFRA)
    roles = root.resources("azurerm_role_definition")
    writers = {name for name in roles if "Microsoft.Authorization/roleAssignments/write" in role_actions(name)}
    assert writers == {"runtime_identities"}
    assert not [a for a in role_actions() if a.startswith("Microsoft.Authorization/") and not a.endswith("/write")]
    assignments = [a for a in root.resources("azurerm_role_assignment").values()
                   if "runtime_identities" in a.get("role_definition_id", "")]
    assert len(assignments) == 1
    [assignment] = assignments
    assert assignment["condition_version"] == "2.0"
    assert assignment["condition"] == "${local.secrets_user_grants_only}"
    assert assignment["for_each"] == "${local.runtime_identity_scopes}"
    scopes = root.locals["runtime_identity_scopes"]
    assert "local.participant_scopes" in scopes and "local.runtime_identity_groups" in scopes
    assert "subscription" not in scopes


def _condition_clauses() -> list[str]:
    condition = load(INFRA).locals["secrets_user_grants_only"]
    return [" ".join(line.split()) for line in condition.splitlines() if line.strip() not in ("(", ")", "")]


def test_the_condition_allows_only_key_vault_secrets_user_to_service_principals():
    """The syntax of Microsoft's "Delegate Azure role assignment management to others with
    conditions" (example "Constrain roles"): writes other than role assignments pass; a role
    assignment write passes only for the built-in Key Vault Secrets User role, to a service principal."""
    assert _condition_clauses() == [
        "!(ActionMatches{'Microsoft.Authorization/roleAssignments/write'})",
        "OR",
        ("@Request[Microsoft.Authorization/roleAssignments:RoleDefinitionId] ForAnyOfAnyValues:GuidEquals "
         f"{{{KEY_VAULT_SECRETS_USER}}}"),
        "AND",
        ("@Request[Microsoft.Authorization/roleAssignments:PrincipalType] ForAnyOfAnyValues:StringEqualsIgnoreCase "
         "{'ServicePrincipal'}"),
    ]
    from mvd_core.platforms.clusters.aks import KEY_VAULT_SECRETS_USER as granted_by_the_code

    assert granted_by_the_code == KEY_VAULT_SECRETS_USER
    condition = load(INFRA).locals["secrets_user_grants_only"]
    assert condition.count("(") == condition.count(")")
