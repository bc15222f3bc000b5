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
import random
import secrets
import threading
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mvd_core.dataspace import load
from mvd_core.identity import keys
from mvd_core.identity.didweb import did_from_host_and_path
from mvd_core.identity.document import build_did_document
from mvd_core.identity.issuer import STATUS_PATH, Issuer
from mvd_core.identity.statuslist import StatusList
from mvd_core.platforms.edc import (
    DSP_PROTOCOL,
    CredentialRequestItem,
    IdentityHub,
    ManagementApi,
)
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
from mvd_core.runtimes.spec import RuntimeSpec
from mvd_core.workflow.runtimes import context_id, participant_manifest
from tests.fixtures.loopback import QuietHandler, serve

PARTICIPANT = "space-enforcer"
DSP = "/2025-1"
ASSET_BYTES = b"hello from a real EDC data plane\n"
# What the provider of the shared two-member dataspace (conftest.py) offers, its only asset
SHARED_DATASET = "laser-calibration-records"
SHARED_DATA = random.Random(13).randbytes(300_000)  # larger than one buffer: streamed, not one read


def read_chunked(handler: QuietHandler) -> bytes:
    """A request body sent with ``Transfer-Encoding: chunked`` (how EDC's data plane pushes)."""
    body = b""
    while True:
        size = int(handler.rfile.readline().split(b";")[0].strip(), 16)
        if size == 0:
            while handler.rfile.readline() not in (b"\r\n", b"\n", b""):  # trailers
                pass
            return body
        body += handler.rfile.read(size)
        handler.rfile.readline()


