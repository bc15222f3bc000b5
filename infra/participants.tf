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
}
