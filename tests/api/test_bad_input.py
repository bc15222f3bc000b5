"""Requests `mvd serve` cannot serve get a 4xx JSON error and leave no traceback in the log:
deep JSON, numbers in headers and query strings, control characters and very long paths,
routes and methods that do not exist. A real server (uvicorn in this process) on a free port."""

from __future__ import annotations

import httpx
import pytest

from mvd_core.api import webhooks
from mvd_core.api.models import ErrorBody
from tests.e2e.conftest import TOKEN, run_plane

WEBHOOK_SECRET = "webhook-secret-1"  # run_plane's source "ci"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def served(monkeypatch):
    yield from run_plane(monkeypatch)


@pytest.fixture
def logs(served, capture_logs):
    """Attached after uvicorn set up its loggers (it replaces their handlers)."""
    return capture_logs


def refused(response: httpx.Response, status: int | None = None) -> ErrorBody:
    assert 400 <= response.status_code < 500, (response.status_code, response.text[:300])
    if status is not None:
        assert response.status_code == status, response.text[:300]
    assert response.headers["content-type"].startswith("application/json")
    return ErrorBody.model_validate(response.json())


def no_traceback(logs) -> None:
    assert logs.tracebacks == [], logs.tracebacks[0][-2000:]


def nested(depth: int, inner: str = "1") -> bytes:
    return ('{"":' * depth + inner + "}" * depth).encode()


# -- deep JSON, under every size limit ---------------------------------------------------------

@pytest.mark.parametrize("body", [
    nested(10_000),                                     # past Python's recursion limit
    b'{"rotateKeys": ' + b"[" * 30_000 + b"]" * 30_000 + b"}",
    nested(200),                                        # deep, though Python could parse it
    b'{"rotateKeys": [' + b"[" * 100 + b"]" * 100 + b"]}",
], ids=["objects-10000", "arrays-30000", "objects-200", "arrays-100"])
def test_deep_json_command_body_is_400(served, logs, body):
    assert len(body) < 65536
    error = refused(httpx.post(f"{served.url}/api/dataspace/reset", content=body, headers=AUTH, timeout=30), 400)
    assert "nested" in error.error
    no_traceback(logs)
    assert served.host.registry.recent() == []


@pytest.mark.parametrize("depth", [10_000, 200])
def test_deep_json_webhook_body_is_400(served, logs, depth):
    body = nested(depth)
    headers = webhooks.signed_headers(WEBHOOK_SECRET, body, f"deep-{depth}")
    error = refused(httpx.post(f"{served.url}/api/webhooks/ci", content=body, headers=headers, timeout=30), 400)
    assert "nested" in error.error
    no_traceback(logs)
    assert served.host.registry.recent() == []


# -- whole numbers in headers and queries ----------------------------------------------------

@pytest.mark.parametrize("timestamp", ["9" * 5000, "0" * 5000, "1_700_000_000", "-1", "1e9", "+1700000000"])
def test_signed_but_malformed_timestamp_is_401(served, logs, timestamp):
    """Signed with the right secret, so only the timestamp's parsing stands between it and a run."""
    headers = webhooks.signed_headers(WEBHOOK_SECRET, b"", "ts-1", timestamp=timestamp)  # type: ignore[arg-type]
    error = refused(httpx.post(f"{served.url}/api/webhooks/ci", headers=headers, timeout=10), 401)
    assert "X-MVD-Timestamp" in error.error
    no_traceback(logs)
    assert served.host.registry.recent() == []


@pytest.mark.parametrize("timestamp", ["\u00b2", "\u00b9\u00b2\u00b3", "1700000000\u00b2"])
def test_non_ascii_digits_in_timestamp_are_401(served, logs, timestamp):
    headers = {webhooks.TIMESTAMP_HEADER: timestamp.encode("latin-1"), webhooks.DELIVERY_HEADER: "ts-2",
               webhooks.SIGNATURE_HEADER: "sha256=" + "0" * 64}
    refused(httpx.post(f"{served.url}/api/webhooks/ci", headers=headers, timeout=10), 401)
    no_traceback(logs)


