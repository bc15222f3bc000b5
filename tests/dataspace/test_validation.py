"""Every blueprint rule, good and bad; each error names its field."""

from __future__ import annotations

import copy
import re
from importlib import resources

import pytest
import yaml
from pydantic import ValidationError

from mvd_core.dataspace import BlueprintError, load, parse

DEFAULT = resources.files("mvd_core.dataspace").joinpath("default-dataspace.yaml").read_text("utf-8")


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


def test_the_issuers_name_is_not_a_participant_id():
    """Its key's owner and its local DID path are "issuer": a participant by that name would
    share both with the dataspace's issuer."""
    data = seed()
    data["participants"][0]["id"] = "issuer"
    problems = problems_of(data)
    assert any("'issuer' is reserved" in p for p in problems), problems


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
    with pytest.raises(ValidationError, match="frozen"):
        ds.participants[0].runtimes.data_plane.replicas = 9  # type: ignore[misc]
    assert copy.deepcopy(ds) == ds


# --- issue 10 item 10: what validated but cannot work ------------------------------------


def problems_in(text: str) -> list:
    with pytest.raises(BlueprintError) as info:
        parse(text, "x.yaml")
    return info.value.problems


def line_of(text: str, needle: str) -> int:
    """1-based line of the first line containing ``needle``."""
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


def _hosts(*hosts: dict) -> dict:
    data = seed()
    for i, host in enumerate(hosts):
        data["participants"][i]["identity"]["host"] = copy.deepcopy(host)  # no YAML aliases
    return data


S3 = {"kind": "s3", "bucket": "shared-did", "region": "eu-central-1"}
CLOUDFLARE = {"kind": "cloudflare", "domain": "did.shared.example", "accountId": "acct", "zoneId": "zone", "bucket": "gt-did"}
AZURE = {"kind": "azure-blob", "storageAccount": "mvdshared", "domain": "did.shared.example"}


@pytest.mark.parametrize(
    ("first", "second", "expected"),
    [
        # same bucket, same region: the same public host, so the same DID
        (S3, S3, "same DID"),
        # a Cloudflare and an Azure Blob host on one domain: one DID, two places
        (CLOUDFLARE, AZURE, "same DID"),
        # an S3 host whose public domain is another participant's Cloudflare domain
        (CLOUDFLARE, {**S3, "domain": "did.shared.example"}, "same DID"),
        # one domain, two stores: whichever the domain points to, one DID cannot resolve
        (CLOUDFLARE, {**AZURE, "path": ["second"]}, "served from one place"),
        # one bucket and object key, two domains: the second upload overwrites the first
        (S3, {**S3, "domain": "did.other.example"}, "same document"),
        ({**AZURE, "domain": "a.example"}, {**AZURE, "domain": "b.example"}, "same document"),
        (CLOUDFLARE, {**CLOUDFLARE, "domain": "did.other.example"}, "same document"),
    ],
)
def test_two_participants_cannot_publish_to_the_same_did(first, second, expected):
    text = yaml.safe_dump(_hosts(first, second), sort_keys=False)
    [problem] = problems_in(text)
    assert problem.path == "participants[1].identity.host"
    assert expected in problem.message and "participants[0] (galactic-turbine)" in problem.message
    lines = text.splitlines()
    assert lines[problem.line - 1].strip() == "host:"
    assert line_of(text, "space-enforcer") < problem.line < line_of(text, "interstellar-assembly")


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ({**S3, "path": ["a"]}, {**S3, "path": ["b"]}),  # one bucket, two DIDs and two objects
        (CLOUDFLARE, {**CLOUDFLARE, "path": ["second"]}),  # one domain and one bucket, two paths
    ],
)
def test_one_store_or_domain_with_distinct_paths_is_fine(first, second):
    parse(yaml.safe_dump(_hosts(first, second)), "x.yaml")


@pytest.mark.parametrize("ip", ["10.0.0.1", "127.1", "192.168.000.001", "1.2.3.4.5", "0x7f.0.0.1", "2130706433"])
@pytest.mark.parametrize("field", ["identity.host.domain", "publicHost"])
def test_an_ip_literal_is_not_a_domain(ip, field):
    data = seed()
    if field == "publicHost":
        data["participants"][0]["publicHost"] = ip
    else:
        data["participants"][0]["identity"]["host"]["domain"] = ip
    text = yaml.safe_dump(data, sort_keys=False)
    [problem] = problems_in(text)
    assert problem.path == f"participants[0].{field}" and "IP literal" in problem.message
    assert ip in text.splitlines()[problem.line - 1]


