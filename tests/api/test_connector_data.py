"""What the connector proxy relays of a transfer's data and shows of a catalog, against a loopback
stand-in of a provider's data plane (no JVM): the bytes and their media type, a cap that stops
reading, an error answer without the EDR token; and the asset properties a catalog's dataset
carries. (The real data plane: tests/browser/test_connector_ui.py.)"""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from mvd_core.platforms.edc.exchange import fetch, fetch_data
from mvd_core.platforms.edc.http import EdcApiError
from mvd_core.platforms.edc.management import Catalog, EndpointDataReference
from tests.fixtures.loopback import QuietHandler, serve

TOKEN = "edr-token-0123456789abcdef"


class DataPlane(QuietHandler):
    """``/ok`` serves 3000 CSV bytes to the right token, streamed in 1000-byte chunks; ``/big``
    keeps sending (it counts what it sent); anything else is a 403 echoing the token."""

    sent = 0

    def do_GET(self) -> None:
        if self.headers.get("Authorization") != TOKEN or self.path not in ("/ok", "/big"):
            return self.send(403, f"token {self.headers.get('Authorization')} refused".encode())
        self.send_response(200)
        self.send_header("Content-Type", "text/csv; charset=utf-8")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        chunks = 3 if self.path == "/ok" else 10_000
        try:
            for _ in range(chunks):
                self.wfile.write(b"3e8\r\n" + b"a,b\n" * 250 + b"\r\n")
                DataPlane.sent += 1000
            self.wfile.write(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass


def edr(url: str) -> EndpointDataReference:
    return EndpointDataReference(endpoint=url, authorization=SecretStr(TOKEN), endpoint_type=None)


def test_fetch_keeps_the_bytes_and_the_media_type():
    with serve(DataPlane) as url:
        fetched = fetch(edr(url + "/ok"), max_bytes=3000)
        assert fetched.content == b"a,b\n" * 750 and fetched.media_type == "text/csv; charset=utf-8"
        assert fetch_data(edr(url + "/ok")) == fetched.content


def test_fetch_stops_reading_past_the_limit():
    DataPlane.sent = 0
    with serve(DataPlane) as url, pytest.raises(EdcApiError) as refused:
        fetch(edr(url + "/big"), max_bytes=2500)
    assert refused.value.http_status == 413 and "more than 2500 bytes" in refused.value.message
    assert DataPlane.sent < 10_000 * 1000  # the client hung up long before the end


def test_a_refusal_names_the_status_never_the_token():
    with serve(DataPlane) as url, pytest.raises(EdcApiError) as refused:
        fetch(edr(url + "/nope"), max_bytes=100)
    assert refused.value.http_status == 403 and "answered HTTP 403" in refused.value.message
    assert TOKEN not in refused.value.message and "***" in refused.value.message


def test_a_catalog_dataset_keeps_the_asset_properties():
    catalog = Catalog.model_validate({
        "@id": "c", "participantId": "did:web:p.example",
        "dataset": [{"@id": "assembly-schedule", "@type": "Dataset", "id": "assembly-schedule",
                     "name": "Orbital assembly schedule", "edc:description": "Bays and slots",
                     "contenttype": "text/csv", "hasPolicy": [], "distribution": []}],
    })
    assert catalog.datasets[0].properties == {
        "name": "Orbital assembly schedule", "description": "Bays and slots", "contenttype": "text/csv"}
