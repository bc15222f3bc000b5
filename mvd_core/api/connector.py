"""A participant's connector UI through the control plane: its own assets, the dataspace's
catalog as it sees it, negotiations and pull transfers, and a started transfer's data, each a
call of the participant's EDC management API that the server makes with the key from the
participant's vault (the browser never gets the key).

The catalog is a DSP catalog request from this participant to every other participant that runs
here, made when asked (in parallel), rather than a federated catalog's query: it is what the
providers offer this participant now, under its own credentials, with the offer ids a contract
request needs; a crawler's cache lags its crawl period (and a reset), and only some participants
have a catalog of their own (Galactic Turbine's standalone one crawls as Galactic Turbine).

Only participants whose runtimes run as local processes have a connector to call; any other is a
409 naming where it runs. A connector that does not answer is a 503 naming it; an error answer
of EDC (or of the provider behind it) is a 502 with EDC's words.
"""

from __future__ import annotations

import mimetypes
import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from mvd_core.api import endpoints as addresses
from mvd_core.api import inputs
from mvd_core.dataspace import Dataspace
from mvd_core.dataspace.models import Participant
from mvd_core.errors import Conflict, MvdError, NotFound
from mvd_core.onboarding import onboarded
from mvd_core.plan.desired import dataspace_dids
from mvd_core.platforms.edc import exchange
from mvd_core.platforms.edc.http import EdcApiError, EdcTimeout
from mvd_core.platforms.edc.management import Catalog, ContractNegotiation, ManagementApi, TransferProcess
from mvd_core.runs.models import Wire
from mvd_core.runtimes.participant import MANAGEMENT_API_KEY
from mvd_core.settings import Settings
from mvd_core.workflow import connect

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)

HISTORY_LIMIT = 50
# Negotiations searched for the one that made an agreement (EDC's in-memory store; a reset empties it).
AGREEMENT_SEARCH = 200
MAX_DATA_BYTES = 4 * 1024 * 1024  # what the server relays of a transfer's data
EDR_TIMEOUT = 15.0  # the consumer stores the EDR shortly after the transfer is STARTED
MAX_BODY = 4 * 1024
EDC_ID_PATTERN = r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}"
_EDC_ID = re.compile(EDC_ID_PATTERN)
PARTICIPANT_PATTERN = r"[a-z0-9][a-z0-9-]{0,62}"
_PARTICIPANT = re.compile(PARTICIPANT_PATTERN)
_MEDIA_TYPE = re.compile(r"[a-z0-9][a-z0-9!#$&^_.+-]{0,63}/[a-z0-9][a-z0-9!#$&^_.+-]{0,63}")


# ------------------------------------------------------------------ wire models


class ConnectorAsset(Wire):
    id: str
    properties: dict[str, Any] = Field(description="The asset's properties, namespace prefixes dropped.")


class AssetList(Wire):
    """``GET /api/participants/{participant}/connector/assets``: what the participant's connector offers."""

    participant: str
    assets: list[ConnectorAsset]


class CatalogDataset(Wire):
    id: str = Field(description="The dataset (asset) id: what a negotiation names.")
    title: str | None
    description: str | None
    content_type: str | None
    offer_id: str | None = Field(description="The first contract offer's id (None: not negotiable).")
    transfer_types: list[str]


class ProviderCatalog(Wire):
    participant: str
    display_name: str
    did: str
    datasets: list[CatalogDataset]
    error: str | None = Field(description="Why this provider's catalog could not be read (datasets then empty).")


class ConnectorCatalog(Wire):
    """``GET /api/participants/{participant}/connector/catalog``: what every other participant
    offers this one, by a DSP catalog request from its connector to each."""

    participant: str
    source: Literal["dsp"] = Field(
        "dsp", description="dsp: a catalog request from this connector to each provider, now."
    )
    providers: list[ProviderCatalog]


class NegotiationRequest(Wire):
    """Negotiate a dataset's (first) offer from a provider of the dataspace."""

    model_config = ConfigDict(extra="forbid")

    provider: str = Field(pattern=f"^{_PARTICIPANT.pattern}$", description="The provider's participant id.")
    dataset_id: str = Field(pattern=f"^{EDC_ID_PATTERN}$", description="The dataset (asset) id from its catalog.")