@dataclass
class Site:
    """The loopback site: DID documents, the issuer's DCP endpoint, the participant list, a data file."""

    url: str = ""
    documents: dict[str, dict[str, Any]] = field(default_factory=dict)
    posts: dict[str, Callable[[dict[str, str], bytes], tuple[int, bytes, dict[str, str]]]] = field(default_factory=dict)
    json_pages: dict[str, Any] = field(default_factory=dict)
    # GET path -> handler(headers) answering (status, body, headers): pages that change (a status list)
    gets: dict[str, Callable[[dict[str, str]], tuple[int, bytes, dict[str, str]]]] = field(default_factory=dict)
    fetched: list[str] = field(default_factory=list)  # paths of each ``gets`` GET
    files: dict[str, bytes] = field(default_factory=dict)  # GET path -> bytes (an asset's HttpData source)
    served: list[tuple[str, dict[str, str]]] = field(default_factory=list)  # (path, headers) of each file GET

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
                if path in site.gets:
                    site.fetched.append(path)
                    status, body, headers = site.gets[path](dict(self.headers))
                    return self.send(status, body, headers)
                if path == "/data/asset.txt":
                    return self.send(200, ASSET_BYTES, {"Content-Type": "text/plain"})
                if path in site.files:
                    site.served.append((path, dict(self.headers)))
                    return self.send(200, site.files[path], {"Content-Type": "application/octet-stream"})
                return self.send(404)

            def do_POST(self) -> None:
                handler = site.posts.get(self.path.split("?")[0])
                body = (
                    read_chunked(self) if "chunked" in self.headers.get("Transfer-Encoding", "") else self.read_body()
                )
                if handler is None:
                    return self.send(404)
                status, out, headers = handler(dict(self.headers), body)
                return self.send(status, out, headers)

        self._serving = serve(Handler)
        site.url = self._serving.__enter__()

    def wait_ready(self, names: list[str], timeout: float = 240.0, participant: str = PARTICIPANT) -> None:
        """Until the processes platform reports each of ``names`` ready (a failed one fails at once)."""
        deadline = time.monotonic() + timeout
        while True:
            states = {state.name: state for state in self.platform.status(participant)}
            failed = [states[n] for n in names if n in states and states[n].state == "failed"]
            if failed:
                raise AssertionError(f"{failed[0].name} failed: {failed[0].detail}\n" + "\n".join(failed[0].log_tail))
            if all(n in states and states[n].state == "ready" for n in names):
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"not ready after {timeout:g} s: {[(n, states.get(n)) for n in names]}")
            self.platform.advance(participant)  # starts the data plane once its connector is ready
            threading.Event().wait(0.25)

    def start(self, *, members: Callable[[], Collection[str]], argfiles: Mapping[str, Path]) -> None:
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
        self._dataplane_keys(self.vault)
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

    def _dataplane_keys(self, vault: LocalFileVault) -> None:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import ec

        key = ec.generate_private_key(ec.SECP256R1())
        vault.set(
            DATAPLANE_TOKEN_PRIVATE_KEY,
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            ).decode(),
        )
        vault.set(
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


@dataclass
class Member:
    """One seed participant's runtimes with its own vault and identity hub, enrolled as a member."""

    id: str  # the seed participant id
    did: str
    vault: LocalFileVault
    specs: dict[str, RuntimeSpec]
    superuser_key: str
    management_key: str

    @property
    def protocol_url(self) -> str:
        return self.specs["connector"].url("protocol") + DSP

    def management(self) -> ManagementApi:
        return ManagementApi(
            self.specs["connector"].url("management"), runtime=f"{self.id}/connector", api_key=self.management_key
        )


class TwoMembers(MiniDataspace):
    """A provider (the seed's space-enforcer: identity hub, connector, one data plane) and a
    consumer (interstellar-assembly: identity hub and connector only), each with its own vault,
    DID and MembershipCredential from the test's issuer: five JVMs."""

    PROVIDER, CONSUMER = "space-enforcer", "interstellar-assembly"
    # the provider's runtimes that start (its data planes are those named dataplane-<i>)
    PROVIDER_RUNTIMES: tuple[str, ...] = ("identityhub", "connector", "dataplane-0")

    def start_members(self, argfiles: Mapping[str, Path]) -> None:
        self._start_site()
        self.platform = ProcessPlatform(self.root / "home", command=JavaCommand(argfiles), stop_grace=20)
        self.issuer_did = did_from_host_and_path("localhost", self.site.port, ["issuer"])
        self.issuer = Issuer(
            LocalFileVault(self.root / "issuer-vault"),
            self.issuer_did,
            f"{self.site.url}/issuer/dcp",
            lambda: {m.did for m in self.members.values()},
            resolve_options={"allow_http_loopback": True, "allow_private": True},
            status_list=StatusList(self.root / "issuer-status.sqlite"),
            status_url=f"{self.site.url}{STATUS_PATH}",
        )
        self.site.documents["/issuer/did.json"] = self.issuer.did_document()

        def status(headers: dict[str, str]) -> tuple[int, bytes, dict[str, str]]:
            answer = self.issuer.handle_status_request(headers.get("Accept"))
            return answer.status, answer.body, answer.headers

        self.site.gets[STATUS_PATH] = status

        def issue(headers: dict[str, str], body: bytes) -> tuple[int, bytes, dict[str, str]]:
            answer = self.issuer.handle_credential_request(headers, body)
            if answer.job is not None:
                threading.Thread(target=answer.job.run, daemon=True).start()
            return answer.status, answer.body, answer.headers

        self.site.posts["/issuer/dcp/credentials"] = issue
        seeds = {p.id: p for p in load(None).participants}
        self.members: dict[str, Member] = {}
        for pid, runtimes in (
            (self.PROVIDER, self.PROVIDER_RUNTIMES),
            (self.CONSUMER, ("identityhub", "connector")),
        ):
            seed = seeds[pid]
            vault = LocalFileVault(self.root / "vaults" / pid)
            did = did_from_host_and_path("localhost", self.site.port, [pid])
            specs = participant_runtimes(
                seed,
                did=did,
                issuer_did=self.issuer_did,
                participant_list_url=f"{self.site.url}/participants.json",
                vault_path=vault.root,
                ports=self.platform.allocate_ports(pid, required_ports(seed)),
            )
            by_name = {spec.name: spec for spec in specs if spec.name in runtimes}
            member = Member(
                pid,
                did,
                vault,
                by_name,
                superuser_key=base64.b64encode(b"super-user").decode() + "." + secrets.token_urlsafe(24),
                management_key=secrets.token_urlsafe(24),
            )
            vault.set(IDENTITY_HUB_SUPERUSER_KEY, member.superuser_key)
            vault.set(MANAGEMENT_API_KEY, member.management_key)
            self._dataplane_keys(vault)
            jwk = keys.ensure_participant_key(vault, pid, "EC-P256")
            self.site.documents[f"/{pid}/did.json"] = build_did_document(
                did,
                jwk,
                credential_service_url=f"{by_name['identityhub'].url('credentials')}/v1/participants/{context_id(did)}",
                protocol_url=member.protocol_url,
            )
            self.members[pid] = member
        self.site.json_pages["/participants.json"] = [
            {"name": m.id, "id": m.did, "url": m.protocol_url, "supportedProtocols": [DSP_PROTOCOL]}
            for m in self.members.values()
        ]
        for member in self.members.values():
            self.platform.apply(list(member.specs.values()))
        for member in self.members.values():
            self.wait_ready(["identityhub", "connector"], participant=member.id)
        for member in self.members.values():
            self._enroll(member)
        self.wait_ready([r for r in self.PROVIDER_RUNTIMES if r.startswith("dataplane-")], participant=self.PROVIDER)

    def _enroll(self, member: Member) -> None:
        """The participant context with the control plane's key, then the MembershipCredential: ISSUED."""
        jwk = keys.public_key(member.vault, member.id)
        hub = IdentityHub(
            member.specs["identityhub"].url("identity"),
            runtime=f"{member.id}/identityhub",
            api_key=member.superuser_key,
        )
        try:
            hub.wait_until_admin()
            created = hub.create_participant(participant_manifest(member.did, member.id, jwk))
            holder = hub.as_participant(created.api_key)
            holder.request_credentials(
                member.did,
                issuer_did=self.issuer_did,
                holder_pid=f"membership-{member.id}",
                credentials=[CredentialRequestItem(type="MembershipCredential", id="membership-credential")],
            )
            holder.wait_for_credentials(member.did, f"membership-{member.id}", timeout=120)
        finally:
            hub.close()

    def offer(self, asset_id: str, data: bytes) -> str:
        """An HttpData asset on the provider whose source is a file the site serves, offered to
        members (membership policy, one contract definition); returns the source URL."""
        path = f"/data/{asset_id}"
        self.site.files[path] = data
        source = f"{self.site.url}{path}"
        api = self.members[self.PROVIDER].management()
        try:
            api.wait_until_serving()
            api.create_asset(asset_id, {"type": "HttpData", "baseUrl": source}, {"name": asset_id})
            api.create_policy_definition("membership-required", MEMBERSHIP_POLICY)
            api.create_contract_definition(
                "membership-offers", access_policy_id="membership-required", contract_policy_id="membership-required"
            )
        finally:
            api.close()
        return source

    def stop(self) -> None:
        if self.platform is not None:
            for member in getattr(self, "members", {}).values():
                self.platform.stop(member.id)
        if self._serving is not None:
            self._serving.__exit__(None, None, None)


MEMBERSHIP_POLICY = {
    "@type": "Set",
    "permission": [
        {
            "action": "use",
            "constraint": {"leftOperand": "MembershipCredential", "operator": "eq", "rightOperand": "active"},
        }
    ],
}
