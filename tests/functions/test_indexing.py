"""Every function of function_app is indexed with the bindings Azure needs (no host)."""

from __future__ import annotations

import inspect
import json
from pathlib import Path

import pytest

from tests.functions.support import indexed as _indexed

REPO = Path(__file__).resolve().parents[2]


def _functions() -> dict[str, dict]:
    return {fn.get_function_name(): json.loads(fn.get_function_json()) for fn in _indexed()}


def _binding(fn: dict, type_: str) -> dict:
    [binding] = [b for b in fn["bindings"] if b["type"] == type_]
    return binding


# host.json's routePrefix is "", so these are the paths after the host name.
EXPECTED_HTTP = {
    "dataspace_command": ("api/dataspace/{action}", ["POST"], "FUNCTION"),
    "dataspace_view": ("api/dataspace", ["GET"], "FUNCTION"),
    "dataspace_plan": ("api/dataspace/plan", ["GET"], "FUNCTION"),
    "participant_list": ("api/dataspace/participants.json", ["GET"], "ANONYMOUS"),
    "dataset_data": ("api/dataspace/data/{participant}/{dataset}", ["GET"], "ANONYMOUS"),
    "dataspace_endpoints": ("api/dataspace/endpoints", ["GET"], "FUNCTION"),
    "runs_list": ("api/runs", ["GET"], "FUNCTION"),
    "run_status": ("api/runs/{id}", ["GET"], "FUNCTION"),
    "webhook": ("api/webhooks/{source}", ["POST"], "ANONYMOUS"),
    "openapi_document": ("api/openapi.json", ["GET"], "FUNCTION"),
    "connector_assets": ("api/participants/{participant}/connector/assets", ["GET"], "FUNCTION"),
    "connector_catalog": ("api/participants/{participant}/connector/catalog", ["GET"], "FUNCTION"),
    "connector_negotiations": ("api/participants/{participant}/connector/negotiations", ["GET"], "FUNCTION"),
    "connector_negotiate": ("api/participants/{participant}/connector/negotiations", ["POST"], "FUNCTION"),
    "connector_negotiation": ("api/participants/{participant}/connector/negotiations/{id}", ["GET"], "FUNCTION"),
    "connector_transfers": ("api/participants/{participant}/connector/transfers", ["GET"], "FUNCTION"),
    "connector_transfer_start": ("api/participants/{participant}/connector/transfers", ["POST"], "FUNCTION"),
    "connector_transfer": ("api/participants/{participant}/connector/transfers/{id}", ["GET"], "FUNCTION"),
    "connector_transfer_data": ("api/participants/{participant}/connector/transfers/{id}/data", ["GET"], "FUNCTION"),
    "participants_list": ("api/participants", ["GET"], "FUNCTION"),
    "participants_join": ("api/participants", ["POST"], "ANONYMOUS"),
    "participants_invite": ("api/participants/invites", ["POST"], "FUNCTION"),
    "participants_leave": ("api/participants/{did}", ["DELETE"], "FUNCTION"),
    "dashboard": ("{root:maxlength(0)?}", ["GET"], "ANONYMOUS"),
    "dashboard_asset": ("static/{name}", ["GET"], "ANONYMOUS"),
}
PAGES = ("dashboard", "dashboard_asset")  # the dashboard's page and files, not API routes


@pytest.mark.parametrize("name", sorted(EXPECTED_HTTP))
def test_http_functions(name):
    fn = _functions()[name]
    trigger = _binding(fn, "httpTrigger")
    route, methods, auth = EXPECTED_HTTP[name]
    assert (trigger["route"], trigger["methods"], trigger["authLevel"]) == (route, methods, auth)
    assert _binding(fn, "http")["direction"] == "OUT"
    if name not in PAGES:
        assert _binding(fn, "durableClient")["name"] == "client"


def test_api_routes_match_the_shared_handlers():
    """Both hosts answer the same paths: the Functions routes are the handlers' ROUTES."""
    from mvd_core.api.handlers import ROUTES

    functions = _functions()
    indexed = set()
    for name, (route, methods, _) in EXPECTED_HTTP.items():
        if name not in PAGES:
            indexed |= {(m, "/" + route) for m in methods}
            assert _binding(functions[name], "httpTrigger")["route"] == route
    assert indexed == {(route.method, route.template) for route in ROUTES}


def test_timer_runs_at_the_blueprint_schedule():
    from mvd_core.dataspace import load

    trigger = _binding(_functions()["nightly_reset"], "timerTrigger")
    assert trigger["schedule"] == load().schedule.reset == "0 0 0 * * *"
    assert trigger["runOnStartup"] is False
    assert _binding(_functions()["nightly_reset"], "durableClient")["name"] == "client"
    [timer] = [f for f in _indexed() if f.get_function_name() == "nightly_reset"]
    retry = timer.get_settings_dict("retry_policy")
    assert retry["strategy"] == "exponential_backoff" and int(retry["max_retry_count"]) == 5


def test_queue_triggers():
    functions = _functions()
    command = _binding(functions["command_received"], "queueTrigger")
    poison = _binding(functions["command_poisoned"], "queueTrigger")
    assert command["queueName"] == "mvd-commands" and poison["queueName"] == "mvd-commands-poison"
    assert command["connection"] == poison["connection"] == "MVD_STORAGE_CONNECTION"
    assert _binding(functions["command_received"], "durableClient")["name"] == "client"


def test_nothing_unexpected_is_indexed():
    names = set(_functions())
    expected = set(EXPECTED_HTTP) | {"nightly_reset", "command_received", "command_poisoned"}
    from mvd_core.workflow.functions import ACTIVITIES, ORCHESTRATORS

    assert names == expected | set(ORCHESTRATORS) | set(ACTIVITIES)


def test_binding_names_match_parameters():
    """The worker refuses a function whose parameters do not match its bindings."""
    for fn in _indexed():
        user = fn.get_user_function()
        user = getattr(user, "client_function", user)
        params = set(inspect.signature(user).parameters)
        names = {b.name for b in fn.get_bindings() if b.name != "$return"}
        assert names == params, fn.get_function_name()


def test_host_json():
    host = json.loads((REPO / "host.json").read_text())
    assert host["version"] == "2.0"
    assert host["extensionBundle"] == {"id": "Microsoft.Azure.Functions.ExtensionBundle", "version": "[4.*, 5.0.0)"}
    assert host["extensions"]["durableTask"]["hubName"] == "mvdcontrolplane"
    queues = host["extensions"]["queues"]
    assert queues["maxDequeueCount"] == 5 and queues["messageEncoding"] == "base64"
    assert host["extensions"]["http"]["routePrefix"] == ""  # "/" is the dashboard


def test_publish_package_leaves_out_local_state_and_tools():
    ignored = {line.strip() for line in (REPO / ".funcignore").read_text().splitlines()
               if line.strip() and not line.startswith("#")}
    assert {".venv", "node_modules", "tests", ".mvd", "infra", "local.settings.json"} <= ignored
    assert not ignored & {"mvd_core", "blueprints", "function_app.py", "host.json", "requirements.txt"}
