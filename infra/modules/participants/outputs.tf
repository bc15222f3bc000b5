output "resource_group_ids" {
  description = "Resource group name -> id of every participant resource group created here."
  value       = { for name, rg in azurerm_resource_group.this : name => rg.id }
}

output "did_storage_account_ids" {
  description = "Participant id -> id of its Azure Blob did:web storage account."
  value       = { for id, sa in azurerm_storage_account.did : id => sa.id }
}

output "summary" {
  description = "Participant id -> names of its pre-created resource group, AKS cluster, key vault and DID storage account."
  value = {
    for id, p in var.participants : id => {
      resource_group      = p.resource_group
      aks_cluster         = p.cluster == null ? null : azurerm_kubernetes_cluster.this[id].name
      key_vault           = p.vault == null ? null : azurerm_key_vault.this[id].name
      did_storage_account = p.did_storage_account
    }
  }
}

output "runtime_identities" {
  description = "Participant id -> the client id of its runtimes' identity (the blueprint's vault.clientId) and the Entra tenant."
  value = {
    for id, identity in azurerm_user_assigned_identity.runtimes : id => {
      client_id = identity.client_id
      tenant_id = identity.tenant_id
    }
  }
}
