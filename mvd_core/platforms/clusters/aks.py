"""An AKS cluster per participant, created or found through the Azure management SDKs.

``begin_ensure`` makes sure the resource group exists (azure-mgmt-resource), then reads the
managed cluster (azure-mgmt-containerservice). A missing or drifted cluster gets one
create-or-update PUT, sent without an SDK poller (``polling=False``), so no worker waits on
the long-running operation: ``poll`` reads the cluster's ``provisioningState`` once per call
and the orchestrator sleeps on a durable timer in between. Throttling (429 with Retry-After)
and 5xx answers are retried by azure-core's retry policy; anything else fails with the ARM
error code and message. The kubeconfig comes from the admin-credentials API and stays in
memory.
"""

from __future__ import annotations

import json
import uuid
from typing import TYPE_CHECKING, Any

import yaml
from azure.core.credentials import TokenCredential
from azure.core.exceptions import (
    ClientAuthenticationError,
    HttpResponseError,
    ResourceExistsError,
    ResourceNotFoundError,
)
from kubernetes import client as k8s

from mvd_core.dataspace.models import AksCluster, AzureKeyVault
from mvd_core.errors import ExternalError, MvdError
from mvd_core.logs import get_logger, redact
from mvd_core.plan.cloud import runtimes_identity_name
from mvd_core.platforms.azure_errors import permission_hint
from mvd_core.platforms.clusters.base import ClusterMissing, ClusterOperation, VaultIdentity
from mvd_core.platforms.kubernetes.client import api_client_from_kubeconfig_dict
from mvd_core.settings import Settings

if TYPE_CHECKING:  # the management SDKs are imported when an AKS cluster is first used
    from azure.mgmt.containerservice import ContainerServiceClient
    from azure.mgmt.containerservice.models import ManagedCluster
    from azure.mgmt.resource.resources import ResourceManagementClient
    from azure.mgmt.resource.resources.models import GenericResource

log = get_logger(__name__)

# The documented ARM calls of workload identity, sent through the generic resources API.
MSI_API_VERSION = "2023-01-31"
ROLE_ASSIGNMENT_API_VERSION = "2022-04-01"
# Built-in "Key Vault Secrets User": get and list secrets, nothing else.
KEY_VAULT_SECRETS_USER = "4633458b-17de-408a-b874-0445c86b69e6"
TOKEN_EXCHANGE_AUDIENCE = "api://AzureADTokenExchange"
# AKS's add-on of the Secrets Store CSI driver with the Azure Key Vault provider
CSI_ADDON = "azureKeyvaultSecretsProvider"


IN_PROGRESS = {"Creating", "Updating", "Upgrading", "Scaling", "Starting", "Stopping", "Migrating", "Deleting"}


def _arm_error(action: str, exc: HttpResponseError | ClientAuthenticationError) -> ExternalError:
    code = getattr(getattr(exc, "error", None), "code", None) or ""
    message = getattr(getattr(exc, "error", None), "message", None) or exc.reason or str(exc).splitlines()[0]
    status = exc.status_code or 0
    hint = f" ({permission_hint(exc)})" if status in (401, 403) else ""
    return ExternalError(redact(f"{action}: Azure answered {status} {code}: {message}{hint}".replace("  ", " ")))


def _vault_identity(identity: GenericResource | None) -> VaultIdentity | None:
    """A managed identity's ids as ARM answers them; None when it is missing or has not all of them yet."""
    props = (identity.properties or {}) if identity is not None else {}
    if not (props.get("clientId") and props.get("tenantId") and props.get("principalId")):
        return None
    return VaultIdentity(client_id=props["clientId"], tenant_id=props["tenantId"], principal_id=props["principalId"])


