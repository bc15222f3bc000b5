"""did:web <-> URL for the hosts the blueprint declares."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mvd_core.blueprint import load
from mvd_core.blueprint.models import LocalDidHost
from mvd_core.identity.didweb import InvalidDid, did_for, did_from_host_and_path, did_to_url


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


_label = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?", fullmatch=True)
_host = st.lists(_label, min_size=2, max_size=4).map(".".join)
_segment = st.from_regex(r"[A-Za-z0-9_~-][A-Za-z0-9._~-]{0,12}", fullmatch=True).filter(lambda s: s not in (".", ".."))


@given(host=_host, port=st.none() | st.integers(1, 65535), path=st.lists(_segment, max_size=4))
def test_did_and_url_agree(host, port, path):
    did = did_from_host_and_path(host, port, path)
    url = urlsplit(did_to_url(did))
    assert url.scheme == "https" and url.hostname == host and url.port == port
    expected = "/" + "/".join([*path, "did.json"]) if path else "/.well-known/did.json"
    assert url.path == expected
