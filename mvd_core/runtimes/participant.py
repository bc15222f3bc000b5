"""A participant's EDC runtimes as RuntimeSpecs, from the dataspace model and allocated ports.

Per participant (the mapping the README documents under "EDC runtimes"):

- ``identityhub``: the identity hub of the seed's ``identityHub: embedded``. EDC 0.15.1 cannot
  run it inside the connector's runtime (both classpaths together boot, then fail with
  "SingleParticipantContextConfigStore is read-only"), so it is the participant's own runtime;
- ``connector``: control plane with DSP, DCP, management API, the embedded data-plane selector,
  in-memory stores and the federated-catalog crawler, which runs only when ``embeddedCatalog``;
- ``dataplane-<i>`` for each of ``dataPlane.replicas``: registers itself with the connector;
- ``catalog`` when a standalone catalog is declared: crawls with the participant's identity.

The connector UI is a container image for Kubernetes only; no process runs it.

Every setting is an EDC key that the assembled modules declare (tests/runtimes check this
against the class files); secrets appear only as vault aliases.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping
from pathlib import PurePath
from typing import Final

from mvd_core.dataspace.models import Participant
from mvd_core.errors import MvdError
from mvd_core.identity.keys import secret_name
from mvd_core.runtimes.kinds import RuntimeKind
from mvd_core.runtimes.spec import ApiEndpoint, RuntimeSpec

# Vault aliases (file names in the local vault, secret names in Key Vault): all match
# [A-Za-z0-9-]{1,127}, the rule every secret store of the control plane enforces.
MANAGEMENT_API_KEY: Final = "management-api-key"
STS_CLIENT_SECRET: Final = "sts-client-secret"
IDENTITY_HUB_SUPERUSER_KEY: Final = "ih-superuser-apikey"
IDENTITY_HUB_PARTICIPANT_KEY: Final = "ih-participant-apikey"
DATAPLANE_TOKEN_PRIVATE_KEY: Final = "dataplane-token-private-key"
DATAPLANE_TOKEN_PUBLIC_KEY: Final = "dataplane-token-public-key"

# DCP scope every outgoing DSP request asks the counter-party's identity hub for.
MEMBERSHIP_SCOPE: Final = "org.eclipse.edc.vc.type:MembershipCredential:read"
DSP_VERSION_PATH: Final = "/2025-1"

# The web contexts of each kind and their paths. EDC 0.15.1 serves its version API on the
# management context and the standalone catalog has neither management nor control context,
# so no runtime gets a "version" port and the catalog gets no management or control port.
API_PATHS: Final[Mapping[RuntimeKind, Mapping[str, str]]] = {
    "identityhub": {
        "default": "/api",
        "credentials": "/api/credentials",
        "identity": "/api/identity",
        "did": "/",
        "sts": "/api/sts",
    },
    "connector": {
        "default": "/api",
        "management": "/api/management",
        "protocol": "/api/dsp",
        "control": "/api/control",
        "catalog": "/api/catalog",
    },
    "dataplane": {"default": "/api", "control": "/api/control", "public": "/api/public"},
    "catalog": {"default": "/api", "catalog": "/api/catalog", "protocol": "/api/dsp"},
}


def api_path(kind: RuntimeKind, runtime: str, api: str) -> str:
    """The path of one of a runtime's APIs. A data plane's public API is under its own name
    (``/api/public/dataplane-0``): behind one Ingress host each replica keeps its own route, so an
    EDR (whose token only the replica that issued it knows) leads back to that replica."""
    if kind == "dataplane" and api == "public":
        return f"{API_PATHS[kind][api]}/{runtime}"
    return API_PATHS[kind][api]


# -Xmx per runtime: measured RSS is 120-170 MiB each with this heap limit (2-core machine).
HEAP_MB: Final[Mapping[RuntimeKind, int]] = {"identityhub": 320, "connector": 320, "dataplane": 320, "catalog": 320}
# The crawler's first run and its period, in seconds.
CRAWLER_DELAY: Final = "3"
CRAWLER_PERIOD: Final = "10"
# How long a connector and a standalone catalog keep the issuer's status list when they verify a
# presentation (ms; EDC's default is 15 min): a revoked credential is refused within this, not at
# the next quarter hour. (The identity hub 0.15.1 does not check its own credentials' status: its
# revocation registry has no service for the type, it logs so.)
REVOCATION_CACHE_MS: Final = "2000"

# (runtime name, API name) -> port; or the same as a mapping runtime name -> API name -> port.
PortSource = Callable[[str, str], int] | Mapping[str, Mapping[str, int]]
# runtime name -> the host its APIs answer on (``localhost`` for processes on this machine).
HostSource = Callable[[str], str]
# (runtime name, API name) -> the URL others reach that API at, or None where that is the runtime's own URL.
PublicUrls = Callable[[str, str], "str | None"]


def local_host(_runtime: str) -> str:
    return "localhost"


def no_public_urls(_runtime: str, _api: str) -> str | None:
    return None


def context_id(did: str) -> str:
    """The identity hub's URL form of a participant context id (the DID): base64url, no padding."""
    return base64.urlsafe_b64encode(did.encode()).rstrip(b"=").decode()


