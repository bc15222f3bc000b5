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
