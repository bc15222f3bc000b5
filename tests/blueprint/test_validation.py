"""Every blueprint rule, good and bad; each error names its field."""

from __future__ import annotations

import copy
from importlib import resources

import pytest
import yaml

from mvd_core.blueprint import BlueprintError, load, parse

DEFAULT = resources.files("mvd_core.blueprint").joinpath("default-dataspace.yaml").read_text("utf-8")


def seed() -> dict:
    return yaml.safe_load(DEFAULT)


def problems_of(data: dict) -> list[str]:
    with pytest.raises(BlueprintError) as info:
        parse(yaml.safe_dump(data), "test.yaml")
    return [str(p) for p in info.value.problems]


def test_default_dataspace_is_valid_and_reproduces_the_seed():
    ds = load()
    table = {
        p.display_name: (p.runtimes.data_plane.replicas, p.runtimes.catalog_mode, p.identity.host.kind)
        for p in ds.participants
    }
    assert table == {
        "Galactic Turbine Industries": (3, "standalone", "cloudflare"),
        "Space Enforcer Laser Tec": (1, "embedded", "azure-blob"),
        "Interstellar Assembly Services": (3, "embedded", "s3"),
    }
    assert all(p.runtimes.connector.replicas == 1 for p in ds.participants)
    assert all(p.runtimes.connector_ui.enabled for p in ds.participants)
    assert ds.schedule.reset == "0 0 0 * * *"


def test_connector_with_two_replicas_is_rejected_naming_the_field():
    data = seed()
    data["participants"][0]["runtimes"]["connector"]["replicas"] = 2
    [problem] = problems_of(data)
    assert "participants[0].runtimes.connector.replicas" in problem
    assert "exactly 1 replica" in problem


def test_both_embedded_and_standalone_catalog_is_rejected_naming_the_field():
    data = seed()
    data["participants"][0]["runtimes"]["connector"]["embeddedCatalog"] = True
    [problem] = problems_of(data)
    assert "participants[0].runtimes.catalog" in problem
    assert "exactly one catalog" in problem


def test_no_catalog_at_all_is_rejected():
    data = seed()
    data["participants"][1]["runtimes"]["connector"]["embeddedCatalog"] = False
    [problem] = problems_of(data)
    assert "participants[1].runtimes.catalog: missing" in problem


@pytest.mark.parametrize("replicas", [0, -1])
def test_data_plane_needs_at_least_one_replica(replicas):
    data = seed()
    data["participants"][2]["runtimes"]["dataPlane"]["replicas"] = replicas
    [problem] = problems_of(data)
    assert "participants[2].runtimes.dataPlane.replicas" in problem


def test_storage_must_be_in_memory_and_identity_hub_embedded():
    data = seed()
    data["participants"][0]["runtimes"]["connector"]["storage"] = "cosmosdb"
    data["participants"][1]["runtimes"]["connector"]["identityHub"] = "external"
    found = problems_of(data)
    assert any("participants[0].runtimes.connector.storage" in p and "in-memory" in p for p in found)
    assert any("participants[1].runtimes.connector.identityHub" in p for p in found)


@pytest.mark.parametrize("bad_id", ["Galactic", "under_score", "-lead", "trail-", "a" * 64, "dots.no"])
def test_ids_are_dns_1123_labels(bad_id):
    data = seed()
    data["participants"][0]["id"] = bad_id
    [problem] = problems_of(data)
    assert "participants[0].id" in problem and "DNS-1123" in problem


def test_duplicate_participant_ids_are_rejected():
    data = seed()
    data["participants"][1]["id"] = data["participants"][0]["id"]
    [problem] = problems_of(data)
    assert "declared twice" in problem


def test_unknown_fields_are_errors_with_their_path():
    data = seed()
    data["participants"][0]["runtimes"]["dataPlane"]["replica"] = 3
    [problem] = problems_of(data)
    assert "participants[0].runtimes.dataPlane.replica: unknown field" in problem


def test_did_host_fields_depend_on_kind():
    data = seed()
    del data["participants"][0]["identity"]["host"]["zoneId"]
    data["participants"][1]["identity"]["host"]["kind"] = "ftp"
    found = problems_of(data)
    assert any("participants[0].identity.host.zoneId" in p and "required" in p.lower() for p in found)
    assert any("participants[1].identity.host" in p for p in found)


def test_did_host_domain_must_be_a_bare_host_name():
    data = seed()
    data["participants"][0]["identity"]["host"]["domain"] = "https://evil.example/x"
    [problem] = problems_of(data)
    assert "participants[0].identity.host.domain" in problem


def test_did_path_segments_must_be_safe():
    data = seed()
    data["participants"][2]["identity"]["host"]["path"] = ["ok", ".."]
    [problem] = problems_of(data)
    assert "participants[2].identity.host.path[1]" in problem


def test_schedule_needs_six_ncrontab_fields():
    data = seed()
    data["schedule"]["reset"] = "0 0 * * *"
    [problem] = problems_of(data)
    assert "schedule.reset" in problem and "6 fields" in problem


def test_all_problems_are_reported_at_once_with_lines():
    text = DEFAULT.replace("replicas: 1, embeddedCatalog: false", "replicas: 2, embeddedCatalog: false").replace(
        "dataPlane: {replicas: 1}", "dataPlane: {replicas: 0}"
    )
    with pytest.raises(BlueprintError) as info:
        parse(text, "seed.yaml")
    problems = info.value.problems
    assert len(problems) == 2
    line_of = {p.path: p.line for p in problems}
    lines = text.splitlines()
    assert "replicas: 2" in lines[line_of["participants[0].runtimes.connector.replicas"] - 1]
    assert "replicas: 0" in lines[line_of["participants[1].runtimes.dataPlane.replicas"] - 1]
    assert str(info.value).startswith("seed.yaml: 2 problem(s)")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "got empty"),
        ("- a\n- b\n", "got a list"),
        ("name: [unclosed\n", "invalid YAML"),
        ("a: &x 1\nb: *x\n", "aliases are not allowed"),
        ("name: a\nname: b\n", "duplicate key 'name'"),
        ("? [a, b]\n: 1\n", "plain scalars"),
    ],
)
def test_malformed_yaml_gets_a_clear_error(text, expected):
    with pytest.raises(BlueprintError) as info:
        parse(text, "x.yaml")
    assert expected in str(info.value)


def test_oversized_file_is_refused_without_parsing(tmp_path):
    big = tmp_path / "big.yaml"
    big.write_text("# " + "x" * (1024 * 1024) + "\n")
    with pytest.raises(BlueprintError, match="larger than"):
        load(big)


def test_missing_file_and_directory_are_clear(tmp_path):
    from mvd_core.errors import MvdError

    with pytest.raises(MvdError, match="no such file"):
        load(tmp_path / "nope.yaml")
    with pytest.raises(MvdError, match="is a directory"):
        load(tmp_path)


def test_models_are_immutable_so_a_loaded_baseline_cannot_drift():
    ds = load()
    with pytest.raises(Exception):
        ds.participants[0].runtimes.data_plane.replicas = 9  # type: ignore[misc]
    assert copy.deepcopy(ds) == ds