def test_an_s3_bucket_named_like_an_ip_address_is_refused():
    data = seed()
    data["participants"][2]["identity"]["host"]["bucket"] = "192.168.5.4"
    [problem] = problems_of(data)
    assert "participants[2].identity.host.bucket" in problem and "IP address" in problem


def test_a_dotted_s3_bucket_needs_its_own_domain():
    """<my.bucket>.s3.<region>.amazonaws.com does not match Amazon's wildcard certificate."""
    data = seed()
    data["participants"][2]["identity"]["host"]["bucket"] = "interstellar.did"
    [problem] = problems_of(data)
    assert "participants[2].identity.host.bucket" in problem and "HTTPS" in problem
    data["participants"][2]["identity"]["host"]["domain"] = "did.interstellar.example"
    parse(yaml.safe_dump(data), "x.yaml")


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("reset", "a b c d e f", "not a valid NCRONTAB"),
        ("reset", "0 0 0 31 2 *", "never fires"),
        ("reset", "0 0 0 * * * *", "6 fields"),
        ("reset", "0  0 0 * * *", "single spaces"),
        ("reset", "61 0 0 * * *", "not a valid NCRONTAB"),
        ("timezone", "Mars/Olympus_Mons", "unknown time zone"),
        ("timezone", "../../etc/passwd", "unknown time zone"),
        ("timezone", "", "unknown time zone"),
    ],
)
def test_schedule_is_checked_when_validating_not_when_serving(field, value, expected):
    data = seed()
    data["schedule"][field] = value
    text = yaml.safe_dump(data, sort_keys=False)
    [problem] = problems_in(text)
    assert problem.path == f"schedule.{field}" and expected in problem.message
    assert problem.line == line_of(text, f"{field}:")


def test_a_schedule_in_another_time_zone_is_fine():
    data = seed()
    data["schedule"] = {"reset": "0 30 2 * * 1-5", "timezone": "Europe/Berlin"}
    assert parse(yaml.safe_dump(data), "x.yaml").schedule.timezone == "Europe/Berlin"


@pytest.mark.parametrize("value", ['"3"', "true", "2.0", "3.5", "'1'", "1e0", ".inf", "null"])
@pytest.mark.parametrize(
    ("old", "field"),
    [
        ("dataPlane: {replicas: 3}", "participants[0].runtimes.dataPlane.replicas"),
        ("connector: {replicas: 1, embeddedCatalog: false}", "participants[0].runtimes.connector.replicas"),
        ("catalog: {replicas: 1}", "participants[0].runtimes.catalog.replicas"),
    ],
)
def test_integers_are_integers(value, old, field):
    new = old.replace(old.split("replicas: ")[1].split(",")[0].rstrip("}"), value, 1)
    text = DEFAULT.replace(old, new, 1)
    assert text != DEFAULT
    [problem] = problems_in(text)
    assert problem.path == field and "integer" in problem.message
    assert problem.line == line_of(DEFAULT, old)


@pytest.mark.parametrize("value", ['"true"', "1", "0", "'yes'", "null"])
@pytest.mark.parametrize(
    ("old", "field"),
    [
        ("embeddedCatalog: false}", "participants[0].runtimes.connector.embeddedCatalog"),
        ("connectorUi: {enabled: true}", "participants[0].runtimes.connectorUi.enabled"),
    ],
)
def test_booleans_are_booleans(value, old, field):
    text = DEFAULT.replace(old, re.sub(r"(true|false)}$", value + "}", old), 1)
    assert text != DEFAULT
    [problem] = problems_in(text)
    assert problem.path == field and "boolean" in problem.message


def test_every_integer_and_boolean_field_is_strict():
    """The whole class, not only replicas: a string or float where a number is due is refused."""
    data = seed()
    data["participants"][0]["seedJobs"] = [{"name": "seed", "image": "busybox:1", "timeoutSeconds": "300"}]
    data["participants"][0]["cluster"]["nodeCount"] = 2.0
    found = problems_of(data)
    assert any("participants[0].seedJobs[0].timeoutSeconds" in p for p in found)
    assert any("participants[0].cluster.nodeCount" in p for p in found)


