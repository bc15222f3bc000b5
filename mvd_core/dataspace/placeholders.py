"""What an operator must fill in before the declared targets deploy a blueprint.

The packaged blueprint runs as it is on the embedded and simulated targets, but what it names
for the declared ones is made up: hosts under reserved names (``.example``), a Cloudflare
account and zone that do not exist, and globally unique names (Key Vaults, storage accounts,
S3 buckets) that anyone may hold. The declared targets refuse each with the field to fill in,
before anything is rendered or created.
"""

from __future__ import annotations

import ipaddress
import re
from functools import cache
from pathlib import Path
from typing import Final
from urllib.parse import urlsplit

from mvd_core.dataspace.loader import DEFAULT_NAME, BlueprintError, Problem, load
from mvd_core.dataspace.models import (
    AksCluster,
    AzureBlobDidHost,
    AzureKeyVault,
    CloudflareDidHost,
    Dataspace,
    S3DidHost,
)

# Names reserved so that they never resolve on the internet (RFC 2606, RFC 6761).
RESERVED_SUFFIXES: Final = (".example", ".test", ".invalid", ".localhost", ".local")
RESERVED_DOMAINS: Final = ("example.com", "example.net", "example.org")
# What Cloudflare's dashboard shows as an account id and a zone id (Overview, API section).
_CLOUDFLARE_ID = re.compile(r"[0-9a-f]{32}")


def is_reserved_host(host: str) -> bool:
    """Whether ``host`` is a name that never resolves on the internet (``x.example``, ``example.com``)."""
    name = host.lower().rstrip(".")
    return name.endswith(RESERVED_SUFFIXES) or any(name == d or name.endswith("." + d) for d in RESERVED_DOMAINS)


@cache
def _packaged_global_names() -> frozenset[tuple[str, str]]:
    """(kind, name) of every globally unique name the packaged blueprint uses as an example."""
    names: set[tuple[str, str]] = set()
    for p in load().participants:
        names |= _global_names(p.vault, p.identity.host)
    return frozenset(names)


def _global_names(vault: object, host: object) -> set[tuple[str, str]]:
    names: set[tuple[str, str]] = set()
    if isinstance(vault, AzureKeyVault):
        names.add(("Key Vault", vault.name))
    if isinstance(host, AzureBlobDidHost):
        names.add(("storage account", host.storage_account))
    if isinstance(host, S3DidHost):
        names.add(("S3 bucket", host.bucket))
    return names


def placeholder_problems(dataspace: Dataspace) -> list[Problem]:
    """Every field the declared targets cannot use as it is, with what to fill in."""
    problems: list[Problem] = []
    packaged = _packaged_global_names()
    zone = dataspace.public_zone()
    if is_reserved_host(zone) and any(p.public_host is None for p in dataspace.participants):
        problems.append(
            Problem(
                "exposure.zone",
                f"{zone!r} is a placeholder (a reserved name that never resolves); set the DNS zone whose "
                "records point at the participants' ingress (public hosts are <id>.<zone>), or each publicHost",
            )
        )
    for i, p in enumerate(dataspace.participants):
        where = f"participants[{i}]"
        if p.public_host is not None and is_reserved_host(p.public_host):
            problems.append(
                Problem(f"{where}.publicHost", f"{p.public_host!r} is a placeholder; set a host in your DNS zone")
            )
        host = p.identity.host
        domain = getattr(host, "domain", None)
        if isinstance(domain, str) and is_reserved_host(domain):
            problems.append(
                Problem(
                    f"{where}.identity.host.domain",
                    f"{domain!r} is a placeholder; set the domain that serves the participant's DID document",
                )
            )
        if isinstance(host, CloudflareDidHost):
            for field, value in (("accountId", host.account_id), ("zoneId", host.zone_id)):
                if not _CLOUDFLARE_ID.fullmatch(value):
                    problems.append(
                        Problem(
                            f"{where}.identity.host.{field}",
                            f"{value!r} is not a Cloudflare id (32 hex digits, shown on the zone's Overview page); "
                            "set your account's and the domain's zone's",
                        )
                    )
        # on an AKS cluster the control plane creates, it makes the identity itself (its cluster step)
        vault = p.vault
        if (
            isinstance(vault, AzureKeyVault)
            and not isinstance(p.cluster, AksCluster)
            and (vault.client_id is None or vault.tenant_id is None)
        ):
            problems.append(
                Problem(
                    f"{where}.vault.clientId",
                    "the runtimes read the Key Vault with workload identity, on a cluster the control plane does not "
                    "create: set vault.clientId and vault.tenantId to the managed identity's that the cluster's "
                    'service account runtimes is federated with (README "Run on a real cluster")',
                )
            )
        for kind, name in sorted(_global_names(p.vault, host) & packaged):
            field = {
                "Key Vault": "vault.name",
                "storage account": "identity.host.storageAccount",
                "S3 bucket": "identity.host.bucket",
            }[kind]
            problems.append(
                Problem(
                    f"{where}.{field}",
                    f"{name!r} is the packaged blueprint's example; {kind} names are global, so choose one of your own",
                )
            )
    return problems


def control_plane_problems(base_url: str) -> list[Problem]:
    """The control plane's public URL as the declared targets need it: the runtimes on the
    clusters resolve the issuer's did:web there, crawl the participant list and fetch the
    seeded data, so it must be an https address others reach, not this machine's listener."""
    parts = urlsplit(base_url)
    host = (parts.hostname or "").lower()
    local = host in ("localhost", "") or host.endswith(".localhost") or _is_local_address(host)
    if parts.scheme == "https" and not local and not is_reserved_host(host):
        return []
    return [
        Problem(
            "MVD_PUBLIC_URL",
            f"{base_url!r} is not reachable from the clusters (the issuer's DID, the participant list and the "
            "seeded data are served there); set MVD_PUBLIC_URL to the control plane's public https URL",
        )
    ]


def _is_local_address(host: str) -> bool:
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_loopback or address.is_private or address.is_link_local or address.is_unspecified


def refuse_placeholders(dataspace: Dataspace, file: Path | None, base_url: str | None = None) -> None:
    """Raise a BlueprintError listing every placeholder the declared targets cannot deploy
    (``file``: the blueprint's path, None for the packaged one; ``base_url``: the control plane's
    public URL, checked when given)."""
    problems = placeholder_problems(dataspace)
    if base_url is not None:
        problems += control_plane_problems(base_url)
    if problems:
        source = str(file) if file is not None else f"(default) {DEFAULT_NAME}"
        raise BlueprintError(f"{source} (declared targets)", problems)
