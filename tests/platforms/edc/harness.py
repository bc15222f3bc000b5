"""One participant's real EDC runtimes (identity hub, connector, data plane) from the project's
Maven assembly and runtime specs (``mvd_core.runtimes``), with the dataspace issuer and the
did:web documents served by a loopback "site" (the test's DID host), wired as the control plane
does it: keys made by ``mvd_core.identity.keys`` in the participant's file vault.

The runtimes run on the ``processes`` platform (ports, settings files, logs and records under the
test's own state directory), which stops them at the end.
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mvd_core.dataspace import load
from mvd_core.identity import keys
from mvd_core.identity.didweb import did_from_host_and_path
from mvd_core.identity.document import build_did_document
from mvd_core.identity.issuer import Issuer
from mvd_core.platforms.processes import JavaCommand, ProcessPlatform
from mvd_core.platforms.secrets.local import LocalFileVault
from mvd_core.runtimes.participant import (
    DATAPLANE_TOKEN_PRIVATE_KEY,
    DATAPLANE_TOKEN_PUBLIC_KEY,
    IDENTITY_HUB_PARTICIPANT_KEY,
    IDENTITY_HUB_SUPERUSER_KEY,
    MANAGEMENT_API_KEY,
    STS_CLIENT_SECRET,
    participant_runtimes,
    required_ports,
)
from tests.fixtures.loopback import QuietHandler, serve

PARTICIPANT = "space-enforcer"
DSP = "/2025-1"
ASSET_BYTES = b"hello from a real EDC data plane\n"


@dataclass
class Site:
    """The loopback site: DID documents, the issuer's DCP endpoint, the participant list, a data file."""

    url: str = ""
    documents: dict[str, dict[str, Any]] = field(default_factory=dict)
    posts: dict[str, Callable[[dict[str, str], bytes], tuple[int, bytes, dict[str, str]]]] = field(default_factory=dict)
    json_pages: dict[str, Any] = field(default_factory=dict)

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])


@dataclass
class Participant:
    name: str
    did: str
    jwk: dict[str, Any]  # public
    key_alias: str  # the vault secret holding its private JWK
    sts_alias: str
    api_key_alias: str


