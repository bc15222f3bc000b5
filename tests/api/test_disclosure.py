"""What an unauthenticated caller may read: no filesystem paths in any answer."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from mvd_core.api.handlers import ApiRequest, ApiResponse, guarded, redact_paths

HOME = Path("/srv/mvd state/.mvd")


@pytest.mark.parametrize(("text", "redacted"), [
    ("key abc in local vault /srv/mvd state/.mvd/vaults/galactic-turbine",
     "key abc in local vault $MVD_HOME/vaults/galactic-turbine"),
    ("simulated cluster 'x' (no real Kubernetes; state in /srv/mvd state/.mvd/clusters)",
     "simulated cluster 'x' (no real Kubernetes; state in $MVD_HOME/clusters)"),
    ("cannot write /var/lib/dids/x/did.json: permission denied", "cannot write <path>: permission denied"),
    ("kubeconfig '/home/alice/.kube/config' has no context 'kind-x'", "kubeconfig '<path>' has no context 'kind-x'"),
    ("[Errno 13] Permission denied: '/etc/mvd/key.pem'", "[Errno 13] Permission denied: '<path>'"),
    ("/tmp/x", "<path>"),
    # Not paths: URLs, DIDs, Kubernetes references, ratios.
    ("published at http://localhost:7080/dids/gt/did.json, resolves", "published at http://localhost:7080/dids/gt/did.json, resolves"),
    ("https://[::1]:7080/x and https://example.com/a/b", "https://[::1]:7080/x and https://example.com/a/b"),
    ("did:web:localhost%3A7080:dids:gt", "did:web:localhost%3A7080:dids:gt"),
    ("waiting for deployment/connector (0/1 ready)", "waiting for deployment/connector (0/1 ready)"),
    ("$MVD_HOME/vaults/x", "$MVD_HOME/vaults/x"),
])
def test_paths_are_redacted_and_nothing_else(text, redacted):
    assert redact_paths(text, HOME) == redacted


def test_every_string_of_a_body_is_redacted():
    body = {"a": ["/etc/passwd", {"b": "in /srv/mvd state/.mvd/x"}], "n": 3, "ok": True, "none": None}
    assert redact_paths(body, HOME) == {"a": ["<path>", {"b": "in $MVD_HOME/x"}], "n": 3, "ok": True, "none": None}


@pytest.mark.parametrize("authenticated", [False, True])
def test_answers_show_paths_to_authenticated_callers_only(authenticated, monkeypatch, tmp_path):
    from mvd_core.settings import get_settings

    monkeypatch.setenv("MVD_HOME", str(tmp_path))
    get_settings.cache_clear()
    detail = f"in local vault {tmp_path}/vaults/gt"

    @guarded
    async def handler(request, backend):
        return ApiResponse(200, {"detail": detail})

    @guarded
    async def failing(request, backend):
        from mvd_core.errors import MvdError

        raise MvdError(f"cannot read {tmp_path}/engine.db")

    request = ApiRequest("GET", "/api/runs/x", authenticated=authenticated)
    shown = asyncio.run(handler(request, None)).body["detail"]
    error = asyncio.run(failing(request, None)).body["error"]
    if authenticated:
        assert shown == detail and str(tmp_path) in error
    else:
        assert shown == "in local vault $MVD_HOME/vaults/gt" and error == "cannot read $MVD_HOME/engine.db"
