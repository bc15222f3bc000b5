"""The cloud resources a participant needs, as data: what ``ensure cluster`` and ``ensure
vault`` will create or find, and where its DID document lives."""

from __future__ import annotations

from typing import Any

from mvd_core.dataspace.models import (
    AksCluster,
    AzureBlobDidHost,
    AzureKeyVault,
    CloudflareDidHost,
    Participant,
    S3DidHost,
)


def runtimes_identity_name(participant_id: str) -> str:
    """The managed identity the participant's runtimes read their Key Vault with, where the
    control plane makes it (the cluster step; infra/'s participants module uses the same name)."""
    return f"id-{participant_id}-runtimes"


def makes_vault_identity(participant: Participant) -> bool:
    """Whether the control plane makes the runtimes' Key Vault identity: on an AKS cluster it
    creates, for a Key Vault whose blueprint names no identity (``vault.clientId``). A blueprint
    that names one keeps it (infra/'s participants module made it; its output runtime_identities)."""
    vault = participant.vault
    return isinstance(participant.cluster, AksCluster) and isinstance(vault, AzureKeyVault) and vault.client_id is None


def cloud_resources(participant: Participant) -> list[dict[str, Any]]:
    resources: list[dict[str, Any]] = []
    groups: set[str] = set()

    def group(name: str, location: str) -> None:
        if name not in groups:
            groups.add(name)
            resources.append({"type": "Microsoft.Resources/resourceGroups", "name": name, "location": location})

    cluster = participant.cluster
    if isinstance(cluster, AksCluster):
        group(cluster.resource_group, cluster.location)
        resources.append(
            {
                "type": "Microsoft.ContainerService/managedClusters",
                "name": cluster.name,
                "resourceGroup": cluster.resource_group,
                "location": cluster.location,
                "properties": {
                    "nodeCount": cluster.node_count,
                    "vmSize": cluster.vm_size,
                    "kubernetesVersion": cluster.kubernetes_version,
                    "identity": "SystemAssigned",
                },
            }
        )
    vault = participant.vault
    if isinstance(vault, AzureKeyVault):
        rg = vault.resource_group or (
            cluster.resource_group if isinstance(cluster, AksCluster) else f"rg-{participant.id}"
        )
        location = cluster.location if isinstance(cluster, AksCluster) else "westeurope"
        group(rg, location)
        resources.append(
            {
                "type": "Microsoft.KeyVault/vaults",
                "name": vault.name,
                "resourceGroup": rg,
                "location": location,
                "properties": {"enableRbacAuthorization": True, "sku": "standard"},
            }
        )
        if makes_vault_identity(participant):
            resources.append(
                {
                    "type": "Microsoft.ManagedIdentity/userAssignedIdentities",
                    "name": runtimes_identity_name(participant.id),
                    "resourceGroup": rg,
                    "location": location,
                    "purpose": "the runtimes read the vault with it (workload identity); made by the cluster step",
                }
            )
    host = participant.identity.host
    match host:
        case AzureBlobDidHost():
            resources.append(
                {
                    "type": "Microsoft.Storage/storageAccounts/blobServices/containers",
                    "name": f"{host.storage_account}/default/$web",
                    "purpose": "did:web document",
                }
            )
        case S3DidHost():
            resources.append(
                {"type": "AWS::S3::Bucket", "name": host.bucket, "region": host.region, "purpose": "did:web document"}
            )
        case CloudflareDidHost():
            resources.append(
                {
                    "type": "Cloudflare::R2::Bucket",
                    "name": host.bucket,
                    "accountId": host.account_id,
                    "purpose": "did:web document",
                }
            )
            resources.append(
                {
                    "type": "Cloudflare::Zone",
                    "id": host.zone_id,
                    "domain": host.domain,
                    "purpose": "CDN in front of the bucket; purged after each upload",
                }
            )
    return resources