def runtime_layout(participant: Participant) -> dict[str, RuntimeKind]:
    """The participant's runtimes, name -> kind, in start order."""
    layout: dict[str, RuntimeKind] = {"identityhub": "identityhub", "connector": "connector"}
    for index in range(participant.runtimes.data_plane.replicas):
        layout[f"dataplane-{index}"] = "dataplane"
    if participant.runtimes.catalog is not None:
        layout["catalog"] = "catalog"
    return layout


def required_ports(participant: Participant) -> dict[str, tuple[str, ...]]:
    """Runtime name -> the names of the APIs it needs a port for (what a platform allocates)."""
    return {name: tuple(API_PATHS[kind]) for name, kind in runtime_layout(participant).items()}


def _port_lookup(ports: PortSource) -> Callable[[str, str], int]:
    if callable(ports):
        return ports

    def lookup(runtime: str, api: str) -> int:
        try:
            return ports[runtime][api]
        except KeyError:
            raise MvdError(f"no port allocated for the {api} API of runtime {runtime}") from None

    return lookup


def _web(apis: Mapping[str, ApiEndpoint]) -> dict[str, str]:
    settings: dict[str, str] = {}
    for name, endpoint in apis.items():
        prefix = "web.http" if name == "default" else f"web.http.{name}"
        settings[f"{prefix}.port"] = str(endpoint.port)
        settings[f"{prefix}.path"] = endpoint.path
    return settings


