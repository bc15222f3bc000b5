"""The Functions app answers the connector proxy's routes like `mvd serve` does for a participant
whose runtimes do not run as local processes here: a 409 naming where it runs (on Azure no
participant does). Relayed data keeps its own download headers."""

from __future__ import annotations

import json

from blueprints import _runtime
from mvd_core.api.handlers import ApiResponse
from tests.functions.test_endpoints_function import declared  # noqa: F401 (a fixture)
from tests.functions.test_invoke import call, http

CALLS = [
    ("connector_assets", "GET", "assets", {}, b""),
    ("connector_catalog", "GET", "catalog", {}, b""),
    ("connector_negotiations", "GET", "negotiations", {}, b""),
    ("connector_negotiate", "POST", "negotiations", {}, b'{"provider": "galactic-turbine", "datasetId": "d"}'),
    ("connector_negotiation", "GET", "negotiations/n-1", {"id": "n-1"}, b""),
    ("connector_transfers", "GET", "transfers", {}, b""),
    ("connector_transfer_start", "POST", "transfers", {}, b'{"agreementId": "a-1"}'),
    ("connector_transfer", "GET", "transfers/t-1", {"id": "t-1"}, b""),
    ("connector_transfer_data", "GET", "transfers/t-1/data", {"id": "t-1"}, b""),
]


def test_every_connector_route_is_409_on_the_declared_targets(storage, declared):  # noqa: F811
    for name, method, path, params, body in CALLS:
        request = http(method, f"/api/participants/space-enforcer/connector/{path}",
                       {"participant": "space-enforcer", **params}, body=body)
        status, answer = call(name, request)
        kind = _runtime.dataspace().participant("space-enforcer").cluster.kind
        assert status == 409, (name, answer)
        assert answer["error"] == (f"space-enforcer has no connector this control plane can call: runs on its "
                                   f"{kind} cluster, whose addresses this control plane does not record")


def test_an_unknown_participant_is_404(storage, declared):  # noqa: F811
    status, answer = call("connector_assets", http("GET", "/api/participants/nobody/connector/assets",
                                                   {"participant": "nobody"}))
    assert status == 404 and answer["error"].startswith("unknown participant 'nobody'")


def test_relayed_bytes_keep_their_headers():
    headers = {"Content-Type": "text/csv", "Content-Security-Policy": "sandbox; default-src 'none'",
               "Content-Disposition": 'attachment; filename="a.csv"'}
    response = _runtime.to_http_response(ApiResponse(200, b"a,b\n1,2\n", headers))
    assert response.get_body() == b"a,b\n1,2\n" and response.mimetype == "text/csv"
    assert response.headers["Content-Security-Policy"] == "sandbox; default-src 'none'"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert json.dumps(dict(response.headers)).count("attachment") == 1