@pytest.mark.parametrize("where", ["replicas", "string"])
def test_a_5000_digit_number_names_field_and_line(where):
    digits = "9" * 5000
    if where == "replicas":
        text = DEFAULT.replace("dataPlane: {replicas: 3}", f"dataPlane: {{replicas: {digits}}}", 1)
        field = "participants[0].runtimes.dataPlane.replicas"
    else:
        text = DEFAULT.replace("accountId: mvd-cloudflare-account", f"accountId: {digits}", 1)
        field = "participants[0].identity.host.accountId"
    [problem] = problems_in(text)
    assert problem.path == field and problem.line == line_of(text, digits)
    assert "5000 digits" in problem.message and len(str(problem)) < 300


@pytest.mark.parametrize(
    ("old", "new", "field"),
    [
        ("displayName: Galactic Turbine Industries", "displayName: Galactic\x00Turbine", "participants[0].displayName"),
        ("displayName: Galactic Turbine Industries", 'displayName: "Galactic\\0Turbine"', "participants[0].displayName"),
        ("name: mvd\n", "name: m\x00vd\n", "name"),
        ("bucket: interstellar-assembly-did", 'bucket: "interstellar-assembly-did\\0"', "participants[2].identity.host.bucket"),
        ("region: eu-central-1", "region: eu-central-1\x00", "participants[2].identity.host.region"),
    ],
)
def test_a_nul_byte_names_field_and_line(old, new, field):
    text = DEFAULT.replace(old, new, 1)
    assert text != DEFAULT
    problems = problems_in(text)
    assert [p.path for p in problems] == [field]
    assert problems[0].line == line_of(text, new.rstrip("\n"))
    assert "U+0000" in problems[0].message and "\x00" not in str(problems[0])


def test_a_nul_byte_outside_any_field_still_names_the_line():
    text = DEFAULT.replace("# every night at 00:00", "# every night\x00", 1)
    [problem] = problems_in(text)
    assert problem.line == line_of(text, "every night") and "U+0000" in problem.message


@pytest.mark.parametrize("char", ["\x1b", "\x07", "\x7f", "\u2028", "\u2029", "\x85", "\u202e"])
def test_control_characters_in_free_text_are_refused(char):
    data = seed()
    data["participants"][1]["displayName"] = f"Space{char}Enforcer"
    data["participants"][1]["seedJobs"] = [{"name": "seed", "image": "busybox:1", "args": ["ok", f"x{char}"]}]
    found = problems_of(data)
    assert any(p.startswith("line") and "participants[1].displayName" in p for p in found)
    assert any("participants[1].seedJobs[0].args[1]" in p for p in found)
    assert all(char not in p for p in found)


@pytest.mark.parametrize("style", ["flow", "block"])
def test_deep_nesting_names_field_and_line(style):
    depth = 500
    if style == "flow":
        deep = "[" * depth + "]" * depth
        text = DEFAULT.replace("dataPlane: {replicas: 3}", f"dataPlane: {{replicas: {deep}}}", 1)
        expected_line = line_of(DEFAULT, "dataPlane: {replicas: 3}")
    else:
        nested = "".join(f"\n{'  ' * (i + 5)}k{i}:" for i in range(depth)) + " 1"
        text = DEFAULT.replace("dataPlane: {replicas: 3}", f"dataPlane:\n        replicas:{nested}", 1)
        expected_line = None
    [problem] = problems_in(text)
    assert problem.path.startswith("participants[0].runtimes.dataPlane.replicas")
    assert "nested more than" in problem.message
    assert problem.line is not None
    if expected_line is not None:
        assert problem.line == expected_line
    assert len(str(problem)) < 400


def test_problems_never_echo_control_characters_or_huge_keys():
    data = seed()
    data["participants"][0]["x\x1b[31mred"] = 1
    data["participants"][0]["k" * 5000] = 1
    found = problems_of(data)
    assert len(found) == 2 and all("\x1b" not in p and len(p) < 300 for p in found)
