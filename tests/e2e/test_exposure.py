"""What `mvd serve` shows, and to whom: the Host names it answers to, security headers on
every response, no filesystem paths without the token, and reads that need the token when it
listens beyond loopback."""

from __future__ import annotations

import os
import re
from pathlib import Path

import httpx
import pytest

from mvd_core.api.webhooks import signed_headers
from mvd_core.host.security import allowed_hosts, parse_host
from mvd_core.settings import Settings
from tests.e2e.conftest import TOKEN, ServeProcess
from tests.fixtures.emulators import free_port

AUTH = {"Authorization": f"Bearer {TOKEN}"}
# One path of each kind the server answers: API reads, a mutating call, DID documents, the page, its files.
PATHS = ["/api/dataspace", "/api/runs", "/api/dataspace/plan", "/dids/galactic-turbine/did.json", "/",
         "/static/app.js", "/healthz", "/api/no-such-route"]
SECURITY = {
    "content-security-policy": "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                               "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
}


def _hostile_hosts(port: int) -> list[str]:
    return [
        f"attacker.example:{port}",       # a DNS-rebinding page's own name
        "attacker.example",
        f"localhost.attacker.example:{port}",
        f"localhost:{port + 1}",          # a loopback name, but another port
        "localhost",                      # port 80 implied
        f"127.0.0.2:{port}",
        f"[::2]:{port}",
        f"0x7f000001:{port}",
        f"localhost:{port}@attacker.example",
        f"localhost:{port}:{port}",
        f"localhost :{port}",
    ]


def test_every_path_refuses_a_host_it_is_not_reached_at(plane):
    for path in PATHS:
        for host in _hostile_hosts(plane.settings.port):
            for method, kwargs in (("GET", {}), ("POST", {"headers": AUTH})):
                resp = httpx.request(method, plane.url + path, headers={"Host": host, **kwargs.get("headers", {})},
                                     timeout=10)
                assert resp.status_code == 421, (method, path, host, resp.status_code, resp.text[:200])
                assert resp.headers["content-type"] == "application/json"
                assert "does not answer to the host" in resp.json()["error"]
                assert resp.headers["content-security-policy"] == SECURITY["content-security-policy"]
    assert plane.host.registry.recent() == []  # nothing started through a refused host


def test_loopback_names_with_the_port_are_served(plane):
    port = plane.settings.port
    for host in (f"localhost:{port}", f"127.0.0.1:{port}", f"[::1]:{port}", f"LOCALHOST:{port}", f"localhost.:{port}"):
        resp = httpx.get(f"{plane.url}/api/dataspace", headers={"Host": host}, timeout=30)
        assert resp.status_code == 200, (host, resp.text[:200])


def test_a_request_with_two_host_headers_is_refused(plane):
    import socket

    port = plane.settings.port
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(f"GET /api/runs HTTP/1.1\r\nHost: localhost:{port}\r\nHost: attacker.example\r\n"
                     "Connection: close\r\n\r\n".encode())
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400 "), head  # the HTTP parser refuses it before any route
    assert b"runs" not in body


@pytest.mark.parametrize(("public_url", "allowed", "refused"), [
    ("https://mvd.example.org", ["mvd.example.org", "mvd.example.org:443", "MVD.example.org."],
     ["mvd.example.org:80", "mvd.example.org:7080", "example.org", "other.example.org"]),
    ("http://mvd.example.org:8443/base", ["mvd.example.org:8443"], ["mvd.example.org", "mvd.example.org:443"]),
    ("http://[2001:db8::7]:9000", ["[2001:db8::7]:9000"], ["[2001:db8::7]", "2001:db8::7"]),
])
def test_the_public_url_host_is_served(public_url, allowed, refused):
    hosts = allowed_hosts(Settings(public_url=public_url, port=7080))
    for host in allowed + ["localhost:7080", "127.0.0.1:7080", "[::1]:7080"]:
        assert parse_host(host) in hosts, host
    for host in refused + ["localhost", "localhost:7081"]:
        assert parse_host(host) not in hosts, host


def test_every_response_carries_the_security_headers(plane):
    responses = [httpx.get(plane.url + path, timeout=30) for path in PATHS]
    responses += [
        httpx.post(f"{plane.url}/api/dataspace/reset", timeout=10),  # 401
        httpx.post(f"{plane.url}/api/webhooks/nobody", timeout=10),  # 404
        httpx.get(f"{plane.url}/dids/nobody/did.json", timeout=10),  # 404
        httpx.get(f"{plane.url}/static/nothing.js", timeout=10),  # 404
    ]
    for resp in responses:
        for name, value in SECURITY.items():
            assert resp.headers.get(name) == value, (resp.request.url, resp.status_code, name)
    page = httpx.get(plane.url + "/", timeout=10).text
    # Nothing inline, so the policy needs no 'unsafe-inline': no script or style element without a
    # file, no style attribute, no event handler attribute.
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", page) and "<style" not in page
    assert not re.search(r"\s(style|on[a-z]+)\s*=", page, re.IGNORECASE)


_ABSOLUTE = re.compile(r"(?<![\w.~:/$%@+-])/[\w.-]+/")


def _paths_in(text: str) -> list[str]:
    return _ABSOLUTE.findall(text)