class AksClusterSource:
    kind = "aks"
    simulated = False

    def __init__(
        self,
        model: AksCluster,
        participant_id: str,
        settings: Settings,
        *,
        credential: TokenCredential | None = None,
        base_url: str | None = None,
        poll_seconds: float | None = None,
        **client_kwargs: Any,
    ) -> None:
        subscription = model.subscription_id or settings.azure_subscription_id
        if not subscription:
            raise MvdError(
                f"participant {participant_id!r}: cluster kind aks needs a subscription "
                "(cluster.subscriptionId in the blueprint or MVD_AZURE_SUBSCRIPTION_ID)"
            )
        self.model = model
        self.participant_id = participant_id
        self.subscription = subscription
        self.base_url = base_url or settings.azure_arm_url
        self.poll_seconds = settings.aks_poll_seconds if poll_seconds is None else poll_seconds
        self._credential = credential
        self._client_kwargs = client_kwargs
        self._kubeconfig: dict[str, Any] | None = None

    # --- SDK clients ------------------------------------------------------------------

    def _cred(self) -> TokenCredential:
        if self._credential is None:
            from azure.identity import DefaultAzureCredential

            self._credential = DefaultAzureCredential()
        return self._credential

    def _resources(self) -> ResourceManagementClient:
        from azure.mgmt.resource.resources import ResourceManagementClient

        return ResourceManagementClient(self._cred(), self.subscription, base_url=self.base_url, **self._client_kwargs)

    def _aks(self) -> ContainerServiceClient:
        from azure.mgmt.containerservice import ContainerServiceClient

        return ContainerServiceClient(self._cred(), self.subscription, base_url=self.base_url, **self._client_kwargs)

    @property
    def _where(self) -> str:
        return f"AKS cluster {self.model.resource_group}/{self.model.name}"

    def describe(self) -> str:
        return f"{self._where} in {self.model.location} (subscription {self.subscription})"

    def _op(self, done: bool, description: str, token: str | None = None) -> ClusterOperation:
        return ClusterOperation(
            done=done,
            kind=self.kind,
            simulated=False,
            token=token,
            poll_after_seconds=0.0 if done else self.poll_seconds,
            description=description,
        )

    # --- desired cluster --------------------------------------------------------------

    def _desired(self) -> ManagedCluster:
        from azure.mgmt.containerservice import models as m

        return m.ManagedCluster(
            location=self.model.location,
            identity=m.ManagedClusterIdentity(type="SystemAssigned"),
            properties=m.ManagedClusterProperties(
                dns_prefix=f"{self.model.name}-{self.participant_id}"[:54],
                kubernetes_version=self.model.kubernetes_version,
                agent_pool_profiles=[
                    m.ManagedClusterAgentPoolProfile(
                        name="system",
                        mode="System",
                        os_type="Linux",
                        count=self.model.node_count,
                        vm_size=self.model.vm_size,
                    )
                ],
                # workload identity: the cluster issues service account tokens Entra ID accepts (vault_identity)
                oidc_issuer_profile=m.ManagedClusterOIDCIssuerProfile(enabled=True),
                security_profile=m.ManagedClusterSecurityProfile(
                    workload_identity=m.ManagedClusterSecurityProfileWorkloadIdentity(enabled=True)
                ),
                # the Secrets Store CSI driver and its Azure provider: the pods' vault volumes
                addon_profiles={CSI_ADDON: m.ManagedClusterAddonProfile(enabled=True)},
            ),
            tags={"mvd.dataspace/participant": self.participant_id, "managed-by": "mvd-control-plane"},
        )

    def _matches(self, mc: ManagedCluster) -> bool:
        pools = mc.agent_pool_profiles or []
        system = next((p for p in pools if p.name == "system"), pools[0] if pools else None)
        if system is None or system.count != self.model.node_count or system.vm_size != self.model.vm_size:
            return False
        issuer, security = mc.oidc_issuer_profile, mc.security_profile
        if not (
            issuer and issuer.enabled and security and security.workload_identity and security.workload_identity.enabled
        ):
            return False
        csi = (mc.addon_profiles or {}).get(CSI_ADDON)
        if not (csi and csi.enabled):
            return False
        return not self.model.kubernetes_version or mc.kubernetes_version == self.model.kubernetes_version

    def _get(self, aks: ContainerServiceClient) -> ManagedCluster | None:
        try:
            return aks.managed_clusters.get(self.model.resource_group, self.model.name)
        except ResourceNotFoundError:
            return None

    # --- operations -------------------------------------------------------------------

    def begin_ensure(self) -> ClusterOperation:
        rg = self.model.resource_group
        try:
            resources = self._resources()
            try:
                resources.resource_groups.get(rg)
            except ResourceNotFoundError:
                resources.resource_groups.create_or_update(rg, {"location": self.model.location})
                log.info("created resource group %s", rg)
            aks = self._aks()
            mc = self._get(aks)
            if mc is not None and mc.provisioning_state in IN_PROGRESS:
                return self._op(False, f"{self.describe()}: {mc.provisioning_state.lower()}", token="ensure")
            if mc is not None and mc.provisioning_state == "Succeeded" and self._matches(mc):
                return self._op(True, f"{self.describe()}: ready")
            aks.managed_clusters.begin_create_or_update(rg, self.model.name, self._desired(), polling=False)
            log.info("%s: create-or-update sent", self._where)
        except (HttpResponseError, ClientAuthenticationError) as exc:
            raise _arm_error(f"ensure {self._where}", exc) from None
        return self._op(False, f"{self.describe()}: {'creating' if mc is None else 'updating'}", token="ensure")

    def poll(self, token: str) -> ClusterOperation:
        try:
            mc = self._get(self._aks())
        except (HttpResponseError, ClientAuthenticationError) as exc:
            raise _arm_error(f"poll {self._where}", exc) from None
        if token == "delete":
            if mc is None:
                return self._op(True, f"{self._where}: deleted")
            return self._op(False, f"{self._where}: deleting", token=token)
        if mc is None:
            raise ExternalError(f"{self._where} disappeared while it was being created")
        state = mc.provisioning_state or "Unknown"
        if state == "Succeeded":
            return self._op(True, f"{self.describe()}: ready")
        if state in IN_PROGRESS:
            return self._op(False, f"{self.describe()}: {state.lower()}", token=token)
        raise ExternalError(f"{self._where} ended in provisioning state {state}")

    def vault_identity(self, vault: AzureKeyVault, service_account: str) -> VaultIdentity:
        """Workload identity for the participant's runtimes on this (ready) cluster: the managed
        identity ``id-<participant>-runtimes`` beside the vault it reads (the vault's resource group,
        the cluster's when the blueprint names none: where infra/'s participants module puts it), its federated
        credential for ``system:serviceaccount:<participant>:<service_account>`` on this cluster's
        OIDC issuer, and "Key Vault Secrets User" on the participant's vault only. The identity and
        the credential are read first and written only when missing or different; the role
        assignment is a PUT of a name derived from what it grants. So a repeat (or a retry after a
        crash between the calls) makes the same identity and no second role assignment."""
        pid = self.participant_id
        identity_id = self._identity_id(vault)
        credential_id = f"{identity_id}/federatedIdentityCredentials/aks-{pid}-runtimes"
        vault_id = f"{self._vault_group(vault)}/providers/Microsoft.KeyVault/vaults/{vault.name}"
        try:
            mc = self._get(self._aks())
            issuer = mc.oidc_issuer_profile.issuer_url if mc and mc.oidc_issuer_profile else None
            if not issuer:
                raise ExternalError(f"{self._where} has no OIDC issuer yet (workload identity needs it)")
            resources = self._resources()
            identity = self._read(resources, identity_id, MSI_API_VERSION)
            if identity is None or not (identity.properties or {}).get("principalId"):
                identity = resources.resources.begin_create_or_update_by_id(
                    identity_id, {"location": self.model.location}, api_version=MSI_API_VERSION, polling=False
                ).result()
            made = _vault_identity(identity)
            if made is None:
                raise ExternalError(
                    f"the managed identity {runtimes_identity_name(pid)} came back without its client, tenant or "
                    "principal id"
                )
            trust = {
                "issuer": issuer,
                "subject": f"system:serviceaccount:{pid}:{service_account}",
                "audiences": [TOKEN_EXCHANGE_AUDIENCE],
            }
            credential = self._read(resources, credential_id, MSI_API_VERSION)
            if credential is None or {k: (credential.properties or {}).get(k) for k in trust} != trust:
                resources.resources.begin_create_or_update_by_id(
                    credential_id, {"properties": trust}, api_version=MSI_API_VERSION, polling=False
                ).result()
            self._assign_secrets_user(resources, vault_id, made.principal_id)
        except (HttpResponseError, ClientAuthenticationError) as exc:
            raise _arm_error(f"workload identity of {pid}'s runtimes on {self._where}", exc) from None
        log.info("%s: workload identity %s reads %s", self._where, made.client_id, vault.name)
        return made

    def find_vault_identity(self, vault: AzureKeyVault) -> VaultIdentity | None:
        """The runtimes' managed identity as :meth:`vault_identity` makes it, read only (one GET,
        no write): what ``mvd plan`` renders the ServiceAccount and SecretProviderClass with.
        None while it does not exist yet (the cluster step makes it)."""
        try:
            found = self._read(self._resources(), self._identity_id(vault), MSI_API_VERSION)
        except (HttpResponseError, ClientAuthenticationError) as exc:
            raise _arm_error(f"look up the workload identity of {self.participant_id}'s runtimes", exc) from None
        return _vault_identity(found)

    def _vault_group(self, vault: AzureKeyVault) -> str:
        # the vault's resource group, the cluster's when the blueprint names none
        return f"/subscriptions/{self.subscription}/resourceGroups/{vault.resource_group or self.model.resource_group}"

    def _identity_id(self, vault: AzureKeyVault) -> str:
        name = runtimes_identity_name(self.participant_id)
        return f"{self._vault_group(vault)}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{name}"

    @staticmethod
    def _read(resources: ResourceManagementClient, resource_id: str, api_version: str) -> GenericResource | None:
        try:
            return resources.resources.get_by_id(resource_id, api_version=api_version)
        except ResourceNotFoundError:
            return None

    def _assign_secrets_user(self, resources: ResourceManagementClient, vault_id: str, principal_id: str) -> None:
        # a role assignment's name is a GUID: derived from what it grants, so a repeat is the same PUT
        name = uuid.uuid5(uuid.NAMESPACE_URL, f"{vault_id}|{principal_id}|{KEY_VAULT_SECRETS_USER}")
        try:
            resources.resources.begin_create_or_update_by_id(
                f"{vault_id}/providers/Microsoft.Authorization/roleAssignments/{name}",
                {
                    "properties": {
                        "roleDefinitionId": f"/subscriptions/{self.subscription}/providers/Microsoft.Authorization/"
                        f"roleDefinitions/{KEY_VAULT_SECRETS_USER}",
                        "principalId": principal_id,
                        "principalType": "ServicePrincipal",
                    }
                },
                api_version=ROLE_ASSIGNMENT_API_VERSION,
                polling=False,
            ).result()
        except ResourceExistsError as exc:
            # the same grant under another name (infra/'s participants module made it): already in place
            if getattr(getattr(exc, "error", None), "code", None) != "RoleAssignmentExists":
                raise

    def api_client(self) -> k8s.ApiClient:
        if self._kubeconfig is None:
            try:
                creds = self._aks().managed_clusters.list_cluster_admin_credentials(
                    self.model.resource_group, self.model.name
                )
            except ResourceNotFoundError:
                raise ClusterMissing(f"{self._where} does not exist yet") from None
            except (HttpResponseError, ClientAuthenticationError) as exc:
                raise _arm_error(f"get the kubeconfig of {self._where}", exc) from None
            raw = creds.kubeconfigs[0].value if creds.kubeconfigs else None  # the SDK decodes its base64
            if not raw:
                raise ExternalError(f"{self._where}: the credentials API returned no kubeconfig")
            try:
                self._kubeconfig = yaml.safe_load(raw)
            except yaml.YAMLError:
                raise ExternalError(f"{self._where}: the kubeconfig from Azure is not valid YAML") from None
        return api_client_from_kubeconfig_dict(json.loads(json.dumps(self._kubeconfig)))

    def delete(self) -> ClusterOperation:
        try:
            aks = self._aks()
            if self._get(aks) is None:
                return self._op(True, f"{self._where}: already absent")
            aks.managed_clusters.begin_delete(self.model.resource_group, self.model.name, polling=False)
        except (HttpResponseError, ClientAuthenticationError) as exc:
            raise _arm_error(f"delete {self._where}", exc) from None
        self._kubeconfig = None
        return self._op(False, f"{self._where}: deleting", token="delete")
