"""The dataspace blueprint: pydantic models of what an operator declares.

Field names in YAML are camelCase (``displayName``); Python attributes are snake_case.
Unknown fields are errors everywhere. The seed's rules (docs/scenario.md) are
enforced here, each error naming the field it is about.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from datetime import UTC, datetime
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import CroniterBadDateError, CroniterError, croniter
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic.alias_generators import to_camel

from mvd_core.errors import NotFound

# Every pattern below is used with ``fullmatch`` (``$`` would also match before a final
# newline) and spells its character classes in ASCII (``\d`` would take any Unicode digit).
DNS1123_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")
ISSUER_ID = "issuer"  # the dataspace issuer's name: its key's owner and its local DID path, never a participant's
MAX_DNS_NAME = 253
# The last label of a dotted IPv4 address in any of the forms resolvers accept
# (``10.0.0.1``, ``127.1``, ``0x7f.1``, ``2130706433``): no top-level domain looks like this.
_NUMERIC_LABEL = re.compile(r"[0-9]+|0[xX][0-9a-fA-F]*")
# Zero-width joiners are part of how some scripts and emoji are written.
_JOINERS = {"\u200c", "\u200d"}


def show(value: object, limit: int = 60) -> str:
    """``repr`` of a value for an error message: control characters escaped, long values cut."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(str(value))} characters)"


_CONTROL_NAMES = {"\x00": "NUL", "\t": "TAB", "\n": "LF", "\r": "CR", "\x1b": "ESC", "\x7f": "DEL", "\x85": "NEL"}


def char_name(ch: str) -> str:
    """``U+0000 (NUL)``: how an error message names a character it refuses."""
    name = (
        _CONTROL_NAMES.get(ch)
        or unicodedata.name(ch, "")
        or ("a control character" if unicodedata.category(ch) == "Cc" else f"a {unicodedata.category(ch)} character")
    )
    return f"U+{ord(ch):04X} ({name})"


def bad_text_char(value: str) -> str | None:
    """The first character free text may not hold: control characters, line and paragraph
    separators, and invisible format characters (bidi overrides, zero-width spaces)."""
    for ch in value:
        category = unicodedata.category(ch)
        if category in ("Cc", "Cs", "Zl", "Zp") or (category == "Cf" and ch not in _JOINERS):
            return ch
    return None


def is_ip_literal(host: str) -> bool:
    """An IPv4 or IPv6 address in any form a resolver or URL parser would take as one."""
    try:
        ipaddress.ip_address(host.removeprefix("[").removesuffix("]"))
        return True
    except ValueError:
        pass
    return host.startswith("[") or bool(_NUMERIC_LABEL.fullmatch(host.rstrip(".").rsplit(".", 1)[-1]))


def dns_name_problem(host: str) -> str | None:
    """Why ``host`` is not a lowercase ASCII DNS name (None when it is one)."""
    if is_ip_literal(host):
        return "is an IP literal; a host here must be a domain name"
    if not host or len(host) > MAX_DNS_NAME or not all(DNS1123_LABEL.fullmatch(label) for label in host.split(".")):
        return (
            "is not a DNS host name (lowercase dot-separated labels of letters, digits and '-', "
            f"at most 63 characters each and {MAX_DNS_NAME} in all; no port, scheme or trailing dot)"
        )
    return None


def _text(value: str) -> str:
    ch = bad_text_char(value)
    if ch is not None:
        raise ValueError(f"contains {char_name(ch)}, which is not allowed in a blueprint")
    return value


def _dns_label(value: str) -> str:
    _text(value)
    if not DNS1123_LABEL.fullmatch(value):
        raise ValueError(
            f"{show(value)} is not a DNS-1123 label (lowercase letters, digits and '-', "
            "starting and ending with a letter or digit, at most 63 characters)"
        )
    return value


def _host_name(value: str) -> str:
    _text(value)
    problem = dns_name_problem(value)
    if problem:
        raise ValueError(f"{show(value)} {problem}")
    return value


