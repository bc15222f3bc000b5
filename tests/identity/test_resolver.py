"""The did:web resolver against loopback servers: every refusal has its own message."""

from __future__ import annotations

import json
import socket
import threading
from dataclasses import dataclass, field

import pytest

from mvd_core.identity import resolver
from mvd_core.identity.resolver import (
    DocumentTooLarge,
    HttpStatusError,
    IdMismatch,
    InsecureScheme,
    IpLiteralHost,
    MalformedDid,
    NotDidWeb,
    NotJson,
    PrivateAddress,
    PublishedMismatch,
    RedirectRefused,
    ResolutionError,
    ResolutionTimeout,
    Unreachable,
    resolve,
    verify_published,
)
from tests.fixtures.loopback import QuietHandler, self_signed_tls, serve

LOOPBACK_OK = {"allow_http_loopback": True, "allow_private": True}


@dataclass
class Site:
    """Path -> (status, headers, body); 'hang' paths never answer until released."""

    pages: dict[str, tuple[int, dict[str, str], bytes]] = field(default_factory=dict)
    release: threading.Event = field(default_factory=threading.Event)
    hits: list[str] = field(default_factory=list)

    def document(self, path: str, did: str, **extra) -> dict:
        doc = {"@context": ["https://www.w3.org/ns/did/v1"], "id": did, **extra}
        self.pages[path] = (200, {"Content-Type": "application/did+json"}, json.dumps(doc).encode())
        return doc


def handler_for(site: Site) -> type[QuietHandler]:
    class Handler(QuietHandler):
        def do_GET(self) -> None:
            site.hits.append(self.path)
            if self.path == "/hang/did.json":
                site.release.wait(10)
                return self.send(200, b"{}", {"Content-Type": "application/json"})
            if self.path == "/chunked/did.json":  # no Content-Length, more than 64 KiB
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                chunk = b" " * 8192
                for _ in range(10):
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                self.wfile.write(b"0\r\n\r\n")
                return
            if self.path.startswith("/odd-length/"):  # a Content-Length of Unicode digits
                status, headers, body = site.pages[self.path]
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", "\u00b2")
                self.send_header("Connection", "close")  # the body ends where the connection does
                self.end_headers()
                self.wfile.write(body)
                self.close_connection = True
                return
            status, headers, body = site.pages.get(self.path, (404, {}, b"not found"))
            self.send(status, body, headers)

    return Handler


@pytest.fixture
def site():
    s = Site()
    with serve(handler_for(s)) as url:
        s.port = int(url.rsplit(":", 1)[1])  # type: ignore[attr-defined]
        yield s
        s.release.set()


def did(site: Site, *path: str) -> str:
    return ":".join(["did:web", f"localhost%3A{site.port}", *path])  # type: ignore[attr-defined]


def test_resolves_a_loopback_document_when_allowed(site):
    d = did(site, "ok")
    doc = site.document("/ok/did.json", d)
    assert resolve(d, **LOOPBACK_OK) == doc
    assert site.hits == ["/ok/did.json"]


def test_well_known_path_without_path_segments(site):
    d = did(site)
    site.document("/.well-known/did.json", d)
    assert resolve(d, **LOOPBACK_OK)["id"] == d


def test_follows_a_redirect_within_the_same_host(site):
    d = did(site, "moved")
    site.pages["/moved/did.json"] = (301, {"Location": "/new/did.json"}, b"")
    site.document("/new/did.json", d)
    assert resolve(d, **LOOPBACK_OK)["id"] == d


