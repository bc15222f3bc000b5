# The blueprint's participants as the participants module and the role scopes need them.
# Defaults mirror mvd_core.dataspace.models (AksCluster, AzureKeyVault); tests/infra checks.

locals {
  participants = {
    for p in local.dataspace.participants : p.id => {
      resource_group = coalesce(
        try(p.cluster.resourceGroup, null),
        try(p.vault.resourceGroup, null),
        "rg-${var.name_prefix}-${p.id}",
      )
      cluster = try(p.cluster.kind, "simulated") != "aks" ? null : {
        name               = p.cluster.name
        resource_group     = p.cluster.resourceGroup
        location           = try(p.cluster.location, "westeurope")
        node_count         = try(p.cluster.nodeCount, 2)
        vm_size            = try(p.cluster.vmSize, "Standard_B2s")
        kubernetes_version = try(p.cluster.kubernetesVersion, null)
      }
      vault = try(p.vault.kind, "local") != "azure-key-vault" ? null : {
        name           = p.vault.name
        resource_group = coalesce(try(p.vault.resourceGroup, null), try(p.cluster.resourceGroup, null), "rg-${var.name_prefix}-${p.id}")
      }
      did_storage_account = try(p.identity.host.kind, "") == "azure-blob" ? p.identity.host.storageAccount : null
    }
  }

  # The resource groups of the Key Vaults whose runtimes' identity the control plane makes: on an
  # AKS cluster it creates, for a vault whose blueprint names no vault.clientId
  # (mvd_core/workflow/connect.py makes_vault_identity). The identity lives beside the vault.
  runtime_identity_groups = toset([
    for p in local.dataspace.participants : local.participants[p.id].vault.resource_group
    if local.participants[p.id].cluster != null && local.participants[p.id].vault != null && try(p.vault.clientId, null) == null
  ])

  # Azure Blob did:web hosts: storage account -> participant.
  did_storage_accounts = {
    for id, p in local.participants : p.did_storage_account => id if p.did_storage_account != null
  }
}