class NegotiationView(Wire):
    id: str
    state: str = Field(description="EDC's state: REQUESTED ... FINALIZED, or TERMINATED.")
    role: Literal["consumer", "provider"] | None
    counter_party_did: str | None
    counter_party: str | None = Field(
        description="The counter-party's participant id, when it is one of the dataspace."
    )
    agreement_id: str | None = Field(description="Set once FINALIZED: what a transfer names.")
    error_detail: str | None
    created_at: datetime | None


class NegotiationList(Wire):
    participant: str
    negotiations: list[NegotiationView] = Field(description="Newest first.")


class TransferRequest(Wire):
    """An HttpData-PULL transfer under an agreement this participant negotiated as consumer."""

    model_config = ConfigDict(extra="forbid")

    agreement_id: str = Field(pattern=f"^{EDC_ID_PATTERN}$", description="The contract agreement id.")


class TransferView(Wire):
    id: str
    state: str = Field(description="EDC's state: REQUESTED, STARTED (pull: data available), COMPLETED, TERMINATED ...")
    role: Literal["consumer", "provider"] | None
    agreement_id: str | None
    asset_id: str | None
    transfer_type: str | None
    counter_party: str | None = Field(description="The counter-party's participant id, when known.")
    error_detail: str | None
    updated_at: datetime | None
    data_url: str | None = Field(description="Where this control plane serves the data (a started pull as consumer).")


class TransferList(Wire):
    participant: str
    transfers: list[TransferView] = Field(description="Newest first.")


@dataclass(frozen=True)
class Data:
    """A transfer's data as relayed: the bytes, their media type and a file name for saving them."""

    content: bytes
    media_type: str
    filename: str


def download_headers(data: Data) -> dict[str, str]:
    """Headers that make relayed bytes a download, whatever the provider said they are: saved
    under a plain file name, never sniffed, rendered or run (a sandbox with nothing allowed)."""
    return {
        "Content-Type": data.media_type,
        "Content-Disposition": f'attachment; filename="{data.filename}"',
        "Content-Security-Policy": "sandbox; default-src 'none'",
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "no-store",
    }


# ------------------------------------------------------------------ the participant's connector


class ConnectorDown(MvdError):
    status = 503