def test_run_details_show_no_paths_without_the_token(plane):
    home = str(plane.settings.home.resolve())
    resp = plane.post("provision")
    run_id = resp.json()["runId"]
    plane.wait(run_id)

    for path in (f"/api/runs/{run_id}", "/api/runs", "/api/dataspace"):
        anonymous = httpx.get(plane.url + path, timeout=30)
        assert anonymous.status_code == 200
        assert home not in anonymous.text and not _paths_in(anonymous.text), (path, _paths_in(anonymous.text))
        authenticated = httpx.get(plane.url + path, headers=AUTH, timeout=30)
        assert authenticated.status_code == 200
    run = httpx.get(f"{plane.url}/api/runs/{run_id}", timeout=30).json()
    vault = next(s for s in run["participants"]["galactic-turbine"]["steps"] if s["name"] == "vault")
    assert "in local vault $MVD_HOME/vaults/galactic-turbine" in vault["detail"]
    # The operator, with the token, still sees where things are.
    full = httpx.get(f"{plane.url}/api/runs/{run_id}", headers=AUTH, timeout=30).text
    assert f"{home}/vaults/galactic-turbine" in full
    # DID URLs are not paths: they stay.
    view = httpx.get(f"{plane.url}/api/dataspace", timeout=30).json()
    assert view["participants"][0]["didUrl"].startswith(f"http://localhost:{plane.settings.port}/dids/")


def test_an_unknown_webhook_source_lists_no_configured_one(plane):
    for source in ("gitlab", "c", "CI", "ci-"):
        resp = httpx.post(f"{plane.url}/api/webhooks/{source}", content=b"{}",
                          headers=signed_headers("webhook-secret-1", b"{}", "d-1"), timeout=10)
        assert resp.status_code == 404
        assert resp.json()["error"] == f"unknown webhook source {source!r}"


def _serve(tmp_path: Path, **env: str) -> ServeProcess:
    """`mvd serve` as a child process of this test's own; ``output(server)`` is what it printed."""
    home, port = tmp_path / "home", free_port()
    environment = {k: v for k, v in os.environ.items() if not k.startswith("MVD_")}
    environment.update(MVD_HOME=str(home), MVD_PORT=str(port), MVD_API_TOKEN=TOKEN, **env)
    server = ServeProcess(home, port, environment)
    server.start()
    return server


def output(server: ServeProcess) -> str:
    return "".join(f.read_text("utf-8", errors="replace") for f in server.home.parent.glob("serve-*.log"))


@pytest.mark.parametrize("bind", ["0.0.0.0", "::"])
def test_a_bind_beyond_loopback_warns_and_reads_need_the_token(tmp_path, bind):
    server = _serve(tmp_path, MVD_HOST=bind)
    url = f"http://[::1]:{server.port}" if bind == "::" else server.url
    try:
        warning = [line for line in output(server).splitlines() if "which other machines can reach" in line]
        assert len(warning) == 1 and "reads included, needs the API token" in warning[0], output(server)
        assert TOKEN not in output(server)
        for path in ("/api/dataspace", "/api/runs", "/api/dataspace/plan"):
            refused = httpx.get(url + path, timeout=30)
            assert refused.status_code == 401 and "reading needs it too" in refused.json()["error"], path
            assert httpx.get(url + path, headers=AUTH, timeout=60).status_code == 200, path
        # The page, its files and the DID documents stay public; the page asks for the token.
        for path in ("/", "/static/app.js", "/healthz"):
            assert httpx.get(url + path, timeout=10).status_code == 200, path
    finally:
        server.stop()


def test_anonymous_reads_can_be_opened_beyond_loopback(tmp_path):
    server = _serve(tmp_path, MVD_HOST="0.0.0.0", MVD_ANONYMOUS_READS="true")
    try:
        assert "API reads are open to anyone" in output(server)
        assert httpx.get(f"{server.url}/api/runs", timeout=30).status_code == 200
        assert httpx.post(f"{server.url}/api/dataspace/reset", timeout=30).status_code == 401
    finally:
        server.stop()


def test_reads_can_be_closed_on_loopback(tmp_path):
    server = _serve(tmp_path, MVD_ANONYMOUS_READS="false")
    try:
        assert "other machines" not in output(server)
        assert httpx.get(f"{server.url}/api/runs", timeout=30).status_code == 401
        assert httpx.get(f"{server.url}/api/runs", headers=AUTH, timeout=30).status_code == 200
    finally:
        server.stop()


@pytest.mark.parametrize(("host", "base"), [
    ("127.0.0.1", "http://127.0.0.1:7080"), ("::1", "http://[::1]:7080"), ("0.0.0.0", "http://localhost:7080"),
    ("::", "http://localhost:7080"), ("192.0.2.10", "http://192.0.2.10:7080"), ("fd00::5", "http://[fd00::5]:7080"),
])
def test_the_base_url_of_a_bind_address(host, base):
    """What DIDs and the allowed Host are built from when MVD_PUBLIC_URL is unset: an IPv6 bind
    is bracketed (it was 'http://:::7080', and every read a 500), a wildcard bind is localhost."""
    assert Settings(host=host, port=7080).base_url == base
