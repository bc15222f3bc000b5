"""A loopback HTTPS fake of the documented ARM calls the AKS source makes.

Resource groups: HEAD/GET/PUT ``/subscriptions/{s}/resourcegroups/{rg}``. Managed clusters:
GET/PUT/DELETE ``.../providers/Microsoft.ContainerService/managedClusters/{name}`` (a PUT
answers 201 with ``provisioningState: Creating`` and an ``Azure-AsyncOperation`` header; the
cluster turns ``Succeeded`` after ``polls_until_ready`` GETs), and POST
``.../listClusterAdminCredential``; a cluster PUT with ``oidcIssuerProfile.enabled`` gets an
``issuerURL``. Workload identity: PUT/GET ``.../providers/Microsoft.ManagedIdentity/
userAssignedIdentities/{name}`` (clientId, principalId, tenantId), PUT/GET ``.../{name}/
federatedIdentityCredentials/{fic}``, and PUT ``{scope}/providers/Microsoft.Authorization/
roleAssignments/{guid}`` (409 RoleAssignmentExists for the same role, principal and scope under
another name, as ARM answers). Scripted faults (status, headers, body) can be queued for a
method and path fragment. HTTPS with a self-signed certificate, because azure-core refuses to
send bearer tokens over plain HTTP.
"""

from __future__ import annotations

import base64
import datetime
import json
import re
import ssl
import tempfile
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Self
from urllib.parse import urlsplit

import yaml
from azure.core.credentials import AccessToken
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


class FakeCredential:
    """A TokenCredential that hands out a fixed token (the fake checks it arrives)."""

    token = "fake-arm-token"

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        return AccessToken(self.token, int(datetime.datetime.now().timestamp()) + 3600)


@dataclass
class Fault:
    method: str
    path_contains: str
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: dict[str, Any] | None = None
    times: int = 1


def _self_signed(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    import ipaddress

    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
            .sign(key, hashes.SHA256()))
    cert_file, key_file = directory / "cert.pem", directory / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_file, key_file


_RG = re.compile(r"^/subscriptions/([^/]+)/resourcegroups/([^/]+)$", re.IGNORECASE)
_MC = re.compile(r"^/subscriptions/([^/]+)/resourcegroups/([^/]+)/providers/Microsoft\.ContainerService/"
                 r"managedClusters/([^/]+)(/listClusterAdminCredential)?$", re.IGNORECASE)


_UAI = re.compile(r"^/subscriptions/([^/]+)/resourcegroups/([^/]+)/providers/Microsoft\.ManagedIdentity/"
                  r"userAssignedIdentities/([^/]+)(?:/federatedIdentityCredentials/([^/]+))?$", re.IGNORECASE)
_ROLE = re.compile(r"^(/subscriptions/.+)/providers/Microsoft\.Authorization/roleAssignments/([^/]+)$", re.IGNORECASE)
TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"