def test_refusals_each_have_their_own_message(site, monkeypatch):
    messages: dict[str, str] = {}

    def refused(kind, d, **options):
        with pytest.raises(kind) as caught:
            resolve(d, **options)
        assert isinstance(caught.value, ResolutionError)
        messages[kind.__name__] = str(caught.value)
        return str(caught.value)

    assert "is a did:key DID; only did:web" in refused(NotDidWeb, "did:key:z6MkhaXgBZD")
    assert "not a DID" in refused(NotDidWeb, "https://example.com/did.json")
    assert "names the IP address 127.0.0.1" in refused(IpLiteralHost, f"did:web:127.0.0.1%3A{site.port}", **LOOPBACK_OK)
    assert "invalid path segment" in refused(MalformedDid, "did:web:example.com:..")

    site.pages["/big/did.json"] = (200, {"Content-Type": "application/json"}, b" " * (64 * 1024 + 1))
    assert "65537 bytes, over the 65536-byte limit" in refused(DocumentTooLarge, did(site, "big"), **LOOPBACK_OK)
    assert "over the 65536-byte limit" in refused(DocumentTooLarge, did(site, "chunked"), **LOOPBACK_OK)

    site.pages["/html/did.json"] = (200, {"Content-Type": "text/html"}, b"<html></html>")
    assert "served as 'text/html', not as JSON" in refused(NotJson, did(site, "html"), **LOOPBACK_OK)
    site.pages["/broken/did.json"] = (200, {"Content-Type": "application/json"}, b'{"id": ')
    broken = refused(NotJson, did(site, "broken"), **LOOPBACK_OK)
    assert "does not contain valid JSON" in broken and "line 1" in broken
    site.pages["/array/did.json"] = (200, {"Content-Type": "application/json"}, b"[]")
    assert "holds a JSON list, not a DID document" in refused(NotJson, did(site, "array"), **LOOPBACK_OK)

    site.document("/other/did.json", "did:web:someone-else.example")
    mismatch = refused(IdMismatch, did(site, "other"), **LOOPBACK_OK)
    assert "has id 'did:web:someone-else.example', which is not the DID" in mismatch

    site.pages["/away/did.json"] = (302, {"Location": "https://attacker.example/did.json"}, b"")
    away = refused(RedirectRefused, did(site, "away"), **LOOPBACK_OK)
    assert "redirects to another host (https://attacker.example)" in away
    site.pages["/port/did.json"] = (302, {"Location": "http://localhost:1/did.json"}, b"")
    assert "another host" in refused(RedirectRefused, did(site, "port"), **LOOPBACK_OK)

    assert "answered HTTP 404" in refused(HttpStatusError, did(site, "missing"), **LOOPBACK_OK)
    loopback = refused(PrivateAddress, did(site, "ok"))
    assert "a loopback address" in loopback and "MVD_ALLOW_PRIVATE_HOSTS" in loopback

    routes = {f"https://localhost:{site.port}/": f"http://127.0.0.1:{site.port}/"}
    insecure = refused(InsecureScheme, did(site, "ok"), allow_private=True, routes=routes)
    assert "plain HTTP" in insecure and "MVD_ALLOW_HTTP_LOOPBACK" in insecure

    assert len(set(messages.values())) == len(messages)


@pytest.mark.parametrize(
    "address, kind",
    [("10.1.2.3", "private or reserved"), ("169.254.169.254", "link-local"), ("fd00::1", "private or reserved"),
     ("::ffff:192.168.0.1", "private or reserved")],
)
def test_names_resolving_to_non_public_addresses_are_refused(monkeypatch, address, kind):
    family = socket.AF_INET6 if ":" in address else socket.AF_INET

    def fake_getaddrinfo(host, port, *args, **kwargs):
        assert host == "intranet.example"
        return [(family, socket.SOCK_STREAM, 6, "", (address, port))]

    monkeypatch.setattr(socket, "getaddrinfo", fake_getaddrinfo)
    with pytest.raises(PrivateAddress, match=f"resolves to .*, a {kind} address"):
        resolve("did:web:intranet.example")


def test_a_public_name_with_one_private_address_is_refused(monkeypatch):
    def fake_getaddrinfo(host, port, *args, **kwargs):
        return [
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", port)),
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port)),
        ]

    monkeypatch.setattr(socket, "getaddrinfo", fake_getaddrinfo)
    with pytest.raises(PrivateAddress, match="127.0.0.1"):
        resolve("did:web:rebind.example")


def test_unknown_host(monkeypatch):
    def fail(*args, **kwargs):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", fail)
    with pytest.raises(resolver.HostNotFound, match="cannot resolve host 'nowhere.example'"):
        resolve("did:web:nowhere.example")


def test_read_timeout(site):
    with pytest.raises(ResolutionTimeout, match="timed out"):
        resolve(did(site, "hang"), timeout=0.3, **LOOPBACK_OK)