def _path_segment(value: str) -> str:
    _text(value)
    if not re.fullmatch(r"[A-Za-z0-9._~-]+", value) or value in (".", ".."):
        raise ValueError(f"{show(value)} is not a safe URL path segment (letters, digits, '.', '_', '~', '-')")
    return value


def _http_url(value: str) -> str:
    _text(value)
    parts = urlsplit(value) if re.fullmatch(r"[!-~]+", value) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{show(value)} is not an http(s) URL")
    return value


def _matching(regex: str, what: str) -> AfterValidator:
    """A validator accepting strings that ``regex`` matches in full."""
    pattern = re.compile(regex)

    def check(value: str) -> str:
        _text(value)  # a control character is named as such, whatever else the field requires
        if not pattern.fullmatch(value):
            raise ValueError(f"{show(value)} is not {what}")
        return value

    return AfterValidator(check)


DnsLabel = Annotated[str, AfterValidator(_dns_label)]
HostName = Annotated[str, AfterValidator(_host_name)]
PathSegment = Annotated[str, AfterValidator(_path_segment)]
Text = Annotated[str, AfterValidator(_text)]
HttpUrl = Annotated[str, AfterValidator(_http_url)]
ImageRef = Annotated[
    str,
    _matching(
        r"[A-Za-z0-9][A-Za-z0-9._/:@+-]{0,511}", "a container image reference (registry/repository:tag or @digest)"
    ),
]
ResourceGroup = Annotated[
    str,
    _matching(
        r"[\w.()-]{0,89}[\w()-]",
        "a resource group name (letters, digits, '_', '-', '.', '(', ')'; at most 90 characters, not ending in '.')",
    ),
]
# Goes into hosts and API paths (R2 endpoint, zone purge): letters, digits and '-' only.
CloudflareId = Annotated[str, _matching(r"[A-Za-z0-9-]{1,64}", "a Cloudflare id (letters, digits and '-')")]


class Model(BaseModel):
    # strict: a YAML "3", true or 2.0 is not the integer 3, 1 or 2, and "yes" is not a boolean.
    model_config = ConfigDict(extra="forbid", alias_generator=to_camel, populate_by_name=True, frozen=True, strict=True)

    @field_validator("*")
    @classmethod
    def _no_control_characters(cls, value: Any) -> Any:
        """Every string field, pattern-guarded or free text, is printable text."""
        return _text(value) if isinstance(value, str) else value


# --- clusters ---------------------------------------------------------------------------


class SimulatedCluster(Model):
    kind: Literal["simulated"] = "simulated"


class ProcessesCluster(Model):
    """No cluster: the participant's runtimes run as processes on the control plane's machine."""

    kind: Literal["processes"] = "processes"


class KubeconfigCluster(Model):
    kind: Literal["kubeconfig"]
    context: str = Field(min_length=1, max_length=253)
    path: str | None = Field(None, min_length=1, max_length=4096)


class AksCluster(Model):
    kind: Literal["aks"]
    # These go into ARM URL paths: each is held to the characters Azure allows in it.
    subscription_id: Annotated[str, _matching(r"[A-Za-z0-9-]{1,64}", "a subscription id (a GUID)")] | None = None
    resource_group: ResourceGroup
    name: DnsLabel
    location: Annotated[str, _matching(r"[a-z0-9]{1,64}", "an Azure location name (such as westeurope)")] = "westeurope"
    node_count: int = Field(2, ge=1, le=100)
    vm_size: Annotated[str, _matching(r"[A-Za-z0-9_]{1,64}", "a VM size (such as Standard_B2s)")] = "Standard_B2s"
    kubernetes_version: (
        Annotated[
            str, _matching(r"[0-9]{1,3}\.[0-9]{1,3}(\.[0-9]{1,3})?", "a Kubernetes version (such as 1.30 or 1.30.4)")
        ]
        | None
    ) = None


Cluster = Annotated[SimulatedCluster | ProcessesCluster | KubeconfigCluster | AksCluster, Field(discriminator="kind")]


