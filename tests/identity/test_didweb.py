"""did:web <-> URL for the hosts the blueprint declares."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mvd_core.dataspace import load
from mvd_core.dataspace.models import LocalDidHost
from mvd_core.identity.didweb import (
    InvalidDid,
    IpLiteralDid,
    did_for,
    did_from_host_and_path,
    did_to_url,
)


def test_seed_dids():
    dids = {p.id: did_for(p.identity.host, p.id) for p in load().participants}
    assert dids == {
        "galactic-turbine": "did:web:did.galactic-turbine.example",
        "space-enforcer": "did:web:mvdspaceenforcerdid.z6.web.core.windows.net",
        "interstellar-assembly": "did:web:interstellar-assembly-did.s3.eu-central-1.amazonaws.com",
    }
    assert did_to_url(dids["galactic-turbine"]) == "https://did.galactic-turbine.example/.well-known/did.json"


@pytest.mark.parametrize("base", ["http://127.0.0.1:7080", "http://[::1]:7080", None])
def test_a_loopback_local_host_is_named_localhost(base):
    did = did_for(LocalDidHost(kind="local", path=["x"]), "p1", local_base_url=base)
    assert did == "did:web:localhost%3A7080:dids:p1:x"
    assert did_to_url(did, scheme="http") == "http://localhost:7080/dids/p1/x/did.json"


def test_a_named_local_host_keeps_its_name():
    did = did_for(LocalDidHost(kind="local"), "p1", local_base_url="https://mvd.example.org")
    assert did == "did:web:mvd.example.org:dids:p1"


@pytest.mark.parametrize("did", ["did:web:", "did:web:a.example:..", "did:web:a.example/x", "did:web:a.example%3Axx"])
def test_malformed(did):
    with pytest.raises(InvalidDid):
        did_to_url(did)


_label = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?", fullmatch=True).filter(lambda s: not s.startswith("xn--"))
_tld = st.from_regex(r"[a-z]([a-z0-9-]{0,10}[a-z0-9])?", fullmatch=True)  # an all-digit last label is an address
_host = st.tuples(st.lists(_label, min_size=1, max_size=3), _tld).map(lambda t: ".".join([*t[0], t[1]]))
_segment = st.from_regex(r"[A-Za-z0-9_~-][A-Za-z0-9._~-]{0,12}", fullmatch=True).filter(lambda s: s not in (".", ".."))


@given(host=_host, port=st.none() | st.integers(1, 65535), path=st.lists(_segment, max_size=4))
def test_did_and_url_agree(host, port, path):
    did = did_from_host_and_path(host, port, path)
    url = urlsplit(did_to_url(did))
    assert url.scheme == "https" and url.hostname == host and url.port == port
    expected = "/" + "/".join([*path, "did.json"]) if path else "/.well-known/did.json"
    assert url.path == expected


# --- issue 10 item 4: a did:web host is a DNS name after percent-decoding ----------------

HIDDEN = ["%0d%0a", "%0d", "%0a", "%09", "%20", "%00", "%1b", "%7f", "%c2%85", "%c2%a0", "%e2%80%a8", "%e2%80%a9",
          "%e2%80%8b", "%c2%ad", "%ef%bb%bf"]


@pytest.mark.parametrize("hidden", HIDDEN)
@pytest.mark.parametrize("where", ["start", "middle", "end", "before-port"])
def test_control_characters_and_spaces_in_a_host_are_refused_not_dropped(hidden, where):
    host = {"start": f"{hidden}example.com", "middle": f"exa{hidden}mple.com", "end": f"example.com{hidden}",
            "before-port": f"example.com{hidden}%3A8443"}[where]
    with pytest.raises(InvalidDid) as info:
        did_to_url(f"did:web:{host}")
    assert "U+" in str(info.value) and "never dropped" in str(info.value)
    assert not isinstance(info.value, IpLiteralDid)


@pytest.mark.parametrize(
    "authority",
    ["%5B%3A%3A1%5D", "%5B%3A%3A1%5D%3A443", "%5B%3A%3Affff%3A127.0.0.1%5D", "%3A%3A1", "127.0.0.1", "127.0.0.1%3A8443",
     "10.0.0.1", "127.1", "0x7f.0.0.1", "2130706433", "%31%32%37.0.0.1", "1.2.3.4.5", "example.0x10", "[::1]",
     "%5Bfe80%3A%3A1%25eth0%5D", "%5Bv1.x%5D", "8.8.8.8."],
)
def test_ip_literals_in_any_form_say_ip_literal(authority):
    with pytest.raises(IpLiteralDid) as info:
        did_to_url(f"did:web:{authority}")
    assert "IP literal" in str(info.value) and "port" not in str(info.value)


@pytest.mark.parametrize(
    ("authority", "expected"),
    [
        ("exa_mple.com", "not a DNS host name"),
        ("-lead.example.com", "not a DNS host name"),
        ("a..example.com", "not a DNS host name"),
        ("example.com.", "not a DNS host name"),
        ("a" * 64 + ".example", "not a DNS host name"),
        (".".join(["a" * 60] * 5), "not a DNS host name"),
        ("user%40example.com", "not a DNS host name"),
        ("xn--zz.example", "not a valid internationalized domain name"),
        ("%ff.example", "not percent-encoded UTF-8"),
        ("%E2%84%AAelvin.example", "not a valid internationalized domain name"),  # KELVIN SIGN, not "k"
        ("%EF%BD%85xample.com", "not a valid internationalized domain name"),  # fullwidth e, not "e"
        ("example.com%3Axx", "invalid port"),
        ("example.com%3A", "invalid port"),
        ("example.com%3A0", "invalid port"),
        ("example.com%3A65536", "invalid port"),
        ("example.com%3A%2B443", "invalid port"),
        ("example.com%3A%EF%BC%91", "invalid port"),  # a fullwidth digit one
        ("example.com%3A443%3A443", "invalid port"),
    ],
)
def test_a_host_that_is_not_a_dns_name_gets_its_own_message(authority, expected):
    with pytest.raises(InvalidDid) as info:
        did_to_url(f"did:web:{authority}")
    assert expected in str(info.value) and not isinstance(info.value, IpLiteralDid)


@pytest.mark.parametrize(
    ("did", "url"),
    [
        ("did:web:b%C3%BCcher.example", "https://xn--bcher-kva.example/.well-known/did.json"),
        ("did:web:xn--bcher-kva.example:u", "https://xn--bcher-kva.example/u/did.json"),
        ("did:web:EXAMPLE.com%3a8443", "https://example.com:8443/.well-known/did.json"),
        ("did:web:localhost%3A7080:dids:p1", "https://localhost:7080/dids/p1/did.json"),
    ],
)
def test_unicode_hosts_become_a_labels_and_names_are_lowercased(did, url):
    assert did_to_url(did) == url


@pytest.mark.parametrize("segment", ["a%0Ab", "%0A", "a%00", "a%2Fb", "%2E%2E", "a%20b", "a%E2%80%A8", "%ff"])
def test_path_segments_are_checked_after_decoding(segment):
    with pytest.raises(InvalidDid, match="path segment"):
        did_to_url(f"did:web:example.com:{segment}")