@pytest.mark.parametrize("limit", ["9" * 5000, "%C2%B2", "%D9%A1", "1_0", "+5", "-1", "%205", "0", "201", ""])
def test_malformed_limit_is_400(served, logs, limit):
    error = refused(httpx.get(f"{served.url}/api/runs?limit={limit}", timeout=10), 400)
    assert "limit" in error.error
    no_traceback(logs)


# -- control characters in paths -------------------------------------------------------------

CONTROLS = ["%00", "%01", "%09", "%0A", "%0D", "%1B", "%7F", "%C2%85"]
PLACES = ["/dids/space-enforcer/did.json{c}", "/dids/{c}/did.json", "/dids/space-enforcer{c}/did.json",
          "/api/runs/{c}", "/api/dataspace{c}", "/static/{c}app.js", "/{c}", "/healthz{c}"]


@pytest.mark.parametrize("control", CONTROLS)
@pytest.mark.parametrize("place", PLACES)
def test_control_character_in_path_is_400(served, logs, place, control):
    error = refused(httpx.get(served.url + place.format(c=control), timeout=10), 400)
    assert "control character" in error.error
    no_traceback(logs)


def test_control_character_in_a_post_path_changes_nothing(served, logs):
    refused(httpx.post(f"{served.url}/api/dataspace/reset%00", headers=AUTH, timeout=10), 400)
    refused(httpx.post(f"{served.url}/api/webhooks/ci%0A", timeout=10), 400)
    no_traceback(logs)
    assert served.host.registry.recent() == []


# -- very long paths -------------------------------------------------------------------------

@pytest.mark.parametrize("path", [
    "/dids/" + "a/" * 3000 + "did.json",
    "/dids/" + "/" * 3000 + "did.json",
    "/api/runs/" + "x/" * 3000,
    "/" + "a/" * 100,
    "/dids/" + "a" * 5000 + "/did.json",
    "/api/runs/" + "m" * 5000,
])
def test_very_long_path_is_414(served, logs, path):
    error = refused(httpx.get(served.url + path, timeout=10), 414)
    assert "path" in error.error
    no_traceback(logs)


@pytest.mark.parametrize("path", [
    "/dids/space-enforcer/" + "b" * 300 + "/did.json",  # one name longer than the filesystem takes
    "/dids/" + "a" * 256 + "/did.json",
    "/dids/space-enforcer/" + "x/" * 25 + "did.json",  # deep, under the limits
])
def test_did_paths_under_the_limits_but_unnamable_are_404(served, logs, path):
    (served.settings.home / "dids" / "space-enforcer").mkdir(parents=True, exist_ok=True)  # as after a deploy
    refused(httpx.get(served.url + path, timeout=10), 404)
    no_traceback(logs)


# -- what no route serves: the same JSON error body ------------------------------------------

@pytest.mark.parametrize(("method", "path", "status"), [
    ("GET", "/nothing", 404),
    ("GET", "/static/nothing.js", 404),
    ("POST", "/healthz", 405),
    ("DELETE", "/", 405),
    ("PUT", "/dids/space-enforcer/did.json", 405),
    ("OPTIONS", "/api/runs", 405),
])
def test_unrouted_requests_get_the_json_error_body(served, logs, method, path, status):
    response = httpx.request(method, served.url + path, headers=AUTH, timeout=10)
    refused(response, status)
    if status == 405:
        assert response.headers["allow"]
    no_traceback(logs)


def test_unknown_field_names_are_quoted_not_echoed_raw(served, logs):
    """A key that is not valid UTF-8 once decoded (a lone surrogate) cannot break the answer."""
    body = b'{"\\ud800": 1, "' + b"k" * 5000 + b'": 2}'
    error = refused(httpx.post(f"{served.url}/api/dataspace/reset", content=body, headers=AUTH, timeout=10), 400)
    assert "unknown field" in error.error and len(error.error) < 400
    no_traceback(logs)