class ArmFake:
    def __init__(self, kubeconfig_for: Callable[[str, str], dict[str, Any]], polls_until_ready: int = 3) -> None:
        self.kubeconfig_for = kubeconfig_for
        self.polls_until_ready = polls_until_ready
        self.resource_groups: dict[str, dict[str, Any]] = {}
        self.clusters: dict[tuple[str, str], dict[str, Any]] = {}
        self._pending: dict[tuple[str, str], int] = {}
        self.faults: list[Fault] = []
        self.requests: list[tuple[str, str, int]] = []
        self.forbidden_groups: set[str] = set()
        self.identities: dict[tuple[str, str], dict[str, Any]] = {}
        self.federated_credentials: dict[tuple[str, str, str], dict[str, Any]] = {}
        self.role_assignments: dict[str, dict[str, Any]] = {}  # name -> {"scope", "properties"}
        self._lock = threading.Lock()
        self._dir = tempfile.TemporaryDirectory()
        cert, key = _self_signed(Path(self._dir.name))
        handler = type("Handler", (_Handler,), {"fake": self})
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        self._httpd.socket = ctx.wrap_socket(self._httpd.socket, server_side=True)
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True)

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self._httpd.server_address[1]}"

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._dir.cleanup()

    def count(self, method: str, suffix: str) -> int:
        """Requests of ``method`` whose path ends with ``suffix``."""
        return sum(1 for m, p, _ in self.requests if m == method and p.lower().endswith(suffix.lower()))

    # --- behaviour --------------------------------------------------------------------

    def handle(self, method: str, path: str, body: Any, auth: str | None) -> tuple[int, dict[str, str], Any]:
        with self._lock:
            for fault in self.faults:
                if fault.times > 0 and fault.method == method and fault.path_contains.lower() in path.lower():
                    fault.times -= 1
                    return fault.status, fault.headers, fault.body
        if auth != f"Bearer {FakeCredential.token}":
            return 401, {}, {"error": {"code": "AuthenticationFailed", "message": "no valid bearer token"}}
        if m := _RG.match(path):
            rg = m.group(2).lower()
            if rg in self.forbidden_groups:
                return 403, {}, {"error": {"code": "AuthorizationFailed", "message": (
                    f"The client does not have authorization to perform action "
                    f"'Microsoft.Resources/subscriptions/resourcegroups/{'write' if method == 'PUT' else 'read'}' "
                    f"over scope '/subscriptions/{m.group(1)}/resourcegroups/{m.group(2)}'.")}}
            if method in ("HEAD", "GET"):
                group = self.resource_groups.get(rg)
                return ((204 if method == "HEAD" else 200), {}, group) if group else (404, {}, {"error": {"code": "ResourceGroupNotFound",
                                                                          "message": f"Resource group '{rg}' could not be found."}})
            if method == "PUT":
                created = rg not in self.resource_groups
                self.resource_groups[rg] = {"id": path, "name": m.group(2), "location": body["location"],
                                            "properties": {"provisioningState": "Succeeded"}}
                return (201 if created else 200), {}, self.resource_groups[rg]
        if m := _ROLE.match(path):
            scope, name = m.group(1), m.group(2).lower()
            if method == "PUT":
                props = body["properties"]
                for other, existing in self.role_assignments.items():
                    same = (existing["scope"].lower(), existing["properties"]["principalId"],
                            existing["properties"]["roleDefinitionId"].lower())
                    if other != name and same == (scope.lower(), props["principalId"], props["roleDefinitionId"].lower()):
                        return 409, {}, {"error": {"code": "RoleAssignmentExists",
                                                   "message": "The role assignment already exists."}}
                created = name not in self.role_assignments
                self.role_assignments[name] = {"scope": scope, "properties": {**props, "scope": scope}}
                return (201 if created else 200), {}, {"id": path, "name": name,
                                                       "type": "Microsoft.Authorization/roleAssignments",
                                                       "properties": self.role_assignments[name]["properties"]}
        if m := _UAI.match(path):
            rg, name, credential = m.group(2).lower(), m.group(3), m.group(4)
            if rg not in self.resource_groups:
                return 404, {}, {"error": {"code": "ResourceGroupNotFound", "message": f"Resource group '{rg}' could not be found."}}
            if credential is not None and method == "PUT":
                if (rg, name) not in self.identities:
                    return 404, {}, {"error": {"code": "ResourceNotFound", "message": f"identity {name} not found"}}
                created = (rg, name, credential) not in self.federated_credentials
                self.federated_credentials[(rg, name, credential)] = {"id": path, "name": credential,
                                                                      "properties": body["properties"]}
                return (201 if created else 200), {}, self.federated_credentials[(rg, name, credential)]
            if credential is None and method == "PUT":
                created = (rg, name) not in self.identities
                if created:
                    self.identities[(rg, name)] = {
                        "id": path, "name": name, "location": body["location"],
                        "type": "Microsoft.ManagedIdentity/userAssignedIdentities",
                        "properties": {"tenantId": TENANT,
                                       "clientId": str(uuid.uuid5(uuid.NAMESPACE_URL, f"client:{path.lower()}")),
                                       "principalId": str(uuid.uuid5(uuid.NAMESPACE_URL, f"principal:{path.lower()}"))}}
                return (201 if created else 200), {}, self.identities[(rg, name)]
            if credential is None and method == "GET" and (rg, name) in self.identities:
                return 200, {}, self.identities[(rg, name)]
            if credential is not None and method == "GET" and (rg, name, credential) in self.federated_credentials:
                return 200, {}, self.federated_credentials[(rg, name, credential)]
        if m := _MC.match(path):
            rg, name, creds = m.group(2).lower(), m.group(3), m.group(4)
            key = (rg, name)
            if rg not in self.resource_groups:
                return 404, {}, {"error": {"code": "ResourceGroupNotFound", "message": f"Resource group '{rg}' could not be found."}}
            cluster = self.clusters.get(key)
            if creds:
                if cluster is None:
                    return 404, {}, {"error": {"code": "ResourceNotFound", "message": "cluster not found"}}
                kubeconfig = yaml.safe_dump(self.kubeconfig_for(rg, name)).encode()
                return 200, {}, {"kubeconfigs": [{"name": "clusterAdmin", "value": base64.b64encode(kubeconfig).decode()}]}
            if method == "GET":
                if cluster is None:
                    return 404, {}, {"error": {"code": "ResourceNotFound",
                                               "message": f"The Resource 'Microsoft.ContainerService/managedClusters/{name}' was not found."}}
                remaining = self._pending.get(key, 0)
                if remaining > 0:
                    self._pending[key] = remaining - 1
                    if remaining == 1:
                        if cluster["properties"]["provisioningState"] == "Deleting":
                            del self.clusters[key]
                            return 404, {}, {"error": {"code": "ResourceNotFound", "message": "deleted"}}
                        cluster["properties"]["provisioningState"] = "Succeeded"
                return 200, {}, cluster
            if method == "PUT":
                props = dict(body.get("properties") or {})
                props["provisioningState"] = "Creating" if cluster is None else "Updating"
                props["fqdn"] = f"{name}.hcp.{body['location']}.azmk8s.io"
                if (props.get("oidcIssuerProfile") or {}).get("enabled"):
                    props["oidcIssuerProfile"] = {"enabled": True, "issuerURL": (
                        f"https://{body['location']}.oic.prod-aks.azure.com/{TENANT}/{uuid.uuid5(uuid.NAMESPACE_URL, path)}/")}
                self.clusters[key] = {"id": path, "name": name, "type": "Microsoft.ContainerService/ManagedClusters",
                                      "location": body["location"], "identity": body.get("identity"),
                                      "tags": body.get("tags"), "properties": props}
                self._pending[key] = self.polls_until_ready
                return (201 if cluster is None else 200), {
                    "Azure-AsyncOperation": f"{self.url}/subscriptions/x/providers/Microsoft.ContainerService/"
                                            f"locations/{body['location']}/operations/op-{name}?api-version=2024-01-01",
                    "Retry-After": "1"}, self.clusters[key]
            if method == "DELETE":
                if cluster is None:
                    return 204, {}, None
                cluster["properties"]["provisioningState"] = "Deleting"
                self._pending[key] = self.polls_until_ready
                return 202, {"Location": f"{self.url}{path}/operationresults/del"}, None
        return 404, {}, {"error": {"code": "InvalidResourceType", "message": f"no fake for {method} {path}"}}


class _Handler(BaseHTTPRequestHandler):
    fake: ArmFake
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _do(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        body = json.loads(raw) if raw else None
        path = urlsplit(self.path).path
        status, headers, payload = self.fake.handle(self.command, path, body, self.headers.get("Authorization"))
        self.fake.requests.append((self.command, path, status))
        data = b"" if payload is None or self.command == "HEAD" else json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("x-ms-request-id", "fake")
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if data:
            self.wfile.write(data)

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _do