# --- runtimes ---------------------------------------------------------------------------


class ConnectorRuntime(Model):
    replicas: int = 1
    embedded_catalog: bool = False
    storage: Literal["in-memory"] = "in-memory"
    identity_hub: Literal["embedded"] = "embedded"
    dpf_url: HttpUrl | None = Field(None, description="DPF the embedded selector points to; own data plane when unset.")

    @field_validator("replicas")
    @classmethod
    def _single_instance(cls, value: int) -> int:
        if value != 1:
            raise ValueError(
                f"is {show(value, 20)}: the connector keeps its state in memory, so it runs as exactly 1 replica"
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
            raise ValueError("catalog: missing; declare a standalone catalog or set connector.embeddedCatalog: true")
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
    account_id: CloudflareId
    zone_id: CloudflareId
    bucket: DnsLabel
    endpoint_url: HttpUrl | None = Field(
        None, description="R2 S3 endpoint; https://<accountId>.r2.cloudflarestorage.com when unset."
    )

    @property
    def public_host(self) -> str:
        return self.domain

    @property
    def store(self) -> str:
        return f"R2 bucket {self.bucket} of account {self.account_id}" + (
            f" at {self.endpoint_url}" if self.endpoint_url else ""
        )


class AzureBlobDidHost(_DidHostBase):
    """The ``$web`` container of a storage account's static website."""

    kind: Literal["azure-blob"]
    storage_account: Annotated[
        str, _matching(r"[a-z0-9]{3,24}", "a storage account name (3-24 lowercase letters and digits)")
    ]
    domain: HostName = Field(
        description="Host serving the static website (custom domain or <account>.<zone>.web.core.windows.net)."
    )
    account_url: HttpUrl | None = Field(
        None, description="Blob endpoint; https://<account>.blob.core.windows.net when unset."
    )

    @property
    def public_host(self) -> str:
        return self.domain

    @property
    def store(self) -> str:
        return f"the $web container of storage account {self.storage_account}" + (
            f" at {self.account_url}" if self.account_url else ""
        )


class S3DidHost(_DidHostBase):
    kind: Literal["s3"]
    bucket: Annotated[
        str,
        _matching(
            r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]", "an S3 bucket name (3-63 lowercase letters, digits, '.' and '-')"
        ),
    ]
    region: DnsLabel = "eu-central-1"
    domain: HostName | None = Field(None, description="Public host; <bucket>.s3.<region>.amazonaws.com when unset.")
    endpoint_url: HttpUrl | None = None

    @field_validator("bucket")
    @classmethod
    def _not_an_address(cls, value: str) -> str:
        if is_ip_literal(value):
            raise ValueError(f"{show(value)} is formatted as an IP address, which S3 does not allow for a bucket name")
        return value

    @model_validator(mode="after")
    def _https_name(self) -> S3DidHost:
        if self.domain is None and "." in self.bucket:
            raise ValueError(
                f"bucket: {self.bucket!r} has dots, so {self.public_host} does not match Amazon's *.s3.{self.region}."
                "amazonaws.com certificate and the DID cannot be resolved over HTTPS; set domain or use a bucket without dots"
            )
        return self

    @property
    def public_host(self) -> str:
        return self.domain or f"{self.bucket}.s3.{self.region}.amazonaws.com"

    @property
    def store(self) -> str:
        return f"S3 bucket {self.bucket}" + (f" at {self.endpoint_url}" if self.endpoint_url else "")


class LocalDidHost(_DidHostBase):
    """Files under the state directory, served by ``mvd serve`` at ``/dids/...``."""

    kind: Literal["local"]


DidHost = Annotated[CloudflareDidHost | AzureBlobDidHost | S3DidHost | LocalDidHost, Field(discriminator="kind")]


class Identity(Model):
    host: DidHost
    key_type: Literal["EC-P256", "Ed25519"] = "EC-P256"


# --- vaults -----------------------------------------------------------------------------


