# Every role the control plane's identity (and the deployer) gets, each with its reason in
# README.md ("Role assignments"). Nothing is granted at a wider scope than the task needs.

locals {
  principal_id = azapi_resource.function_app.identity[0].principal_id

  # Where the participants' resources live: the resource groups of their AKS clusters and
  # key vaults, which Terraform always creates (the module, or participant_groups below), so
  # the participants role is never assigned on the subscription.
  participant_scopes = var.participants_enabled ? module.participants[0].resource_group_ids : {
    for name, group in azurerm_resource_group.participant_groups : name => group.id
  }
  # The groups of the vaults whose runtimes' identity the control plane makes (participants.tf).
  runtime_identity_scopes = {
    for name, id in local.participant_scopes : name => id if contains(local.runtime_identity_groups, name)
  }
  # An Azure Blob DID host names its storage account, not its group: without the module the
  # operator names each account's group (did_storage_account_groups, validated complete), so
  # the DID roles reach those accounts only, never the subscription.
  did_blob_scopes = var.participants_enabled ? module.participants[0].did_storage_account_ids : {
    for account, id in local.did_storage_accounts :
    id => "${local.subscription_id}/resourceGroups/${var.did_storage_account_groups[account]}/providers/Microsoft.Storage/storageAccounts/${account}"
  }

  # The groups that hold a declared AKS cluster or Azure key vault.
  participant_groups = toset(compact(flatten([
    for p in values(local.participants) : [
      p.cluster == null ? null : p.cluster.resource_group,
      p.vault == null ? null : p.vault.resource_group,
    ]
  ])))

  # The one role assignment the control plane may write: Key Vault Secrets User (built-in role
  # 4633458b-...), to a service principal (the runtimes' managed identity); every other action
  # of the role passes. Microsoft: "Delegate Azure role assignment management to others with
  # conditions", example "Constrain roles" (and principal types).
  secrets_user_grants_only = <<-EOT
    (
      (
        !(ActionMatches{'Microsoft.Authorization/roleAssignments/write'})
      )
      OR
      (
        @Request[Microsoft.Authorization/roleAssignments:RoleDefinitionId] ForAnyOfAnyValues:GuidEquals {4633458b-17de-408a-b874-0445c86b69e6}
        AND
        @Request[Microsoft.Authorization/roleAssignments:PrincipalType] ForAnyOfAnyValues:StringEqualsIgnoreCase {'ServicePrincipal'}
      )
    )
  EOT

  # Blob rights apply only inside the static website container ($web) that serves did.json.
  web_container_only = <<-EOT
    (
      (
        !(ActionMatches{'Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read'})
        AND !(ActionMatches{'Microsoft.Storage/storageAccounts/blobServices/containers/blobs/write'})
        AND !(ActionMatches{'Microsoft.Storage/storageAccounts/blobServices/containers/blobs/add/action'})
        AND !(ActionMatches{'Microsoft.Storage/storageAccounts/blobServices/containers/blobs/delete'})
      )
      OR
      (
        @Resource[Microsoft.Storage/storageAccounts/blobServices/containers:name] StringEquals '$web'
      )
    )
  EOT
}

# --- the control plane's own resources ---

resource "azurerm_role_assignment" "host_blob" {
  scope                = azurerm_storage_account.main.id
  role_definition_name = "Storage Blob Data Owner"
  principal_id         = local.principal_id
  principal_type       = "ServicePrincipal"
  description          = "Functions host (leases, keys), Durable task hub blobs, deployment package"
}

resource "azurerm_role_assignment" "host_queue" {
  scope                = azurerm_storage_account.main.id
  role_definition_name = "Storage Queue Data Contributor"
  principal_id         = local.principal_id
  principal_type       = "ServicePrincipal"
  description          = "Durable control and work-item queues; the mvd-commands queue and its poison queue"
}

resource "azurerm_role_assignment" "host_table" {
  scope                = azurerm_storage_account.main.id
  role_definition_name = "Storage Table Data Contributor"
  principal_id         = local.principal_id
  principal_type       = "ServicePrincipal"
  description          = "Durable task hub history and instances tables"
}

resource "azurerm_role_assignment" "telemetry" {
  scope                = azurerm_application_insights.main.id
  role_definition_name = "Monitoring Metrics Publisher"
  principal_id         = local.principal_id
  principal_type       = "ServicePrincipal"
  description          = "Send telemetry to Application Insights, which accepts Entra ID tokens only"
}

resource "azurerm_role_assignment" "own_secrets" {
  scope                = azurerm_key_vault.main.id
  role_definition_name = "Key Vault Secrets User"
  principal_id         = local.principal_id
  principal_type       = "ServicePrincipal"
  description          = "Resolve the Key Vault references in the app settings"
}

resource "azurerm_role_assignment" "deployer_kv_secrets_officer" {
  scope                = azurerm_key_vault.main.id
  role_definition_name = "Key Vault Secrets Officer"
  principal_id         = data.azurerm_client_config.current.object_id
  description          = "Let whoever runs terraform apply write control_plane_secrets"
}

# --- the participants' resources ---

# Without the participants module, the (empty, free) resource groups the control plane would
# otherwise create, so that its role can be assigned on them rather than on the subscription.
# The control plane finds them and creates the clusters inside.
resource "azurerm_resource_group" "participant_groups" {
  for_each = var.participants_enabled ? toset([]) : local.participant_groups

  name     = each.key
  location = var.location
  tags     = local.tags
}

