"""did:web identifiers <-> HTTPS URLs, by the W3C CCG did:web method specification.

``did:web:example.com`` -> ``https://example.com/.well-known/did.json``
``did:web:example.com%3A8443:user:alice`` -> ``https://example.com:8443/user/alice/did.json``
"""

from __future__ import annotations

import re
from urllib.parse import quote, unquote, urlsplit

from mvd_core.blueprint.models import (
    AzureBlobDidHost,
    CloudflareDidHost,
    DidHost,
    LocalDidHost,
    S3DidHost,
)
from mvd_core.errors import MvdError

_SEGMENT = re.compile(r"^[A-Za-z0-9._~%-]+$")


class InvalidDid(MvdError):
    status = 400


def did_from_host_and_path(host: str, port: int | None = None, path: list[str] | tuple[str, ...] = ()) -> str:
    """Build a did:web from a host, optional port (encoded as %3A) and path segments."""
    authority = host.lower() + (f"%3A{port}" if port else "")
    return ":".join(["did", "web", authority, *(quote(seg, safe="") for seg in path)])


def did_to_url(did: str, *, scheme: str = "https") -> str:
    """The URL of a did:web's DID document. Raises ``InvalidDid`` naming the problem."""
    if not isinstance(did, str) or not did.startswith("did:web:"):
        raise InvalidDid(f"{did!r} is not a did:web DID (it must start with 'did:web:')")
    if len(did) > 2048:
        raise InvalidDid("DID is longer than 2048 characters")
    if any(c in did for c in "/?#") or any(ord(c) < 0x21 or ord(c) > 0x7E for c in did):
        raise InvalidDid(f"{did!r} contains characters not allowed in a did:web method-specific id")
    parts = did[len("did:web:"):].split(":")
    authority = unquote(parts[0])
    if not authority:
        raise InvalidDid(f"{did!r} has an empty host")
    for seg in parts[1:]:
        if not seg or not _SEGMENT.match(seg) or unquote(seg) in (".", ".."):
            raise InvalidDid(f"{did!r} has an invalid path segment {seg!r}")
    split = urlsplit(f"//{authority}")
    try:
        host, port = split.hostname, split.port
    except ValueError:
        raise InvalidDid(f"{did!r} has an invalid port") from None
    if not host or split.username or split.password or split.path:
        raise InvalidDid(f"{did!r} has an invalid host {authority!r}")
    netloc = host + (f":{port}" if port else "")
    if len(parts) == 1:
        return f"{scheme}://{netloc}/.well-known/did.json"
    return f"{scheme}://{netloc}/" + "/".join(parts[1:]) + "/did.json"


def document_path(path: list[str] | tuple[str, ...]) -> str:
    """The object key of did.json inside a host's bucket/container/directory."""
    return "/".join([*path, "did.json"]) if path else ".well-known/did.json"


def public_host(host: DidHost) -> str:
    """The DNS name a did:web on this host carries (for ``local``, see ``did_for``)."""
    match host:
        case CloudflareDidHost() | AzureBlobDidHost():
            return host.domain
        case S3DidHost():
            return host.public_host
        case LocalDidHost():
            raise MvdError("a local DID host has no public name of its own; pass the server's base URL")
    raise MvdError(f"unknown DID host kind {host!r}")  # pragma: no cover


def did_for(host: DidHost, participant_id: str, *, local_base_url: str | None = None) -> str:
    """The participant's DID on its host.

    A ``local`` host serves documents at ``<base>/dids/<participant-id>/[path/]did.json``,
    so its DID is ``did:web:<host>%3A<port>:dids:<participant-id>[:path...]`` (``localhost``
    for a loopback base URL).
    """
    if isinstance(host, LocalDidHost):
        split = urlsplit(local_base_url or "http://127.0.0.1:7080")
        name = split.hostname or "127.0.0.1"
        # did:web forbids IP addresses; a loopback address is named "localhost" instead
        if name in ("127.0.0.1", "::1", "0.0.0.0"):
            name = "localhost"
        return did_from_host_and_path(name, split.port, ["dids", participant_id, *host.path])
    return did_from_host_and_path(public_host(host), None, host.path)
