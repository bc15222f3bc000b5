"""IdentityHub 0.15.1's identity (admin) API: participant contexts and credential requests.

Base URL: the identity context (``web.http.identity``), e.g. ``http://localhost:<port>/api/identity``;
header ``x-api-key``. Creating a participant needs the super-user's key; a participant's own
calls work with the key its creation returned (``IdentityHub.as_participant``).

The participant context is created with the control plane's existing key (``privateKeyAlias``
names it in the identity hub's vault), and ``keyId`` is the full verification method id of the
participant's published DID document (``<DID>#<kid>``), so the tokens the hub signs verify
against that document.
"""

from __future__ import annotations

import base64
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr
from pydantic.alias_generators import to_camel

from mvd_core.platforms.edc.http import EdcApi, EdcApiError, EdcTimeout, poll

CredentialFormat = Literal["VC1_0_JWT", "VC1_0_LD", "VC2_0_JOSE", "VC2_0_SD_JWT", "VC2_0_COSE"]


class _Wire(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")

    def wire(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True, exclude_none=True)


class _ReadBack(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")


class KeyDescriptor(_Wire):
    key_id: str  # the DID document's verification method id, "<DID>#<kid>"
    private_key_alias: str  # the vault secret holding the private key (a JWK or PEM)
    public_key_jwk: dict[str, Any] | None = None
    public_key_pem: str | None = None
    type: str = "JsonWebKey2020"


class ServiceEndpoint(_Wire):
    id: str
    type: str
    service_endpoint: str


class ParticipantManifest(_Wire):
    participant_context_id: str
    did: str
    key: KeyDescriptor
    active: bool = True
    roles: list[str] = Field(default_factory=list)
    api_key_alias: str | None = None  # where the hub keeps the participant's API key
    service_endpoints: list[ServiceEndpoint] = Field(default_factory=list)
    # {"clientSecret": "<vault alias>"}: where the hub keeps the STS client secret
    additional_properties: dict[str, str] = Field(default_factory=dict)


class CreatedParticipant(_ReadBack):
    """The answer to a participant's creation: the only time the hub returns its keys."""

    api_key: SecretStr
    client_id: str
    client_secret: SecretStr


class ParticipantContext(_ReadBack):
    participant_context_id: str
    did: str | None = None
    state: int | str | None = None


class CredentialRequestItem(_Wire):
    format: CredentialFormat = "VC1_0_JWT"
    type: str
    id: str  # the issuer's credential object id


class CredentialRequestStatus(_ReadBack):
    holder_pid: str | None = None
    issuer_pid: str | None = None
    status: str  # CREATED, REQUESTING, REQUESTED, ISSUED, ERROR...
    error_detail: str | None = None


class StoredCredential(_ReadBack):
    id: str
    types: list[str]
    issuer: str | None = None
    state: int | str | None = None


def context_path(participant_context_id: str) -> str:
    """``/v1alpha/participants/<base64url(id), no padding>``: how the hub names a context in URLs."""
    encoded = base64.urlsafe_b64encode(participant_context_id.encode()).rstrip(b"=").decode()
    return f"/v1alpha/participants/{encoded}"


class ParticipantExists(EdcApiError):
    status = 409


class SecureTokenService(EdcApi):
    """The identity hub's STS API (``web.http.sts``), where a connector gets its self-issued tokens."""

    kind = "identity hub STS API"

    def accepts(self, client_id: str, client_secret: SecretStr) -> bool:
        """Whether the STS issues a token to ``client_id`` with ``client_secret``: the hub compares
        it with what its own vault holds at the account's secret alias."""
        self._remember_secret(client_secret.get_secret_value())
        form = {
            "grant_type": "client_credentials",
            "client_id": client_id,
            "client_secret": client_secret.get_secret_value(),
            "audience": client_id,
        }
        return self.request("POST", "/token", form=form, ok=(200, 400, 401)).status_code == 200


class IdentityHub(EdcApi):
    kind = "identity hub API"

    def as_participant(self, api_key: SecretStr | str) -> IdentityHub:
        """The same hub, called with a participant's own key."""
        return IdentityHub(self.base_url, runtime=self.runtime, api_key=api_key, client=self._client)

    def wait_until_admin(self, *, timeout: float = 60.0, interval: float = 0.25) -> None:
        """Poll until this client's key is accepted as the super-user's. The hub reports ready
        before its identity API and its super-user are in place (the last extensions start
        after readiness), so right after readiness the right key can get 404 or 401."""
        last: list[int] = []

        def accepted() -> bool | None:
            status = self.request("GET", "/v1alpha/participants?offset=0&limit=1", ok=(200, 401, 403, 404)).status_code
            last.append(status)
            return True if status == 200 else None

        try:
            poll(
                f"the identity API of {self.runtime} to accept the super-user's key",
                accepted,
                timeout=timeout,
                interval=interval,
            )
        except EdcTimeout as exc:
            raise EdcTimeout(
                f"{exc.message} (last answer: HTTP {last[-1] if last else 'none'}; is "
                f"{self.base_url} its identity API and the key the super-user's?)"
            ) from None

    def create_participant(self, manifest: ParticipantManifest) -> CreatedParticipant:
        """Create the participant context (super-user key). ``ParticipantExists`` when it exists:
        its keys are returned only at creation, so the caller deletes and recreates it."""
        try:
            answer = self.json("POST", "/v1alpha/participants", json=manifest.wire(), ok=(200, 201))
        except EdcApiError as exc:
            if exc.http_status == 409:
                raise ParticipantExists(exc.message, http_status=409) from None
            raise
        created = CreatedParticipant.model_validate(answer)
        self._remember_secret(created.api_key.get_secret_value())
        self._remember_secret(created.client_secret.get_secret_value())
        return created

    def participant(self, participant_context_id: str) -> ParticipantContext | None:
        response = self.request("GET", context_path(participant_context_id), ok=(200, 404))
        return None if response.status_code == 404 else ParticipantContext.model_validate(response.json())

    def delete_participant(self, participant_context_id: str) -> bool:
        """False when there was none."""
        return self.request("DELETE", context_path(participant_context_id), ok=(200, 204, 404)).status_code != 404

    def request_credentials(
        self, participant_context_id: str, *, issuer_did: str, holder_pid: str, credentials: list[CredentialRequestItem]
    ) -> None:
        """Ask the hub to request ``credentials`` from the issuer (DCP issuance, asynchronous)."""
        body = {"issuerDid": issuer_did, "holderPid": holder_pid, "credentials": [c.wire() for c in credentials]}
        self.request(
            "POST", f"{context_path(participant_context_id)}/credentials/request", json=body, ok=(200, 201, 204)
        )

    def credential_request(self, participant_context_id: str, holder_pid: str) -> CredentialRequestStatus | None:
        response = self.request(
            "GET", f"{context_path(participant_context_id)}/credentials/request/{holder_pid}", ok=(200, 404)
        )
        return None if response.status_code == 404 else CredentialRequestStatus.model_validate(response.json())

    def wait_for_credentials(
        self, participant_context_id: str, holder_pid: str, *, timeout: float = 60.0, interval: float = 0.5
    ) -> CredentialRequestStatus:
        """Poll the request until ISSUED; EdcApiError when it ends in ERROR, EdcTimeout after ``timeout``."""

        def settled() -> CredentialRequestStatus | None:
            status = self.credential_request(participant_context_id, holder_pid)
            if status is not None and status.status == "ERROR":
                raise EdcApiError(
                    f"{self.kind} of {self.runtime}: the credential request {holder_pid!r} of "
                    f"{participant_context_id} ended in ERROR"
                    + (f": {status.error_detail}" if status.error_detail else "")
                )
            return status if status is not None and status.status == "ISSUED" else None

        return poll(
            f"credential request {holder_pid!r} of {participant_context_id} at {self.runtime}",
            settled,
            timeout=timeout,
            interval=interval,
        )

    def credentials(self, participant_context_id: str) -> list[StoredCredential]:
        """The credentials the hub holds for the participant."""
        answer = self.json("GET", f"{context_path(participant_context_id)}/credentials", ok=(200,))
        found = []
        for resource in answer if isinstance(answer, list) else []:
            vc = (resource.get("verifiableCredential") or {}).get("credential") or {}
            issuer = vc.get("issuer")
            found.append(
                StoredCredential(
                    id=resource.get("id", ""),
                    types=list(vc.get("type") or []),
                    issuer=issuer.get("id") if isinstance(issuer, dict) else issuer,
                    state=resource.get("state"),
                )
            )
        return found