@dataclass
class Connector:
    """One participant's management API, with the dataspace around it (who is who by DID)."""

    dataspace: Dataspace
    participant: Participant
    settings: Settings
    dids: dict[str, str]
    api: ManagementApi

    def close(self) -> None:
        self.api.close()

    def who(self, did: str | None) -> str | None:
        """The participant id whose DID ``did`` is, or None."""
        if not did:
            return None
        seed = next((pid for pid, known in self.dids.items() if known == did), None)
        return seed or next((j.participant_id for j in onboarded(self.settings) if j.did == did), None)

    def call(self, what: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """``fn(*args, **kwargs)`` against this connector; a refused connection is ConnectorDown
        (503), a 404 of a read by id is NotFound, any other EDC error stays a 502 naming it."""
        try:
            return fn(*args, **kwargs)
        except EdcTimeout:
            raise
        except EdcApiError as exc:
            if exc.http_status is None and self.api.base_url in exc.message:
                raise ConnectorDown(
                    f"the connector of {self.participant.id} does not answer ({exc.message}); "
                    "deploy the dataspace (the dashboard's Deploy, or `mvd up`) and try again"
                ) from None
            if exc.http_status == 404 and what:
                raise NotFound(f"{self.participant.id}'s connector has no {what}") from None
            raise


def check_participant_id(pid: str) -> str:
    if not _PARTICIPANT.fullmatch(pid):
        raise NotFound(f"unknown participant {pid[:64]!r}")
    return pid


def check_edc_id(value: str, what: str) -> str:
    if not _EDC_ID.fullmatch(value):
        raise MvdError(
            f"{what} {value[:64]!r} is not an EDC id (1 to 128 letters, digits and . _ : -, starting with a letter or digit)"
        )
    return value


def open_connector(dataspace: Dataspace, pid: str, settings: Settings) -> Connector:
    """The management API of ``pid``'s connector: NotFound for an unknown participant, Conflict
    when it has no connector running here (another target, no provision yet, no key)."""
    participant = dataspace.participant(check_participant_id(pid))
    dids = dataspace_dids(dataspace, settings)
    where = addresses.participant_endpoints(participant, dids[pid], settings)
    if where.management is None:
        raise Conflict(f"{pid} has no connector this control plane can call: {where.note}")
    key = connect.secret_store(participant, settings).get(MANAGEMENT_API_KEY)
    if key is None:
        raise Conflict(f"{pid} has no management API key in its vault yet: run `mvd provision`")
    api = ManagementApi(where.management, runtime=f"{pid}/connector", api_key=key)
    return Connector(dataspace, participant, settings, dids, api)


def _ms(value: int | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value / 1000, UTC)


def _role(edc_type: str | None) -> Literal["consumer", "provider"] | None:
    kind = (edc_type or "").upper()
    return "consumer" if kind == "CONSUMER" else "provider" if kind == "PROVIDER" else None


def _text(properties: dict[str, Any], *names: str) -> str | None:
    for name in names:
        value = properties.get(name)
        if isinstance(value, dict):
            value = value.get("@value")
        if isinstance(value, str) and value.strip():
            return value
    return None


# ------------------------------------------------------------------ reads


def assets(connector: Connector) -> AssetList:
    found = connector.call("", connector.api.assets)
    return AssetList(
        participant=connector.participant.id,
        assets=[ConnectorAsset(id=a.id, properties=a.properties) for a in found],
    )


def _datasets(catalog: Catalog) -> list[CatalogDataset]:
    out = []
    for dataset in catalog.datasets:
        properties = dataset.properties
        offer = catalog.offer(dataset.id)
        out.append(
            CatalogDataset(
                id=dataset.id,
                title=_text(properties, "name", "title"),
                description=_text(properties, "description"),
                content_type=_text(properties, "contenttype", "contentType", "mediaType", "media_type"),
                offer_id=offer.id if offer else None,
                transfer_types=dataset.transfer_types,
            )
        )
    return out


@dataclass(frozen=True)
class Provider:
    """Another participant as this connector may ask it: its DSP address, or why it has none here."""

    id: str
    display_name: str
    did: str
    protocol: str | None
    note: str | None = None


def _providers(connector: Connector) -> list[Provider]:
    """Every other participant: the blueprint's, then those that joined since the last reset."""
    out = []
    for other in connector.dataspace.participants:
        if other.id == connector.participant.id:
            continue
        did = connector.dids[other.id]
        where = addresses.participant_endpoints(other, did, connector.settings)
        out.append(Provider(other.id, other.display_name, did, where.protocol, where.note))
    for joined in onboarded(connector.settings):
        out.append(Provider(joined.participant_id, joined.participant_id, joined.did, joined.protocol_url))
    return out


def _provider(connector: Connector, provider_id: str) -> Provider:
    providers = _providers(connector)
    found = next((p for p in providers if p.id == provider_id), None)
    if found is None:
        known = ", ".join(p.id for p in providers) or "none"
        raise NotFound(f"unknown participant {provider_id!r} (known: {known})")
    return found


def catalog(connector: Connector) -> ConnectorCatalog:
    providers = _providers(connector)

    def one(other: Provider) -> ProviderCatalog:
        base = {"participant": other.id, "display_name": other.display_name, "did": other.did}
        if other.protocol is None:
            return ProviderCatalog(**base, datasets=[], error=f"no connector runs here: {other.note}")
        try:
            found = connector.call("", connector.api.request_catalog, other.protocol, other.did)
        except ConnectorDown:
            raise
        except MvdError as exc:
            return ProviderCatalog(**base, datasets=[], error=exc.message)
        return ProviderCatalog(**base, datasets=_datasets(found), error=None)

    with ThreadPoolExecutor(max_workers=max(1, len(providers))) as pool:
        answers = list(pool.map(one, providers))
    return ConnectorCatalog(participant=connector.participant.id, providers=answers)


def negotiation_view(connector: Connector, negotiation: ContractNegotiation) -> NegotiationView:
    return NegotiationView(
        id=negotiation.id,
        state=negotiation.state,
        role=_role(negotiation.type),
        counter_party_did=negotiation.counter_party_id,
        counter_party=connector.who(negotiation.counter_party_id),
        agreement_id=negotiation.contract_agreement_id,
        error_detail=negotiation.error_detail,
        created_at=_ms(negotiation.created_at),
    )


def negotiations(connector: Connector) -> NegotiationList:
    found = connector.call("", connector.api.negotiations, HISTORY_LIMIT)
    return NegotiationList(
        participant=connector.participant.id, negotiations=[negotiation_view(connector, n) for n in found]
    )


def negotiation(connector: Connector, negotiation_id: str) -> NegotiationView:
    check_edc_id(negotiation_id, "negotiation id")
    found = connector.call(f"contract negotiation {negotiation_id!r}", connector.api.negotiation, negotiation_id)
    return negotiation_view(connector, found)


def _data_url(connector: Connector, transfer: TransferProcess) -> str | None:
    pull = transfer.transfer_type == exchange.PULL and _role(transfer.type) == "consumer"
    if not pull or transfer.state != "STARTED":
        return None
    return f"/api/participants/{connector.participant.id}/connector/transfers/{transfer.id}/data"


def transfer_view(
    connector: Connector, transfer: TransferProcess, by_agreement: dict[str, ContractNegotiation]
) -> TransferView:
    made = by_agreement.get(transfer.contract_id or "")
    return TransferView(
        id=transfer.id,
        state=transfer.state,
        role=_role(transfer.type),
        agreement_id=transfer.contract_id,
        asset_id=transfer.asset_id,
        transfer_type=transfer.transfer_type,
        counter_party=connector.who(made.counter_party_id) if made else None,
        error_detail=transfer.error_detail,
        updated_at=_ms(transfer.state_timestamp),
        data_url=_data_url(connector, transfer),
    )


def _by_agreement(connector: Connector, limit: int) -> dict[str, ContractNegotiation]:
    found = connector.call("", connector.api.negotiations, limit)
    return {n.contract_agreement_id: n for n in found if n.contract_agreement_id}


def transfers(connector: Connector) -> TransferList:
    found = connector.call("", connector.api.transfers, HISTORY_LIMIT)
    by_agreement = _by_agreement(connector, AGREEMENT_SEARCH)
    return TransferList(
        participant=connector.participant.id, transfers=[transfer_view(connector, t, by_agreement) for t in found]
    )


def transfer(connector: Connector, transfer_id: str) -> TransferView:
    check_edc_id(transfer_id, "transfer id")
    found = connector.call(f"transfer process {transfer_id!r}", connector.api.transfer_process, transfer_id)
    return transfer_view(connector, found, _by_agreement(connector, AGREEMENT_SEARCH))


def safe_filename(name: str, media_type: str) -> str:
    """A file name safe in a Content-Disposition header: the asset id's letters, digits, . _ -."""
    base = re.sub(r"[^A-Za-z0-9._-]", "_", name)[:100].lstrip(".") or "data"
    extension = {"text/csv": ".csv", "application/json": ".json", "text/plain": ".txt"}.get(media_type)
    return base + (extension or mimetypes.guess_extension(media_type) or ".bin")


def data(connector: Connector, transfer_id: str) -> Data:
    """A started pull transfer's data: its EDR from this connector, then the bytes from the
    provider's data plane (at most MAX_DATA_BYTES)."""
    check_edc_id(transfer_id, "transfer id")
    found = connector.call(f"transfer process {transfer_id!r}", connector.api.transfer_process, transfer_id)
    if _role(found.type) != "consumer" or found.transfer_type != exchange.PULL:
        raise Conflict(
            f"transfer {transfer_id} is a {found.transfer_type or 'transfer'} in which {connector.participant.id} "
            f"is the {_role(found.type) or 'unknown party'}; only a pull it consumes has data to fetch"
        )
    if found.state != "STARTED":
        raise Conflict(
            f"transfer {transfer_id} is {found.state}; its data can be fetched while it is STARTED"
            + (f" ({found.error_detail})" if found.error_detail else "")
        )
    edr = connector.call(f"EDR for transfer {transfer_id!r}", connector.api.edr, transfer_id, timeout=EDR_TIMEOUT)
    try:
        fetched = exchange.fetch(edr, max_bytes=MAX_DATA_BYTES, timeout=30)
    except EdcApiError as exc:
        if exc.http_status != 413:
            raise
        raise MvdError(
            f"the data of transfer {transfer_id} is larger than the {MAX_DATA_BYTES} bytes this control plane "
            "relays; fetch it with the EDR from the management API instead",
            status=502,
        ) from None
    media_type = (fetched.media_type or "application/octet-stream").split(";")[0].strip().lower()
    if not _MEDIA_TYPE.fullmatch(media_type):
        media_type = "application/octet-stream"
    return Data(fetched.content, media_type, safe_filename(found.asset_id or transfer_id, media_type))


# ------------------------------------------------------------------ writes


def _body(raw: bytes, model: type[M]) -> M:
    if len(raw) > MAX_BODY:
        raise MvdError(f"request body is {len(raw)} bytes; the limit is {MAX_BODY}", status=413)
    data = inputs.json_object(raw)
    allowed = {f.alias or name for name, f in model.model_fields.items()}
    unknown = sorted(key for key in data if key not in allowed)
    if unknown:
        shown = ", ".join(repr(name[:40]) for name in unknown[:5]) + (", ..." if len(unknown) > 5 else "")
        raise MvdError(f"unknown field(s) in request body: {shown} (allowed: {', '.join(sorted(allowed))})")
    missing = sorted(a for a in allowed if a not in data)
    if missing:
        raise MvdError(f"request body needs {', '.join(missing)}")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = []
        for problem in exc.errors():
            where = ".".join(str(p) for p in problem["loc"])
            problems.append(f"{where}: must be {'a string' if problem['type'] == 'string_type' else 'an id'}")
        raise MvdError("invalid request body: " + "; ".join(problems)) from None


def negotiation_request(raw: bytes) -> NegotiationRequest:
    return _body(raw, NegotiationRequest)


def transfer_request(raw: bytes) -> TransferRequest:
    return _body(raw, TransferRequest)


def negotiate(connector: Connector, request: NegotiationRequest) -> NegotiationView:
    """Start negotiating the first offer for the dataset in the provider's catalog (as this
    participant sees it now); the negotiation goes on in EDC, polled with ``negotiation``."""
    provider = request.provider
    if provider == connector.participant.id:
        raise MvdError(f"{provider} cannot negotiate with itself: name another participant as provider")
    other = _provider(connector, provider)
    if other.protocol is None:
        raise Conflict(f"{provider} has no connector this control plane can reach: {other.note}")
    found = connector.call("", connector.api.request_catalog, other.protocol, other.did)
    offer = found.offer(request.dataset_id)
    if offer is None:
        offered = ", ".join(d.id for d in found.datasets) or "nothing"
        raise NotFound(
            f"{provider} offers {connector.participant.id} no dataset {request.dataset_id!r} (it offers {offered})"
        )
    negotiation_id = connector.call("", connector.api.start_negotiation, other.protocol, offer)
    return negotiation(connector, negotiation_id)


def start_transfer(connector: Connector, request: TransferRequest) -> TransferView:
    """Start an HttpData-PULL under an agreement this participant made as consumer, at the
    provider's DSP address that negotiation used."""
    found = connector.call("", connector.api.negotiations, AGREEMENT_SEARCH)
    made = next((n for n in found if n.contract_agreement_id == request.agreement_id), None)
    if made is None:
        raise NotFound(
            f"{connector.participant.id} has no agreement {request.agreement_id!r} "
            f"(among its {AGREEMENT_SEARCH} newest negotiations)"
        )
    if _role(made.type) != "consumer" or not made.counter_party_address:
        raise Conflict(
            f"agreement {request.agreement_id} was made with {connector.participant.id} as provider; "
            "the consumer starts a transfer"
        )
    transfer_id = connector.call(
        "", connector.api.start_transfer, made.counter_party_address, request.agreement_id, exchange.PULL
    )
    return transfer(connector, transfer_id)
