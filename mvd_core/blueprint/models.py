"""The dataspace blueprint: pydantic models of what an operator declares.

Field names in YAML are camelCase (``displayName``); Python attributes are snake_case.
Unknown fields are errors everywhere. The seed's rules (docs/scenario.md) are
enforced here, each error naming the field it is about.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic.alias_generators import to_camel

DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
DNS_NAME = re.compile(r"^(?=.{1,253}$)([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)(\.[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)*$")


def _dns_label(value: str) -> str:
    if not DNS1123_LABEL.match(value):
        raise ValueError(
            f"{value!r} is not a DNS-1123 label (lowercase letters, digits and '-', "
            "starting and ending with a letter or digit, at most 63 characters)"
        )
    return value


def _host_name(value: str) -> str:
    if not DNS_NAME.match(value):
        raise ValueError(f"{value!r} is not a DNS host name (lowercase, dot-separated labels, no port or scheme)")
    return value


def _path_segment(value: str) -> str:
    if not re.match(r"^[A-Za-z0-9._~-]+$", value) or value in (".", ".."):
        raise ValueError(f"{value!r} is not a safe URL path segment")
    return value


DnsLabel = Annotated[str, AfterValidator(_dns_label)]
HostName = Annotated[str, AfterValidator(_host_name)]
PathSegment = Annotated[str, AfterValidator(_path_segment)]


class Model(BaseModel):
    model_config = ConfigDict(
        extra="forbid", alias_generator=to_camel, populate_by_name=True, frozen=True
    )


# --- clusters ---------------------------------------------------------------------------


class SimulatedCluster(Model):
    kind: Literal["simulated"] = "simulated"


class KubeconfigCluster(Model):
    kind: Literal["kubeconfig"]
    context: str = Field(min_length=1)
    path: str | None = None


class AksCluster(Model):
    kind: Literal["aks"]
    subscription_id: str | None = None
    resource_group: str = Field(min_length=1, max_length=90)
    name: DnsLabel
    location: str = "westeurope"
    node_count: int = Field(2, ge=1, le=100)
    vm_size: str = "Standard_B2s"
    kubernetes_version: str | None = None


Cluster = Annotated[SimulatedCluster | KubeconfigCluster | AksCluster, Field(discriminator="kind")]


# --- runtimes ---------------------------------------------------------------------------


class ConnectorRuntime(Model):
    replicas: int = 1
    embedded_catalog: bool = False
    storage: Literal["in-memory"] = "in-memory"
    identity_hub: Literal["embedded"] = "embedded"
    dpf_url: str | None = Field(None, description="DPF the embedded selector points to; own data plane when unset.")

    @field_validator("replicas")
    @classmethod
    def _single_instance(cls, value: int) -> int:
        if value != 1:
            raise ValueError(
                f"is {value}: the connector keeps its state in memory, so it runs as exactly 1 replica"
            )
        return value


class DataPlaneRuntime(Model):
    replicas: int = Field(1, ge=1, le=50)


class CatalogRuntime(Model):
    """A standalone catalog container. Declare it, or set ``connector.embeddedCatalog``."""

    replicas: int = Field(1, ge=1, le=1)


class ConnectorUi(Model):
    enabled: bool = True


class Runtimes(Model):
    connector: ConnectorRuntime = ConnectorRuntime()
    data_plane: DataPlaneRuntime = DataPlaneRuntime()
    catalog: CatalogRuntime | None = None
    connector_ui: ConnectorUi = ConnectorUi()

    @model_validator(mode="after")
    def _one_catalog(self) -> Runtimes:
        if self.catalog is not None and self.connector.embedded_catalog:
            raise ValueError(
                "catalog: declares a standalone catalog while connector.embeddedCatalog is true; "
                "a participant has exactly one catalog (no hybrid deployments)"
            )
        if self.catalog is None and not self.connector.embedded_catalog:
            raise ValueError(
                "catalog: missing; declare a standalone catalog or set connector.embeddedCatalog: true"
            )
        return self

    @property
    def catalog_mode(self) -> Literal["standalone", "embedded"]:
        return "standalone" if self.catalog is not None else "embedded"


# --- did:web hosts ----------------------------------------------------------------------


class _DidHostBase(Model):
    path: list[PathSegment] = Field(
        default_factory=list, description="DID path segments; empty means /.well-known/did.json."
    )


class CloudflareDidHost(_DidHostBase):
    """R2 bucket (S3 API) behind a Cloudflare-proxied domain; the URL is purged after upload."""

    kind: Literal["cloudflare"]
    domain: HostName
    account_id: str = Field(min_length=1)
    zone_id: str = Field(min_length=1)
    bucket: DnsLabel
    endpoint_url: str | None = Field(None, description="R2 S3 endpoint; https://<accountId>.r2.cloudflarestorage.com when unset.")


class AzureBlobDidHost(_DidHostBase):
    """The ``$web`` container of a storage account's static website."""

    kind: Literal["azure-blob"]
    storage_account: Annotated[str, Field(pattern=r"^[a-z0-9]{3,24}$")]
    domain: HostName = Field(description="Host serving the static website (custom domain or <account>.<zone>.web.core.windows.net).")
    account_url: str | None = Field(None, description="Blob endpoint; https://<account>.blob.core.windows.net when unset.")