def test_connection_refused_is_unreachable():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(Unreachable, match=f"cannot connect to localhost:{port}"):
        resolve(f"did:web:localhost%3A{port}", **LOOPBACK_OK)


def test_https_with_certificate_checks(tmp_path):
    tls = self_signed_tls(tmp_path / "tls")
    s = Site()
    with serve(handler_for(s), tls=tls) as url:
        port = int(url.rsplit(":", 1)[1])
        d = f"did:web:localhost%3A{port}:secure"
        doc = s.document("/secure/did.json", d)
        # trusted CA: resolves over HTTPS (plain HTTP not allowed here)
        assert resolve(d, allow_private=True, ssl_context=tls.client_context()) == doc
        # the system trust store does not know the self-signed certificate
        with pytest.raises(Unreachable, match="TLS with localhost"):
            resolve(d, allow_private=True)


def test_verify_published(site):
    d = did(site, "pub")
    doc = site.document("/pub/did.json", d, verificationMethod=[{"publicKeyJwk": {"kid": "new"}}])
    assert verify_published(d, doc, **LOOPBACK_OK) == doc
    stale = {**doc, "verificationMethod": [{"publicKeyJwk": {"kid": "old"}}]}
    with pytest.raises(PublishedMismatch, match=r"serves key\(s\) \['new'\] but key\(s\) \['old'\] were published"):
        verify_published(d, stale, **LOOPBACK_OK)
    with pytest.raises(PublishedMismatch, match="differs from the published one in: service"):
        verify_published(d, {**doc, "service": []}, **LOOPBACK_OK)


def test_https_redirect_to_plain_http_on_the_same_host_is_refused(tmp_path):
    tls = self_signed_tls(tmp_path / "tls")
    s = Site()
    with serve(handler_for(s), tls=tls) as url:
        port = int(url.rsplit(":", 1)[1])
        s.pages["/down/did.json"] = (302, {"Location": f"http://localhost:{port}/plain/did.json"}, b"")
        with pytest.raises(RedirectRefused, match="redirects from HTTPS to http: refusing the downgrade"):
            resolve(f"did:web:localhost%3A{port}:down", allow_private=True, ssl_context=tls.client_context())


@pytest.fixture
def lookups(monkeypatch) -> list[str]:
    """Every host name the resolver asks DNS about."""
    asked: list[str] = []
    monkeypatch.setattr(socket, "getaddrinfo", lambda host, *a, **k: asked.append(host) or [])
    return asked


@pytest.mark.parametrize(
    ("did", "kind", "says"),
    [
        *((d, MalformedDid, "never dropped") for d in [
            "did:web:exa%0d%0ample.com", "did:web:exa%09mple.com", "did:web:example.com%20", "did:web:example.com%00",
            "did:web:%00"]),
        *((d, IpLiteralHost, "IP literal") for d in [
            "did:web:%5B%3A%3A1%5D", "did:web:%5B%3A%3A1%5D%3A8443", "did:web:127.1", "did:web:2130706433",
            "did:web:%3A%3A1"]),
    ],
)
def test_a_host_that_is_not_a_dns_name_is_refused_before_any_lookup(lookups, did, kind, says):
    with pytest.raises(kind) as info:
        resolve(did, allow_private=True)
    assert says in str(info.value) and "invalid port" not in str(info.value)
    assert lookups == []


def test_a_content_length_of_unicode_digits_is_ignored_not_a_crash(site):
    """'²'.isdigit() is true and int('²') raises: a hostile server must not get past the resolver's errors."""
    d = did(site, "odd-length")
    doc = site.document("/odd-length/did.json", d)
    assert resolve(d, **LOOPBACK_OK) == doc


def test_a_number_too_long_to_convert_is_not_json_not_a_crash(site):
    """json.loads raises a plain ValueError (no line or column) for an integer over Python's digit limit."""
    d = did(site, "long-number")
    site.pages["/long-number/did.json"] = (200, {"Content-Type": "application/json"}, b'{"n": ' + b"9" * 5000 + b"}")
    with pytest.raises(NotJson) as caught:
        resolve(d, **LOOPBACK_OK)
    assert "does not contain valid JSON" in str(caught.value)
