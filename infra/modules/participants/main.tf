# Pre-creates what the control plane would otherwise create for each participant: its
# resource group, AKS cluster and key vault, plus the storage account of an Azure Blob
# did:web host. The static website ($web) of that account is a data-plane setting, which
# this configuration does not touch (see versions.tf): the control plane's Azure Blob DID
# host enables it on first publish. Names and sizes come from the blueprint, so the control plane finds these
# resources where it looks for them and converges them instead of creating new ones.

locals {
  resource_groups = toset(compact(flatten([
    for p in values(var.participants) : [
      p.resource_group,
      p.cluster == null ? null : p.cluster.resource_group,
      p.vault == null ? null : p.vault.resource_group,
    ]
  ])))
  clusters     = { for id, p in var.participants : id => p.cluster if p.cluster != null }
  vaults       = { for id, p in var.participants : id => p.vault if p.vault != null }
  did_accounts = { for id, p in var.participants : id => p if p.did_storage_account != null }
}

resource "azurerm_resource_group" "this" {
  for_each = local.resource_groups

  name     = each.key
  location = var.location
  tags     = var.tags
}

resource "azurerm_kubernetes_cluster" "this" {
  for_each = local.clusters

  name                = each.value.name
  resource_group_name = azurerm_resource_group.this[each.value.resource_group].name
  location            = each.value.location
  dns_prefix          = each.value.name
  kubernetes_version  = each.value.kubernetes_version
  tags                = merge(var.tags, { "mvd-participant" = each.key })

  default_node_pool {
    name       = "system"
    node_count = each.value.node_count
    vm_size    = each.value.vm_size
  }

  identity {
    type = "SystemAssigned"
  }

  # Workload identity: the cluster issues service account tokens that Entra ID accepts for the
  # participant's runtime identity (federated credential below); no client secret anywhere.
  oidc_issuer_enabled       = true
  workload_identity_enabled = true

  # The Secrets Store CSI driver with the Azure Key Vault provider (the add-on the control plane
  # enables on the clusters it creates): the runtimes' vault volumes.
  key_vault_secrets_provider {
    secret_rotation_enabled = false
  }

  lifecycle {
    # The control plane converges node counts and versions from the blueprint too.
    ignore_changes = [default_node_pool[0].node_count, kubernetes_version]
  }
}

resource "azurerm_key_vault" "this" {
  for_each = local.vaults

  name                = each.value.name
  resource_group_name = azurerm_resource_group.this[each.value.resource_group].name
  location            = var.location
  tenant_id           = var.tenant_id
  tags                = merge(var.tags, { "mvd-participant" = each.key })

  sku_name                   = "standard"
  rbac_authorization_enabled = true
  # A participant's keys must survive a reset; a torn-down vault stays recoverable.
  purge_protection_enabled   = false
  soft_delete_retention_days = 7
}

resource "azurerm_storage_account" "did" {
  for_each = local.did_accounts

  name                = each.value.did_storage_account
  resource_group_name = azurerm_resource_group.this[each.value.resource_group].name
  location            = var.location
  tags                = merge(var.tags, { "mvd-participant" = each.key })

  account_tier                    = "Standard"
  account_replication_type        = "LRS"
  account_kind                    = "StorageV2"
  min_tls_version                 = "TLS1_2"
  https_traffic_only_enabled      = true
  allow_nested_items_to_be_public = false
  shared_access_key_enabled       = false
  default_to_oauth_authentication = true
}

# The identity a participant's runtimes read its key vault with, through the Secrets Store CSI
# driver's Azure provider: the ServiceAccount "runtimes" of the participant's namespace (the
# render annotates it with this identity's client id) exchanges its token for this identity's.
resource "azurerm_user_assigned_identity" "runtimes" {
  for_each = local.vaults

  name                = "id-${each.key}-runtimes"
  resource_group_name = azurerm_resource_group.this[each.value.resource_group].name
  location            = var.location
  tags                = merge(var.tags, { "mvd-participant" = each.key })
}

# Trust in the participant's own AKS cluster only, and there in its namespace's ServiceAccount only.
resource "azurerm_federated_identity_credential" "runtimes" {
  for_each = { for id, v in local.vaults : id => v if contains(keys(local.clusters), id) }

  name                = "aks-${each.key}-runtimes"
  resource_group_name = azurerm_user_assigned_identity.runtimes[each.key].resource_group_name
  parent_id           = azurerm_user_assigned_identity.runtimes[each.key].id
  issuer              = azurerm_kubernetes_cluster.this[each.key].oidc_issuer_url
  subject             = "system:serviceaccount:${each.key}:${var.runtimes_service_account}"
  audience            = ["api://AzureADTokenExchange"]
}

# Read only: the runtimes read their secrets; what they write (the identity hub's STS client
# secret and API keys) stays in the identity hub pod's own file vault (no EDC 0.15.1 module
# writes to Key Vault), and the control plane writes the vault with its own identity.
resource "azurerm_role_assignment" "runtimes_secrets" {
  for_each = local.vaults

  scope                = azurerm_key_vault.this[each.key].id
  role_definition_name = "Key Vault Secrets User"
  principal_id         = azurerm_user_assigned_identity.runtimes[each.key].principal_id
  principal_type       = "ServicePrincipal"
  description          = "The runtimes of ${each.key} read its secrets (workload identity of its ServiceAccount ${var.runtimes_service_account})."
}