class S3DidHost(_DidHostBase):
    kind: Literal["s3"]
    bucket: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")]
    region: str = "eu-central-1"
    domain: HostName | None = Field(None, description="Public host; <bucket>.s3.<region>.amazonaws.com when unset.")
    endpoint_url: str | None = None

    @property
    def public_host(self) -> str:
        return self.domain or f"{self.bucket}.s3.{self.region}.amazonaws.com"


class LocalDidHost(_DidHostBase):
    """Files under the state directory, served by ``mvd serve`` at ``/dids/...``."""

    kind: Literal["local"]


DidHost = Annotated[
    CloudflareDidHost | AzureBlobDidHost | S3DidHost | LocalDidHost, Field(discriminator="kind")
]


class Identity(Model):
    host: DidHost
    key_type: Literal["EC-P256", "Ed25519"] = "EC-P256"


# --- vaults -----------------------------------------------------------------------------


class LocalVault(Model):
    kind: Literal["local"] = "local"


class AzureKeyVault(Model):
    kind: Literal["azure-key-vault"]
    name: Annotated[str, Field(pattern=r"^[a-zA-Z][a-zA-Z0-9-]{1,22}[a-zA-Z0-9]$")]
    resource_group: str | None = None
    vault_url: str | None = Field(None, description="https://<name>.vault.azure.net when unset.")


Vault = Annotated[LocalVault | AzureKeyVault, Field(discriminator="kind")]


# --- the rest ---------------------------------------------------------------------------


class Images(Model):
    connector: str = "ghcr.io/eclipse-edc/mvd/connector:0.9.0"
    data_plane: str = "ghcr.io/eclipse-edc/mvd/data-plane:0.9.0"
    catalog: str = "ghcr.io/eclipse-edc/mvd/catalog:0.9.0"
    connector_ui: str = "ghcr.io/eclipse-edc/data-dashboard:0.4.0"


class SeedJob(Model):
    name: DnsLabel
    image: str = Field(min_length=1)
    args: list[str] = Field(default_factory=list)
    timeout_seconds: int = Field(300, ge=1, le=3600)


class Participant(Model):
    id: DnsLabel
    display_name: str = Field(min_length=1, max_length=100)
    public_host: HostName | None = Field(
        None, description="Host the participant's ingress answers on; <id>.<dataspace>.dataspace.example when unset."
    )
    cluster: Cluster = SimulatedCluster()
    runtimes: Runtimes
    identity: Identity
    vault: Vault = LocalVault()
    images: Images | None = Field(None, description="Overrides the dataspace's images.")
    seed_jobs: list[SeedJob] = Field(default_factory=list)


class Schedule(Model):
    reset: str = Field("0 0 0 * * *", description="NCRONTAB (sec min hour day month weekday), as Azure Functions.")
    timezone: str = "UTC"

    @model_validator(mode="after")
    def _six_fields(self) -> Schedule:
        if len(self.reset.split()) != 6:
            raise ValueError(f"reset: {self.reset!r} must have 6 fields (sec min hour day month weekday)")
        return self


class Dataspace(Model):
    api_version: Literal["mvd/v1"] = "mvd/v1"
    kind: Literal["Dataspace"] = "Dataspace"
    name: DnsLabel
    display_name: str | None = None
    schedule: Schedule = Schedule()
    images: Images = Images()
    participants: list[Participant] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_ids(self) -> Dataspace:
        seen: set[str] = set()
        for p in self.participants:
            if p.id in seen:
                raise ValueError(f"participants: id {p.id!r} is declared twice")
            seen.add(p.id)
        return self

    def participant(self, participant_id: str) -> Participant:
        for p in self.participants:
            if p.id == participant_id:
                return p
        from mvd_core.errors import NotFound

        known = ", ".join(p.id for p in self.participants)
        raise NotFound(f"unknown participant {participant_id!r} (known: {known})")

    def images_for(self, participant: Participant) -> Images:
        return participant.images or self.images

    def public_host_for(self, participant: Participant) -> str:
        return participant.public_host or f"{participant.id}.{self.name}.dataspace.example"
