"""GET /api/openapi.json on the Functions app: the document `mvd serve` serves too."""

from __future__ import annotations

from mvd_core.api import openapi
from tests.functions.test_invoke import call, http


def test_the_functions_app_serves_the_openapi_document(storage):
    status, document = call("openapi_document", http("GET", "/api/openapi.json"))
    assert status == 200
    assert document == openapi.document()
    assert document["paths"]["/api/runs/{id}"]["get"]["operationId"] == "get_run"
