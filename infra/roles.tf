# Every role the control plane's identity (and the deployer) gets, each with its reason in
# README.md ("Role assignments"). Nothing is granted at a wider scope than the task needs.

locals {
  principal_id = azapi_resource.function_app.identity[0].principal_id

  # Where the participants' resources live. Without the participants module the control
  # plane creates resource groups, which only a subscription-scope role allows; with it,
  # the role shrinks to the resource groups Terraform made.
  participant_scopes = var.participants_enabled ? module.participants[0].resource_group_ids : { subscription = local.subscription_id }
  did_blob_scopes    = var.participants_enabled ? module.participants[0].did_storage_account_ids : { subscription = local.subscription_id }

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

resource "azurerm_role_definition" "participants" {
  name        = "${var.name_prefix}-control-plane-participants"
  scope       = local.subscription_id
  description = "MVD control plane: create/find participants' resource groups, AKS clusters and key vaults, fetch cluster credentials, and keep participant secrets."

  permissions {
    actions = [
      "Microsoft.Resources/subscriptions/resourceGroups/read",
      "Microsoft.Resources/subscriptions/resourceGroups/write",
      "Microsoft.Resources/subscriptions/resourceGroups/delete",
      "Microsoft.ContainerService/managedClusters/read",
      "Microsoft.ContainerService/managedClusters/write",
      "Microsoft.ContainerService/managedClusters/delete",
      # mvd_core/platforms/clusters/aks.py reads the kubeconfig with list_cluster_admin_credentials.
      "Microsoft.ContainerService/managedClusters/listClusterAdminCredential/action",
      "Microsoft.ContainerService/managedClusters/agentPools/read",
      "Microsoft.ContainerService/locations/operations/read",
      "Microsoft.ContainerService/locations/operationresults/read",
      "Microsoft.KeyVault/vaults/read",
      "Microsoft.KeyVault/vaults/write",
      "Microsoft.KeyVault/vaults/delete",
      "Microsoft.KeyVault/locations/operationResults/read",
      "Microsoft.KeyVault/locations/deletedVaults/read",
      "Microsoft.KeyVault/checkNameAvailability/read",
    ]
    data_actions = [
      "Microsoft.KeyVault/vaults/secrets/getSecret/action",
      "Microsoft.KeyVault/vaults/secrets/setSecret/action",
      "Microsoft.KeyVault/vaults/secrets/readMetadata/action",
      "Microsoft.KeyVault/vaults/secrets/delete",
      # A secret deleted and set again is recovered first, and purged on delete where allowed
      # (mvd_core/platforms/secrets/azure_keyvault.py).
      "Microsoft.KeyVault/vaults/secrets/recover/action",
      "Microsoft.KeyVault/vaults/secrets/purge/action",
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
  description        = "Participants' resource groups, AKS clusters, key vaults and their secrets"
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
