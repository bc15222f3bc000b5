"""A guest participant: an outsider joining a running dataspace with its own runtimes.

It runs the same runtime assembly as the seed participants (identity hub, connector with the
embedded catalog, one data plane, from ``mvd_core.runtimes``, as local processes through the
processes platform used as a library), but nothing of it is the control plane's: its own state
directory, vault and signing key, its own did:web document served by a small HTTP server of its
own (which also serves the data behind its offer), its own identity hub context. It trusts the
dataspace's issuer and crawls the dataspace's participant list, like any member.

Joining is the control plane's decision (``POST /api/participants`` / ``mvd onboard DID``). Once
the guest is on the participant list, it asks the issuer for its MembershipCredential itself
(DCP issuance, from its identity hub) and creates its offer.

    python -m tools.guest --control-plane http://localhost:7080 --home .guest

prints the DID to onboard, then waits (Ctrl-C stops every process it started). The tests use
:class:`Guest` directly (tests/fixtures/guest.py).
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

from mvd_core.dataspace import load
from mvd_core.dataspace.models import ConnectorRuntime, DataPlaneRuntime, Participant, Runtimes
from mvd_core.errors import MvdError
from mvd_core.identity import keys
from mvd_core.identity.didweb import did_from_host_and_path
from mvd_core.identity.document import build_did_document
from mvd_core.platforms.edc.identityhub import IdentityHub, ParticipantExists
from mvd_core.platforms.edc.management import ManagementApi
from mvd_core.platforms.processes import ProcessPlatform
from mvd_core.platforms.secrets.local import LocalFileVault
from mvd_core.runtimes.participant import (
    IDENTITY_HUB_PARTICIPANT_KEY,
    IDENTITY_HUB_SUPERUSER_KEY,
    MANAGEMENT_API_KEY,
    participant_runtimes,
    required_ports,
)
from mvd_core.runtimes.spec import RuntimeSpec
from mvd_core.workflow.runtimes import (
    MEMBERSHIP,
    by_name,
    credential_service_url,
    ensure_secrets,
    management_url,
    participant_manifest,
    protocol_url,
)
from mvd_core.workflow.seed import MEMBERSHIP_OFFERS, MEMBERSHIP_POLICY, membership_policy

GUEST_ID = "guest"
DATASET = "guest-telemetry"
DATA = b"guest telemetry: 42 widgets calibrated\n"
HOLDER_PID = "guest-membership"


class _Site(ThreadingHTTPServer):
    daemon_threads = True
    documents: dict[str, bytes]
    files: dict[str, bytes]


class _Handler(BaseHTTPRequestHandler):
    server: _Site

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet: the runtimes poll this site

    def do_GET(self) -> None:
        path = self.path.split("?")[0]
        if path in self.server.documents:
            body, kind = self.server.documents[path], "application/did+json"
        elif path in self.server.files:
            body, kind = self.server.files[path], "text/plain"
        else:
            body, kind = b"", "text/plain"
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@dataclass
class Guest:
    """One guest participant under ``home``, joining the dataspace whose control plane answers
    at ``control_plane`` (its issuer at ``/dids/issuer/did.json``, its participant list at
    ``/api/dataspace/participants.json``)."""

    home: Path
    control_plane: str
    participant_id: str = GUEST_ID
    site_port: int = 0  # 0: any free port (the DID names it, so pass one to keep a DID across runs)
    dataset: str = DATASET
    data: bytes = DATA
    did: str = ""
    specs: list[RuntimeSpec] = field(default_factory=list)
    _site: _Site | None = field(default=None, repr=False)
    _platform: ProcessPlatform | None = field(default=None, repr=False)

    # ------------------------------------------------------------------ derived

    @property
    def issuer_did(self) -> str:
        host = httpx.URL(self.control_plane)
        return did_from_host_and_path(host.host, host.port, ["dids", "issuer"])

    @property
    def participant_list_url(self) -> str:
        return f"{self.control_plane.rstrip('/')}/api/dataspace/participants.json"

    @property
    def vault(self) -> LocalFileVault:
        return LocalFileVault(self.home / "vault")

    @property
    def protocol_url(self) -> str:
        return protocol_url(self.specs)

    @property
    def site_url(self) -> str:
        if self._site is None:
            raise MvdError("the guest is not started")
        return f"http://localhost:{self._site.server_address[1]}"

    def blueprint(self) -> Participant:
        """The guest as a blueprint participant: a seed's settings, its own id, one data plane,
        the connector's embedded catalog (the fewest processes: three JVMs)."""
        seed = load(None).participants[0]
        return seed.model_copy(
            update={
                "id": self.participant_id,
                "display_name": f"Guest {self.participant_id}",
                "runtimes": Runtimes(
                    connector=ConnectorRuntime(embedded_catalog=True), data_plane=DataPlaneRuntime(replicas=1)
                ),
                "offers": [],
            }
        )

    def management(self) -> ManagementApi:
        return ManagementApi(
            management_url(self.specs),
            runtime=f"{self.participant_id}/connector",
            api_key=self.vault.get(MANAGEMENT_API_KEY) or "",
        )

    def management_key_file(self) -> Path:
        return self.home / "vault" / MANAGEMENT_API_KEY

    # ------------------------------------------------------------------ lifecycle

    def start(self, *, command: Any = None, timeout: float = 240.0) -> str:
        """Serve the DID document, start the runtimes, create the identity hub context; the DID."""
        self.home.mkdir(parents=True, exist_ok=True)
        site = _Site(("127.0.0.1", self.site_port), _Handler)
        site.documents, site.files = {}, {}
        threading.Thread(target=site.serve_forever, name="guest-site", daemon=True).start()
        self._site = site
        self.did = did_from_host_and_path("localhost", site.server_address[1], [self.participant_id])
        participant = self.blueprint()
        self._platform = ProcessPlatform(self.home / "state", command=command)
        vault = self.vault
        ensure_secrets(vault)
        jwk = keys.ensure_participant_key(vault, self.participant_id, "EC-P256")
        self.specs = participant_runtimes(
            participant,
            did=self.did,
            issuer_did=self.issuer_did,
            participant_list_url=self.participant_list_url,
            vault_path=vault.root.absolute(),
            ports=self._platform.allocate_ports(self.participant_id, required_ports(participant)),
        )
        document = build_did_document(
            self.did,
            jwk,
            credential_service_url=credential_service_url(self.specs, self.did),
            protocol_url=self.protocol_url,
        )
        site.documents[f"/{self.participant_id}/did.json"] = json.dumps(document).encode()
        site.files[f"/data/{self.dataset}"] = self.data
        self._platform.apply(self.specs)
        self._wait_ready(timeout)
        self._create_context()
        return self.did

    def _wait_ready(self, timeout: float) -> None:
        assert self._platform is not None
        names = [spec.name for spec in self.specs]
        deadline = time.monotonic() + timeout
        stop = threading.Event()
        while True:
            states = {s.name: s for s in self._platform.status(self.participant_id)}
            failed = [s for s in states.values() if s.state == "failed"]
            if failed:
                raise MvdError(f"guest runtime {failed[0].name} failed: {failed[0].detail} (log {failed[0].log})")
            if all(n in states and states[n].state == "ready" for n in names):
                return
            if time.monotonic() > deadline:
                raise MvdError(f"guest runtimes not ready after {timeout:g} s: {sorted(states)}")
            self._platform.advance(self.participant_id)  # the data plane waits for its connector
            stop.wait(0.5)

    def _identity_hub(self) -> IdentityHub:
        hub = by_name(self.specs, "identityhub")
        return IdentityHub(
            hub.url("identity"),
            runtime=f"{self.participant_id}/identityhub",
            api_key=self.vault.get(IDENTITY_HUB_SUPERUSER_KEY) or "",
        )

    def _create_context(self) -> None:
        jwk = keys.public_key(self.vault, self.participant_id)
        if jwk is None:
            raise MvdError("the guest has no signing key")
        admin = self._identity_hub()
        try:
            admin.wait_until_admin()
            try:
                admin.create_participant(participant_manifest(self.did, self.participant_id, jwk))
            except ParticipantExists:
                pass  # the identity hub is in memory: only a second call in one run gets here
        finally:
            admin.close()

    def is_listed(self) -> bool:
        """Whether the dataspace's participant list names this guest (it was accepted)."""
        try:
            answer = httpx.get(self.participant_list_url, timeout=10, trust_env=False)
        except httpx.HTTPError:
            return False
        listed = answer.json() if answer.is_success else []
        return isinstance(listed, list) and any(isinstance(p, dict) and p.get("id") == self.did for p in listed)

    def request_membership(self, *, timeout: float = 90.0) -> None:
        """Ask the dataspace's issuer for the MembershipCredential (from the guest's identity
        hub, DCP issuance) and wait until it is ISSUED; EdcApiError when the issuer refuses."""
        admin = self._identity_hub()
        try:
            hub = admin.as_participant(self.vault.get(IDENTITY_HUB_PARTICIPANT_KEY) or "")
            if hub.credential_request(self.did, HOLDER_PID) is None:
                hub.request_credentials(
                    self.did, issuer_did=self.issuer_did, holder_pid=HOLDER_PID, credentials=MEMBERSHIP
                )
            hub.wait_for_credentials(self.did, HOLDER_PID, timeout=timeout)
        finally:
            admin.close()

    def offer(self) -> None:
        """The guest's dataset, served by its own site, offered to members of the dataspace."""
        api = self.management()
        try:
            api.wait_until_serving()
            api.create_asset(
                self.dataset,
                {"type": "HttpData", "baseUrl": f"{self.site_url}/data/{self.dataset}"},
                {"name": self.dataset, "description": "A guest's offer", "contenttype": "text/plain"},
            )
            api.create_policy_definition(MEMBERSHIP_POLICY, membership_policy())
            api.create_contract_definition(
                MEMBERSHIP_OFFERS, access_policy_id=MEMBERSHIP_POLICY, contract_policy_id=MEMBERSHIP_POLICY
            )
        finally:
            api.close()

    def join(self, *, timeout: float = 600.0, stop: threading.Event | None = None) -> bool:
        """Once the dataspace lists the guest: its MembershipCredential, then its offer. False
        when ``stop`` was set or ``timeout`` passed before it was listed."""
        stop = stop or threading.Event()
        deadline = time.monotonic() + timeout
        while not self.is_listed():
            if stop.wait(1.0) or time.monotonic() > deadline:
                return False
        self.request_membership()
        self.offer()
        return True

    def stop(self) -> None:
        if self._platform is not None:
            self._platform.stop(self.participant_id)
        if self._site is not None:
            self._site.shutdown()
            self._site.server_close()
            self._site = None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.guest", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--control-plane",
        default="http://localhost:7080",
        help="base URL of the dataspace's mvd serve (its issuer DID names it)",
    )
    parser.add_argument("--home", type=Path, default=Path(".guest"), help="the guest's own state directory")
    parser.add_argument("--port", type=int, default=0, help="port of the guest's DID site (its DID names it)")
    args = parser.parse_args(argv)
    try:
        url = httpx.URL(args.control_plane)
    except httpx.InvalidURL:
        url = None
    if url is None or url.scheme not in ("http", "https") or not url.host or url.path not in ("", "/") or url.query:
        parser.error(
            f"--control-plane must be the base URL of mvd serve, like http://localhost:7080, not {args.control_plane[:100]!r}"
        )
    if not 0 <= args.port <= 65535:
        parser.error(f"--port must be between 0 and 65535, not {args.port}")
    guest = Guest(args.home, str(url).rstrip("/"), site_port=args.port)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        did = guest.start()
        print(f"guest DID:          {did}", flush=True)
        print(f"DSP address:        {guest.protocol_url}", flush=True)
        print(f"management API:     {management_url(guest.specs)} (key in {guest.management_key_file()})", flush=True)
        print(f"onboard it with:    mvd onboard '{did}'", flush=True)
        if guest.join(timeout=24 * 3600, stop=stop):
            print(f"joined: MembershipCredential issued, dataset {guest.dataset!r} offered", flush=True)
        stop.wait()
    except KeyboardInterrupt:
        pass
    except (MvdError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        guest.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
