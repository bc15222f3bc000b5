"""The RuntimeSpecs of the seed's three participants: which runtimes, their settings, ports and order."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from mvd_core.dataspace.loader import load
from mvd_core.dataspace.models import Participant
from mvd_core.errors import MvdError
from mvd_core.runtimes.participant import (
    DATAPLANE_TOKEN_PRIVATE_KEY,
    MANAGEMENT_API_KEY,
    STS_CLIENT_SECRET,
    participant_runtimes,
    required_ports,
)
from mvd_core.runtimes.spec import RuntimeSpec

ISSUER = "did:web:localhost%3A7080:dids:issuer"
LIST_URL = "http://localhost:7080/api/participants.json"


def seed() -> dict[str, Participant]:
    return {p.id: p for p in load().participants}


def did_of(participant: Participant) -> str:
    return f"did:web:localhost%3A7080:dids:{participant.id}"


def build(participant: Participant, first_port: int = 20000) -> list[RuntimeSpec]:
    counter = itertools.count(first_port)
    return participant_runtimes(
        participant,
        did=did_of(participant),
        issuer_did=ISSUER,
        participant_list_url=LIST_URL,
        vault_path=Path("/state/vaults") / participant.id,
        ports=lambda runtime, api: next(counter),
    )


def all_specs() -> list[RuntimeSpec]:
    specs: list[RuntimeSpec] = []
    counter = 20000
    for participant in seed().values():
        built = build(participant, counter)
        counter += 100
        specs.extend(built)
    return specs


def test_each_seed_participant_gets_its_runtimes_in_start_order():
    names = {pid: [s.name for s in build(p)] for pid, p in seed().items()}
    assert names == {
        # standalone catalog, 3 data planes
        "galactic-turbine": ["identityhub", "connector", "dataplane-0", "dataplane-1", "dataplane-2", "catalog"],
        # embedded catalog: no catalog runtime; the crawler runs in the connector
        "space-enforcer": ["identityhub", "connector", "dataplane-0"],
        "interstellar-assembly": ["identityhub", "connector", "dataplane-0", "dataplane-1", "dataplane-2"],
    }
    for specs in (build(p) for p in seed().values()):
        by_name = {s.name: s for s in specs}
        assert by_name["identityhub"].start_after == [] and by_name["connector"].start_after == []
        for spec in specs:
            if spec.kind == "dataplane":
                assert spec.start_after == ["connector"]
            if spec.kind == "catalog":
                assert spec.start_after == ["identityhub", "connector"]
            # everything a runtime waits for is one of the participant's and comes before it
            earlier = [s.name for s in specs[: specs.index(spec)]]
            assert set(spec.start_after) <= set(earlier), spec.name


def test_ports_are_the_allocated_ones_and_unique_across_the_dataspace():
    specs = all_specs()
    ports = [(s.participant, s.name, api, e.port) for s in specs for api, e in s.apis.items()]
    assert len({p[3] for p in ports}) == len(ports)
    for spec in specs:
        for api, endpoint in spec.apis.items():
            key = "web.http" if api == "default" else f"web.http.{api}"
            assert spec.settings[f"{key}.port"] == str(endpoint.port)
            assert spec.settings[f"{key}.path"] == endpoint.path
        # readiness is on the default context
        assert spec.readiness_url == f"http://localhost:{spec.apis['default'].port}/api/check/readiness"
    apis = {(s.kind, tuple(s.apis)) for s in specs}
    assert apis == {
        ("identityhub", ("default", "credentials", "identity", "did", "sts")),
        ("connector", ("default", "management", "protocol", "control", "catalog")),
        ("dataplane", ("default", "control", "public")),
        ("catalog", ("default", "catalog", "protocol")),
    }


def test_required_ports_names_what_the_builder_asks_for():
    participant = seed()["galactic-turbine"]
    asked: list[tuple[str, str]] = []
    counter = itertools.count(21000)

    def allocate(runtime: str, api: str) -> int:
        asked.append((runtime, api))
        return next(counter)

    participant_runtimes(
        participant, did="did:web:x", issuer_did=ISSUER, participant_list_url=LIST_URL,
        vault_path=Path("/v"), ports=allocate,
    )
    assert sorted(asked) == sorted((r, a) for r, apis in required_ports(participant).items() for a in apis)


def test_a_port_mapping_works_like_the_callback_and_gaps_or_clashes_are_named():
    participant = seed()["space-enforcer"]
    counter = itertools.count(22000)
    mapping = {name: {api: next(counter) for api in apis} for name, apis in required_ports(participant).items()}
    specs = participant_runtimes(
        participant, did="did:web:x", issuer_did=ISSUER, participant_list_url=LIST_URL,
        vault_path=Path("/v"), ports=mapping,
    )
    assert specs[1].url("management") == f"http://localhost:{mapping['connector']['management']}/api/management"

    del mapping["dataplane-0"]["public"]
    with pytest.raises(MvdError, match="no port allocated for the public API of runtime dataplane-0"):
        participant_runtimes(participant, did="did:web:x", issuer_did=ISSUER, participant_list_url=LIST_URL,
                             vault_path=Path("/v"), ports=mapping)
    mapping["dataplane-0"]["public"] = mapping["connector"]["protocol"]
    with pytest.raises(MvdError, match=r"port \d+ is allocated to both connector/protocol and dataplane-0/public"):
        participant_runtimes(participant, did="did:web:x", issuer_did=ISSUER, participant_list_url=LIST_URL,
                             vault_path=Path("/v"), ports=mapping)


def test_connector_settings_wire_identity_hub_issuer_and_crawler():
    for pid, participant in seed().items():
        by_name = {s.name: s for s in build(participant)}
        connector, hub = by_name["connector"], by_name["identityhub"]
        did = did_of(participant)
        s = connector.settings
        assert s["edc.participant.id"] == s["edc.iam.issuer.id"] == s["edc.iam.sts.oauth.client.id"] == did
        assert s["edc.iam.sts.oauth.token.url"] == hub.url("sts") + "/token"
        assert s["edc.iam.sts.oauth.client.secret.alias"] == STS_CLIENT_SECRET
        assert s["edc.iam.trusted-issuer.dataspace.id"] == s["edc.membership.issuers"] == ISSUER
        assert s["edc.dsp.callback.address"] == connector.url("protocol")
        assert s["web.http.management.auth.type"] == "tokenbased"
        assert s["web.http.management.auth.key.alias"] == MANAGEMENT_API_KEY
        assert s["edc.catalog.nodes.url"] == LIST_URL
        assert s["edc.vault.file.path"] == f"/state/vaults/{pid}"
        assert s["edc.iam.did.web.use.https"] == "false"
        embedded = participant.runtimes.connector.embedded_catalog
        assert s["edc.catalog.cache.execution.enabled"] == ("true" if embedded else "false")
        assert MANAGEMENT_API_KEY in connector.secrets and STS_CLIENT_SECRET in connector.secrets
        assert f"{pid}-did-signing-key" in hub.secrets  # the key the control plane keeps in the vault


def test_data_planes_register_with_their_own_connector_and_get_distinct_ids():
    specs = build(seed()["interstellar-assembly"])
    connector = next(s for s in specs if s.name == "connector")
    planes = [s for s in specs if s.kind == "dataplane"]
    assert len(planes) == 3
    assert {p.settings["edc.dpf.selector.url"] for p in planes} == {connector.url("control") + "/v1/dataplanes"}
    assert len({p.settings["edc.component.id"] for p in planes}) == 3
    assert all(p.settings["edc.transfer.proxy.token.signer.privatekey.alias"] == DATAPLANE_TOKEN_PRIVATE_KEY for p in planes)
    assert len({p.url("public") for p in planes}) == 3


def test_standalone_catalog_crawls_with_the_participants_identity():
    by_name = {s.name: s for s in build(seed()["galactic-turbine"])}
    catalog = by_name["catalog"]
    assert catalog.settings["edc.participant.id"] == did_of(seed()["galactic-turbine"])
    assert catalog.settings["edc.iam.sts.oauth.token.url"] == by_name["identityhub"].url("sts") + "/token"
    assert catalog.settings["edc.dsp.callback.address"] == catalog.url("protocol")
    assert "edc.catalog.cache.execution.enabled" not in catalog.settings  # crawling is the catalog's job


def test_no_setting_carries_a_secret_value_only_aliases():
    for spec in all_specs():
        for alias in spec.secrets:
            assert alias.replace("-", "").isalnum() and len(alias) <= 127
        for key, value in spec.settings.items():
            if "secret" in key or "key" in key.split(".")[-1] or key.endswith(".alias"):
                assert key.endswith(".alias"), key
                assert value in spec.secrets, (spec.name, key, value)
        assert spec.heap_mb == 320