resource "azurerm_role_definition" "participants" {
  name        = "${var.name_prefix}-control-plane-participants"
  scope       = local.subscription_id
  description = "MVD control plane: find participants' resource groups, create/find AKS clusters, fetch cluster credentials, delete clusters on teardown, keep participant secrets in their existing key vaults."

  # Exactly the calls the code makes (tests/infra/test_least_privilege.py maps each SDK call
  # in mvd_core/platforms to its action): nothing deletes a resource group or touches a
  # vault's own settings, so no resourceGroups/delete and no vaults/* control-plane action.
  permissions {
    actions = [
      # mvd_core/platforms/clusters/aks.py: resource_groups.get / create_or_update
      "Microsoft.Resources/subscriptions/resourceGroups/read",
      "Microsoft.Resources/subscriptions/resourceGroups/write",
      # managed_clusters.get / begin_create_or_update / begin_delete (teardown) /
      # list_cluster_admin_credentials (the kubeconfig)
      "Microsoft.ContainerService/managedClusters/read",
      "Microsoft.ContainerService/managedClusters/write",
      "Microsoft.ContainerService/managedClusters/delete",
      "Microsoft.ContainerService/managedClusters/listClusterAdminCredential/action",
    ]
    data_actions = [
      # mvd_core/platforms/secrets/azure_keyvault.py: get_secret / set_secret
      "Microsoft.KeyVault/vaults/secrets/getSecret/action",
      "Microsoft.KeyVault/vaults/secrets/setSecret/action",
      # begin_delete_secret (polls the deleted secret's metadata) / purge_deleted_secret /
      # begin_recover_deleted_secret: a secret deleted and set again is recovered first
      "Microsoft.KeyVault/vaults/secrets/delete",
      "Microsoft.KeyVault/vaults/secrets/readMetadata/action",
      "Microsoft.KeyVault/vaults/secrets/purge/action",
      "Microsoft.KeyVault/vaults/secrets/recover/action",
    ]
    not_actions      = []
    not_data_actions = []
  }

  assignable_scopes = [local.subscription_id]
}

resource "azurerm_role_assignment" "participants" {
  for_each = local.participant_scopes

  scope              = each.value
  role_definition_id = azurerm_role_definition.participants.role_definition_resource_id
  principal_id       = local.principal_id
  principal_type     = "ServicePrincipal"
  description        = "Participants' resource groups, AKS clusters, the secrets in their key vaults"
}

# mvd_core/platforms/clusters/aks.py vault_identity: the runtimes' managed identity, its federated
# credential on the cluster's OIDC issuer, and their read role on the participant's vault, for
# the AKS clusters the control plane creates when the blueprint names no vault.clientId. The one
# role it may grant is fixed by the assignment's condition (secrets_user_grants_only).
resource "azurerm_role_definition" "runtime_identities" {
  name        = "${var.name_prefix}-control-plane-runtime-identities"
  scope       = local.subscription_id
  description = "MVD control plane: make each participant's runtimes' managed identity and federated credential, and grant it Key Vault Secrets User on the participant's vault (the assignment's condition allows no other role)."

  permissions {
    actions = [
      # resources.get_by_id / begin_create_or_update_by_id on the identity and its credential
      "Microsoft.ManagedIdentity/userAssignedIdentities/read",
      "Microsoft.ManagedIdentity/userAssignedIdentities/write",
      "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials/read",
      "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials/write",
      # begin_create_or_update_by_id on the vault's role assignment (constrained below)
      "Microsoft.Authorization/roleAssignments/write",
    ]
    data_actions     = []
    not_actions      = []
    not_data_actions = []
  }

  assignable_scopes = [local.subscription_id]
}

resource "azurerm_role_assignment" "runtime_identities" {
  for_each = local.runtime_identity_scopes

  scope              = each.value
  role_definition_id = azurerm_role_definition.runtime_identities.role_definition_resource_id
  principal_id       = local.principal_id
  principal_type     = "ServicePrincipal"
  description        = "Make the runtimes' Key Vault identity in this group; grant only Key Vault Secrets User, only to service principals"
  condition_version  = "2.0"
  condition          = local.secrets_user_grants_only
}

# mvd_core/platforms/didhosts/azure_blob.py: get/set_service_properties, to check and switch on
# the static website that serves did.json (Storage Blob Data Contributor cannot; the DID step
# fails rather than upload to a site that is not served).
resource "azurerm_role_definition" "did_website" {
  name        = "${var.name_prefix}-control-plane-did-website"
  scope       = local.subscription_id
  description = "MVD control plane: read and switch on the static website of Azure Blob did:web hosts."

  permissions {
    actions = [
      "Microsoft.Storage/storageAccounts/blobServices/read",
      "Microsoft.Storage/storageAccounts/blobServices/write",
    ]
    data_actions     = []
    not_actions      = []
    not_data_actions = []
  }

  assignable_scopes = [local.subscription_id]
}

resource "azurerm_role_assignment" "did_website" {
  for_each = local.did_blob_scopes

  scope              = each.value
  role_definition_id = azurerm_role_definition.did_website.role_definition_resource_id
  principal_id       = local.principal_id
  principal_type     = "ServicePrincipal"
  description        = "Check and switch on the static website of Azure Blob DID hosts"
}

resource "azurerm_role_assignment" "did_blobs" {
  for_each = local.did_blob_scopes

  scope                = each.value
  role_definition_name = "Storage Blob Data Contributor"
  principal_id         = local.principal_id
  principal_type       = "ServicePrincipal"
  description          = "Upload did.json to the $web container of Azure Blob did:web hosts, nothing else"
  condition_version    = "2.0"
  condition            = local.web_container_only
}