def participant_runtimes(
    participant: Participant,
    *,
    did: str,
    issuer_did: str,
    participant_list_url: str,
    vault_path: PurePath,
    ports: PortSource,
    hosts: HostSource = local_host,
    public_urls: PublicUrls = no_public_urls,
    did_web_https: bool = False,
) -> list[RuntimeSpec]:
    """The participant's RuntimeSpecs in start order.

    ``did`` is the participant's DID (its ``edc.participant.id``), ``issuer_did`` the dataspace
    issuer every connector trusts, ``participant_list_url`` the JSON list of DSP endpoints the
    catalog crawler reads, ``vault_path`` the participant's file vault shared by its runtimes,
    ``ports`` the ports the platform allocated (see :func:`required_ports`), ``hosts`` the host
    each runtime answers on (its own settings and the URLs the others are given),
    ``public_urls`` where others reach an API from outside (the connector's DSP callback address).
    """
    port = _port_lookup(ports)
    layout = runtime_layout(participant)
    apis = {
        name: {
            api: ApiEndpoint(name=api, port=port(name, api), path=api_path(kind, name, api)) for api in API_PATHS[kind]
        }
        for name, kind in layout.items()
    }
    seen: dict[tuple[str, int], str] = {}
    for name, endpoints in apis.items():
        for api, endpoint in endpoints.items():
            other = seen.setdefault((hosts(name), endpoint.port), f"{name}/{api}")
            if other != f"{name}/{api}":
                raise MvdError(
                    f"participant {participant.id}: port {endpoint.port} is allocated to both {other} and {name}/{api}"
                )

    def url(name: str, api: str) -> str:
        endpoint = apis[name][api]
        return f"http://{hosts(name)}:{endpoint.port}{endpoint.path}"

    def base(name: str) -> dict[str, str]:
        return {
            "edc.hostname": hosts(name),
            "edc.component.id": f"{participant.id}-{name}",
            "edc.vault.file.path": str(vault_path),
            **_web(apis[name]),
        }

    did_web = {"edc.iam.did.web.use.https": "true" if did_web_https else "false"}
    # What the connector and the standalone catalog share: DCP identity (via the identity hub's
    # STS), trust in the dataspace issuer, the membership policy and the crawler's node list.
    dcp = {
        "edc.participant.id": did,
        "edc.iam.issuer.id": did,
        **did_web,
        "edc.iam.sts.oauth.token.url": url("identityhub", "sts") + "/token",
        "edc.iam.sts.oauth.client.id": did,
        "edc.iam.sts.oauth.client.secret.alias": STS_CLIENT_SECRET,
        "edc.iam.trusted-issuer.dataspace.id": issuer_did,
        "edc.membership.issuers": issuer_did,
        "edc.dcp.default.scopes": MEMBERSHIP_SCOPE,
        "edc.catalog.nodes.url": participant_list_url,
        "edc.catalog.cache.execution.delay.seconds": CRAWLER_DELAY,
        "edc.catalog.cache.execution.period.seconds": CRAWLER_PERIOD,
        "edc.iam.credential.revocation.cache.validity": REVOCATION_CACHE_MS,
    }
    sts_secret = {
        STS_CLIENT_SECRET: "STS client secret (written by the identity hub when the participant context is created)"
    }

    def spec(name: str, settings: dict[str, str], secrets: dict[str, str], start_after: list[str]) -> RuntimeSpec:
        kind = layout[name]
        return RuntimeSpec(
            participant=participant.id,
            name=name,
            kind=kind,
            settings=settings,
            apis=apis[name],
            secrets=secrets,
            heap_mb=HEAP_MB[kind],
            start_after=start_after,
        )

    specs = [
        spec(
            "identityhub",
            {**base("identityhub"), **did_web, "edc.ih.superuser.key.alias": IDENTITY_HUB_SUPERUSER_KEY},
            {
                secret_name(
                    participant.id
                ): "the participant's DID signing key (private JWK), used by the STS and for presentations",
                IDENTITY_HUB_SUPERUSER_KEY: "identity API key of the identity hub's admin (super-user)",
                IDENTITY_HUB_PARTICIPANT_KEY: "identity API key of the participant's own context (written by the identity hub)",
                **sts_secret,
            },
            [],
        ),
        spec(
            "connector",
            {
                **base("connector"),
                **dcp,
                "edc.dsp.callback.address": public_urls("connector", "protocol") or url("connector", "protocol"),
                "edc.management.context.enabled": "true",
                "web.http.management.auth.type": "tokenbased",
                "web.http.management.auth.key.alias": MANAGEMENT_API_KEY,
                "edc.catalog.cache.execution.enabled": "true"
                if participant.runtimes.connector.embedded_catalog
                else "false",
            },
            {MANAGEMENT_API_KEY: "management API key (header X-Api-Key)", **sts_secret},
            [],
        ),
    ]
    for name, kind in layout.items():
        if kind == "dataplane":
            specs.append(
                spec(
                    name,
                    {
                        **base(name),
                        "edc.participant.id": did,
                        "edc.dpf.selector.url": url("connector", "control") + "/v1/dataplanes",
                        # what the EDRs this replica issues name as their endpoint: its own route
                        "edc.dataplane.api.public.baseurl": public_urls(name, "public") or url(name, "public"),
                        "edc.transfer.proxy.token.signer.privatekey.alias": DATAPLANE_TOKEN_PRIVATE_KEY,
                        "edc.transfer.proxy.token.verifier.publickey.alias": DATAPLANE_TOKEN_PUBLIC_KEY,
                    },
                    {
                        DATAPLANE_TOKEN_PRIVATE_KEY: "private key (PEM) signing the EDR access tokens",
                        DATAPLANE_TOKEN_PUBLIC_KEY: "public key (PEM) verifying the EDR access tokens",
                    },
                    ["connector"],  # self-registration at boot fails unless its control plane answers
                )
            )
    if "catalog" in layout:
        specs.append(
            spec(
                "catalog",
                {**base("catalog"), **dcp, "edc.dsp.callback.address": url("catalog", "protocol")},
                dict(sts_secret),
                ["identityhub", "connector"],  # crawls with the participant's identity from the start
            )
        )
    return specs