class MiniDataspace:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.platform: ProcessPlatform | None = None
        self.site = Site()
        self.vault = LocalFileVault(root / "vault")  # shared by the participant's runtimes, as in a deployment
        self._serving = None
        self.issued: list[str] = []

    # ---------------------------------------------------------------- site
    def _start_site(self) -> None:
        site = self.site

        class Handler(QuietHandler):
            def do_GET(self) -> None:
                path = self.path.split("?")[0]
                if path in site.documents:
                    return self.send(
                        200, json.dumps(site.documents[path]).encode(), {"Content-Type": "application/did+json"}
                    )
                if path in site.json_pages:
                    return self.send(
                        200, json.dumps(site.json_pages[path]).encode(), {"Content-Type": "application/json"}
                    )
                if path == "/data/asset.txt":
                    return self.send(200, ASSET_BYTES, {"Content-Type": "text/plain"})
                return self.send(404)

            def do_POST(self) -> None:
                handler = site.posts.get(self.path.split("?")[0])
                body = self.read_body()
                if handler is None:
                    return self.send(404)
                status, out, headers = handler(dict(self.headers), body)
                return self.send(status, out, headers)

        self._serving = serve(Handler)
        site.url = self._serving.__enter__()

    def wait_ready(self, names: list[str], timeout: float = 240.0) -> None:
        """Until the processes platform reports each of ``names`` ready (a failed one fails at once)."""
        deadline = time.monotonic() + timeout
        while True:
            states = {state.name: state for state in self.platform.status(PARTICIPANT)}
            failed = [states[n] for n in names if n in states and states[n].state == "failed"]
            if failed:
                raise AssertionError(f"{failed[0].name} failed: {failed[0].detail}\n" + "\n".join(failed[0].log_tail))
            if all(n in states and states[n].state == "ready" for n in names):
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"not ready after {timeout:g} s: {[(n, states.get(n)) for n in names]}")
            self.platform.advance(PARTICIPANT)  # starts the data plane once its connector is ready
            threading.Event().wait(0.25)

    def start(self, *, members: Callable[[str], bool], argfiles: Mapping[str, Path]) -> None:
        """Participant A is the seed's ``space-enforcer`` (identity hub, connector with the embedded
        crawler, one data plane); C is a second context in A's identity hub, with no connector."""
        self._start_site()
        seed = next(p for p in load(None).participants if p.id == PARTICIPANT)
        self.platform = ProcessPlatform(self.root / "home", command=JavaCommand(argfiles), stop_grace=20)
        self.did_a = did_from_host_and_path("localhost", self.site.port, ["a"])
        self.did_c = did_from_host_and_path("localhost", self.site.port, ["c"])  # no credential: not a member
        self.issuer_did = did_from_host_and_path("localhost", self.site.port, ["issuer"])
        specs = participant_runtimes(
            seed,
            did=self.did_a,
            issuer_did=self.issuer_did,
            participant_list_url=f"{self.site.url}/participants.json",
            vault_path=self.vault.root,
            ports=self.platform.allocate_ports(PARTICIPANT, required_ports(seed)),
        )
        by_name = {spec.name: spec for spec in specs}
        self.ih, self.connector, self.dp = by_name["identityhub"], by_name["connector"], by_name["dataplane-0"]
        dsp = self.connector.url("protocol")
        # secrets the control plane writes before the runtimes start
        self.superuser_key = base64.b64encode(b"super-user").decode() + "." + secrets.token_urlsafe(24)
        self.vault.set(IDENTITY_HUB_SUPERUSER_KEY, self.superuser_key)
        self.vault.set(MANAGEMENT_API_KEY, secrets.token_urlsafe(24))
        self._dataplane_keys()
        self.participants = {}
        for name, owner, did, sts_alias, api_key_alias in (
            ("a", seed.id, self.did_a, STS_CLIENT_SECRET, IDENTITY_HUB_PARTICIPANT_KEY),
            ("c", "c", self.did_c, "c-sts-client-secret", "c-ih-apikey"),
        ):
            jwk = keys.ensure_participant_key(self.vault, owner, "EC-P256")
            ctx = base64.urlsafe_b64encode(did.encode()).rstrip(b"=").decode()
            self.site.documents[f"/{name}/did.json"] = build_did_document(
                did,
                jwk,
                credential_service_url=f"{self.ih.url('credentials')}/v1/participants/{ctx}",
                protocol_url=dsp + DSP,
            )
            self.participants[name] = Participant(name, did, jwk, keys.secret_name(owner), sts_alias, api_key_alias)
        self.site.json_pages["/participants.json"] = [
            {"name": "a", "id": self.did_a, "url": dsp + DSP, "supportedProtocols": ["dataspace-protocol-http:2025-1"]}
        ]
        self.issuer = Issuer(
            LocalFileVault(self.root / "issuer-vault"),
            self.issuer_did,
            f"{self.site.url}/issuer/dcp",
            members,
            resolve_options={"allow_http_loopback": True, "allow_private": True},
        )
        self.site.documents["/issuer/did.json"] = self.issuer.did_document()

        def issue(headers: dict[str, str], body: bytes) -> tuple[int, bytes, dict[str, str]]:
            answer = self.issuer.handle_credential_request(headers, body)
            if answer.job is not None:
                job = answer.job
                threading.Thread(
                    target=lambda: self.issued.append(job.holder_did) if job.run().delivered else None, daemon=True
                ).start()
            return answer.status, answer.body, answer.headers

        self.site.posts["/issuer/dcp/credentials"] = issue
        started = self.platform.apply(specs)  # the data plane waits for its connector (start_after)
        assert started.started == ["identityhub", "connector"] and started.waiting == ["dataplane-0"], started
        self.wait_ready(["identityhub", "connector"])

    def _dataplane_keys(self) -> None:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import ec

        key = ec.generate_private_key(ec.SECP256R1())
        self.vault.set(
            DATAPLANE_TOKEN_PRIVATE_KEY,
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            ).decode(),
        )
        self.vault.set(
            DATAPLANE_TOKEN_PUBLIC_KEY,
            key.public_key()
            .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
            .decode(),
        )

    def stop(self) -> None:
        if self.platform is not None:
            self.platform.stop(PARTICIPANT)
        if self._serving is not None:
            self._serving.__exit__(None, None, None)