class LocalVault(Model):
    kind: Literal["local"] = "local"


_GUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"


class AzureKeyVault(Model):
    kind: Literal["azure-key-vault"]
    name: Annotated[
        str, _matching(r"[a-zA-Z][a-zA-Z0-9-]{1,22}[a-zA-Z0-9]", "a Key Vault name (3-24 letters, digits and '-')")
    ]
    resource_group: ResourceGroup | None = None
    vault_url: HttpUrl | None = Field(None, description="https://<name>.vault.azure.net when unset.")
    # The runtimes' managed identity (workload identity of the namespace's ServiceAccount "runtimes"):
    # infra/'s output runtime_identities. Its ServiceAccount carries them; no client secret exists.
    client_id: Annotated[str, _matching(_GUID, "a client id (a GUID)")] | None = None
    tenant_id: Annotated[str, _matching(_GUID, "a tenant id (a GUID)")] | None = None


Vault = Annotated[LocalVault | AzureKeyVault, Field(discriminator="kind")]


# --- the rest ---------------------------------------------------------------------------


# Blueprint fields that named runtime images before the runtimes were assembled in their pods.
RETIRED_IMAGE_FIELDS = ("connector", "dataPlane", "data_plane", "catalog")


class Images(Model):
    """Images the blueprint chooses. The EDC runtimes' are not among them: the project's own
    (a published JRE and Maven image; README "The runtimes on Kubernetes")."""

    @model_validator(mode="before")
    @classmethod
    def _retired(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for name in RETIRED_IMAGE_FIELDS:
                if name in data:
                    raise ValueError(
                        f"images.{name} is no longer set by a blueprint: every EDC runtime runs the project's JRE "
                        "image and assembles itself from Maven Central at start (README 'The runtimes on "
                        "Kubernetes'); remove it"
                    )
        return data

    # The EDC Data Dashboard (github.com/eclipse-edc/DataDashboard, release v0.5.0 of 2026-06-25;
    # its release workflow pushes this tag). Kubernetes only.
    connector_ui: ImageRef = "ghcr.io/eclipse-edc/data-dashboard:0.5.0"


class SeedJob(Model):
    name: DnsLabel
    image: ImageRef
    args: list[Text] = Field(default_factory=list)
    timeout_seconds: int = Field(300, ge=1, le=3600)


# The generators of mvd_core/dataspace/datasets.py: each writes one kind of plausible record.
DatasetGenerator = Literal[
    "turbine-telemetry",
    "maintenance-log",
    "laser-calibration",
    "beam-quality",
    "assembly-schedule",
    "parts-inventory",
]
MAX_DATASET_ROWS = 5000
MAX_OFFERS = 20


class DatasetOffer(Model):
    """A dataset the participant offers: an EDC asset (id = this id) whose data the control
    plane generates deterministically and serves to the participant's data plane."""

    id: DnsLabel
    title: str = Field(min_length=1, max_length=100)
    description: str = Field("", max_length=500)
    media_type: Literal["text/csv", "application/json"] = "text/csv"
    generator: DatasetGenerator
    rows: int = Field(100, ge=1, le=MAX_DATASET_ROWS)


class Participant(Model):
    id: DnsLabel
    display_name: str = Field(min_length=1, max_length=100)
    public_host: HostName | None = Field(
        None, description="Host the participant's ingress answers on; <id>.<exposure.zone> when unset."
    )
    cluster: Cluster = SimulatedCluster()
    runtimes: Runtimes
    identity: Identity
    vault: Vault = LocalVault()
    images: Images | None = Field(None, description="Overrides the dataspace's images.")
    seed_jobs: list[SeedJob] = Field(default_factory=list)
    offers: list[DatasetOffer] = Field(
        default_factory=list,
        max_length=MAX_OFFERS,
        description="Datasets the seed step creates as assets, each offered to members of the dataspace.",
    )

    @field_validator("seed_jobs")
    @classmethod
    def _seed_job_names(cls, value: list[SeedJob]) -> list[SeedJob]:
        seen: set[str] = set()
        for job in value:
            if job.name == "offers":
                raise ValueError("seed job name 'offers' is taken: the Job seed-offers creates the declared offers")
            if job.name in seen:
                raise ValueError(f"seed job name {job.name!r} is declared twice; each Job needs its own name")
            seen.add(job.name)
        return value

    @field_validator("offers")
    @classmethod
    def _unique_offer_ids(cls, value: list[DatasetOffer]) -> list[DatasetOffer]:
        seen: set[str] = set()
        for offer in value:
            if offer.id in seen:
                raise ValueError(f"dataset id {offer.id!r} is declared twice; each offer needs its own id")
            seen.add(offer.id)
        return value

    def offer(self, dataset_id: str) -> DatasetOffer | None:
        return next((o for o in self.offers if o.id == dataset_id), None)


_CRON_VALUE = r"(?:[0-9]{1,2}|[A-Za-z]{3})"
_CRON_ITEM = rf"(?:\*|{_CRON_VALUE}(?:-{_CRON_VALUE})?)(?:/[0-9]{{1,2}})?"
_CRON_FIELD = re.compile(rf"{_CRON_ITEM}(?:,{_CRON_ITEM})*")
_ZONE_NAME = re.compile(r"[A-Za-z0-9_+-]{1,64}(?:/[A-Za-z0-9_+-]{1,64}){0,3}")


def ncrontab_to_cron(ncrontab: str) -> str:
    """croniter's form (seconds last) of a six-field NCRONTAB, the subset Azure Functions'
    timer trigger reads (numbers, 3-letter names, ``*``, ranges, steps, lists); ValueError
    naming the problem otherwise."""
    fields = ncrontab.split(" ")
    if len(fields) != 6:
        raise ValueError(
            f"{show(ncrontab)} must be 6 fields separated by single spaces (sec min hour day month weekday)"
        )
    expr = " ".join(fields[1:] + fields[:1])
    try:
        if not all(_CRON_FIELD.fullmatch(f) for f in fields):
            raise CroniterError("syntax")
        croniter(expr)
    except CroniterError:
        raise ValueError(
            f"{show(ncrontab)} is not a valid NCRONTAB expression (sec 0-59, min 0-59, hour 0-23, day 1-31, "
            "month 1-12 or Jan-Dec, weekday 0-6 or Sun-Sat; '*', ranges a-b, steps /n and lists a,b)"
        ) from None
    return expr


def time_zone(name: str) -> ZoneInfo:
    """The IANA time zone ``name``; ValueError naming it when there is none."""
    if _ZONE_NAME.fullmatch(name):
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError, OSError):
            pass
    raise ValueError(f"unknown time zone {show(name)} (an IANA name such as UTC or Europe/Berlin)")


