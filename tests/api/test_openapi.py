"""GET /api/openapi.json describes the API the handlers serve, and schemathesis fuzzes a real
`mvd serve` against it: no 5xx, every status and body as declared, no traceback in the log."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator

import httpx
import pytest

from mvd_core.api import models, openapi
from mvd_core.api.handlers import ROUTES
from mvd_core.runs import RunAccepted, RunSummary
from tests.e2e.conftest import TOKEN, ServeProcess
from tests.fixtures.emulators import free_port

WEBHOOK_SECRET = "openapi-webhook-secret-0123"
CONFIG = """
seed = 20261201
[generation]
max-examples = 25  # per operation and phase: 15 to 40 s for the whole API, by the machine's load
database = "none"
[checks]
positive_data_acceptance.enabled = false
[auth.openapi.apiToken]
bearer = "${FUZZ_API_TOKEN}"
[parameters]
"path.source" = "ci"  # a configured webhook source, so deliveries reach the signature check
"""


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> Iterator[ServeProcess]:
    home = tmp_path_factory.mktemp("openapi") / "home"
    port = free_port()
    env = {**os.environ, "MVD_HOME": str(home), "MVD_PORT": str(port), "MVD_API_TOKEN": TOKEN,
           "MVD_SIM_READY_DELAY": "0.05", "MVD_WEBHOOK_SECRETS": json.dumps({"ci": WEBHOOK_SECRET})}
    process = ServeProcess(home, port, env)
    process.start()
    yield process
    process.stop()


def test_the_document_is_served_and_names_every_route(served):
    response = httpx.get(f"{served.url}{openapi.PATH}", timeout=10)
    assert response.status_code == 200 and response.headers["content-type"].startswith("application/json")
    document = response.json()
    assert document["openapi"] == "3.1.0"
    served_routes = {(method.upper(), path) for path, ops in document["paths"].items() for method in ops}
    assert served_routes == {(r.method, r.template) for r in [*ROUTES, *openapi.LOCAL_ROUTES]}


def test_bodies_are_the_wire_models():
    """Each response and request body is the pydantic model's own schema, not a copy."""
    document = openapi.document()
    components = document["components"]["schemas"]
    for model in (RunSummary, models.DataspaceView, RunAccepted, models.PlanView, models.ErrorBody):
        generated = model.model_json_schema(mode="serialization", by_alias=True,
                                            ref_template="#/components/schemas/{model}")
        generated.pop("$defs", None)
        assert components[model.__name__] == generated, model.__name__
    run = document["paths"]["/api/runs/{id}"]["get"]["responses"]
    assert run["200"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/RunSummary"}
    command = document["paths"]["/api/dataspace/{action}"]["post"]
    assert command["requestBody"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/CommandBody"}
    assert components["CommandBody"]["additionalProperties"] is False
    assert command["security"] == [{"apiToken": []}, {"functionKey": []}]
    # Every field of a response is always sent, so the schema requires it.
    assert set(components["RunSummary"]["required"]) == set(components["RunSummary"]["properties"])


def test_schemathesis_finds_nothing(served, tmp_path):
    """schemathesis's every check (server errors; statuses, content types, headers and bodies
    as declared; invalid input refused; auth enforced; undeclared methods 405) but
    positive_data_acceptance (a valid run id that names no run is rightly a 404), and no
    traceback in the server's log. Its CLI, in its own process: the token reaches it in the
    environment, never on a command line."""
    config = tmp_path / "schemathesis.toml"
    config.write_text(CONFIG)
    env = {**os.environ, "FUZZ_API_TOKEN": TOKEN}
    result = subprocess.run(
        [sys.executable, "-m", "schemathesis.cli", "--config-file", str(config), "--no-color", "run",
         f"{served.url}{openapi.PATH}"],
        check=False, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=240,
    )
    assert result.returncode == 0, result.stdout[-12000:] + result.stderr[-3000:]
    assert "generated" in result.stdout, result.stdout[-3000:]  # it ran cases, not just loaded
    # Nothing it sent reached the log as a traceback: neither uvicorn's (the process output)
    # nor the control plane's (mvd.log).
    output = "\n".join(p.read_text() for p in served.home.parent.glob("serve-*.log"))
    assert "Traceback" not in output, output[-3000:]
    log_file = served.home / "mvd.log"
    records = [json.loads(line) for line in log_file.read_text().splitlines()] if log_file.exists() else []
    assert [r for r in records if "exc" in r] == []
