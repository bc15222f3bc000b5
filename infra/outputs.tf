# Names and URLs only: no output carries a key, connection string or token.

output "function_base_url" {
  description = "Base URL of the Function App (the dashboard is at /, the API under /api)."
  value       = "https://${azapi_resource.function_app.output.properties.defaultHostName}"
}

output "function_app_name" {
  description = "Name of the Function App (the target of `func azure functionapp publish`)."
  value       = azapi_resource.function_app.name
}

output "resource_group_name" {
  description = "Resource group that holds the control plane."
  value       = azurerm_resource_group.main.name
}

output "storage_account_name" {
  description = "Storage account of the Functions host, the Durable task hub and the command queue."
  value       = azurerm_storage_account.main.name
}

output "command_queue_name" {
  description = "Storage queue the provision/reset/teardown commands go through."
  value       = azurerm_storage_queue.commands.name
}

output "key_vault_name" {
  description = "Key Vault holding the control plane's own secrets (set with az keyvault secret set or control_plane_secrets)."
  value       = azurerm_key_vault.main.name
}

output "application_insights_name" {
  description = "Application Insights resource receiving the control plane's logs and traces."
  value       = azurerm_application_insights.main.name
}

output "principal_id" {
  description = "Object id of the Function App's system-assigned identity (for extra role assignments)."
  value       = local.principal_id
}

output "participants" {
  description = "Resource groups, AKS clusters and key vaults pre-created for the participants (empty unless participants_enabled)."
  value       = var.participants_enabled ? module.participants[0].summary : {}
}

output "runtime_identities" {
  description = "Participant id -> client id and tenant of its runtimes' Key Vault identity: the blueprint's vault.clientId and vault.tenantId (empty unless participants_enabled)."
  value       = var.participants_enabled ? module.participants[0].runtime_identities : {}
}