class Schedule(Model):
    reset: str = Field("0 0 0 * * *", description="NCRONTAB (sec min hour day month weekday), as Azure Functions.")
    timezone: str = "UTC"

    @field_validator("reset")
    @classmethod
    def _ncrontab(cls, value: str) -> str:
        ncrontab_to_cron(value)
        return value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        time_zone(value)
        return value

    @model_validator(mode="after")
    def _fires(self) -> Schedule:
        try:
            croniter(ncrontab_to_cron(self.reset), datetime.now(UTC).astimezone(time_zone(self.timezone))).get_next(
                datetime
            )
        except CroniterBadDateError:
            raise ValueError(f"reset: {self.reset!r} never fires (no date matches it)") from None
        return self


def did_collisions(hosts: list[tuple[str, DidHost | None]]) -> list[str]:
    """``participants[i].identity.host: ...`` for each participant (id, DID host; None when
    its host is not valid) that shares a DID, a DID document in one store, or a domain served
    from another store with an earlier one. A ``local`` host's DID carries the participant id,
    so it is unique. (The loader also calls this when other fields are wrong, so that every
    problem is reported at once.)"""
    problems: list[str] = []
    by_did: dict[str, int] = {}
    by_document: dict[tuple[str, tuple[str, ...]], int] = {}
    by_domain: dict[str, tuple[int, str]] = {}
    for i, (_, host) in enumerate(hosts):
        if host is None or isinstance(host, LocalDidHost):
            continue
        did = ":".join(["did:web", host.public_host, *host.path])  # segments are URL-safe as they are
        document = (host.store, tuple(host.path))
        domain_user, domain_store = by_domain.setdefault(host.public_host, (i, host.store))
        where = f"participants[{i}].identity.host"

        def other(j: int) -> str:
            return f"participants[{j}] ({hosts[j][0]})"

        if did in by_did:
            problems.append(
                f"{where}: publishes to the same DID as {other(by_did[did])}: {did}; "
                "each participant needs its own (another domain, or a path)"
            )
        elif document in by_document:
            key = "/".join(host.path) or "the root"
            problems.append(
                f"{where}: writes the same document as {other(by_document[document])} "
                f"({host.store}, path {key}); one upload would overwrite the other"
            )
        elif domain_store != host.store:
            problems.append(
                f"{where}: domain {host.public_host} is also {other(domain_user)}'s, which publishes "
                f"to {domain_store}; a domain is served from one place, so one of the two DIDs "
                "would not resolve"
            )
        by_did.setdefault(did, i)
        by_document.setdefault(document, i)
    return problems


# The default zone of the participants' public hosts: reserved (RFC 2606), so the declared targets refuse it.
EXAMPLE_ZONE_SUFFIX = "dataspace.example"


class Exposure(Model):
    """How the participants' public APIs are reached from outside their clusters: an Ingress per
    participant on ``<id>.<zone>`` (or its ``publicHost``), TLS from cert-manager's ClusterIssuer."""

    zone: HostName | None = Field(
        None, description=f"DNS zone of the public hosts; <dataspace>.{EXAMPLE_ZONE_SUFFIX} (a placeholder) when unset."
    )
    ingress_class: DnsLabel = Field("nginx", description="IngressClass of the cluster's ingress controller.")
    ingress_namespace: DnsLabel = Field(
        "ingress-nginx", description="Namespace of the ingress controller's pods (NetworkPolicy lets only them in)."
    )
    cluster_issuer: DnsLabel = Field("letsencrypt", description="cert-manager ClusterIssuer that signs the hosts.")


class Dataspace(Model):
    api_version: Literal["mvd/v1"] = "mvd/v1"
    kind: Literal["Dataspace"] = "Dataspace"
    name: DnsLabel
    display_name: str | None = None
    schedule: Schedule = Schedule()
    exposure: Exposure = Exposure()
    images: Images = Images()
    participants: list[Participant] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_ids(self) -> Dataspace:
        seen: set[str] = set()
        for p in self.participants:
            if p.id == ISSUER_ID:
                raise ValueError(
                    f"participants: id {ISSUER_ID!r} is reserved: the dataspace issuer's key and DID "
                    f"(/dids/{ISSUER_ID}/did.json) go by it"
                )
            if p.id in seen:
                raise ValueError(f"participants: id {p.id!r} is declared twice")
            seen.add(p.id)
        return self

    @model_validator(mode="after")
    def _a_did_each(self) -> Dataspace:
        problems = did_collisions([(p.id, p.identity.host) for p in self.participants])
        if problems:
            raise ValueError("\n".join(problems))
        return self

    def participant(self, participant_id: str) -> Participant:
        for p in self.participants:
            if p.id == participant_id:
                return p
        known = ", ".join(p.id for p in self.participants)
        raise NotFound(f"unknown participant {participant_id!r} (known: {known})")

    def images_for(self, participant: Participant) -> Images:
        return participant.images or self.images

    def public_zone(self) -> str:
        return self.exposure.zone or f"{self.name}.{EXAMPLE_ZONE_SUFFIX}"

    def public_host_for(self, participant: Participant) -> str:
        return participant.public_host or f"{participant.id}.{self.public_zone()}"
