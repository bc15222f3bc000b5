"""Dataset offers in the blueprint and the bytes generated for them."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import subprocess
import sys

import pytest
import yaml

from mvd_core.dataspace import load, parse
from mvd_core.dataspace.datasets import dataset_bytes
from mvd_core.dataspace.models import MAX_DATASET_ROWS, MAX_OFFERS, DatasetOffer
from tests.dataspace.test_validation import problems_of, seed


def offer(**fields) -> dict:
    return {"id": "telemetry", "title": "Telemetry", "generator": "turbine-telemetry", "rows": 10, **fields}


def test_the_default_blueprint_gives_each_seed_company_two_or_three_datasets_with_data():
    ds = load()
    for p in ds.participants:
        assert 2 <= len(p.offers) <= 3, (p.id, p.offers)
        for o in p.offers:
            data = dataset_bytes(p.id, o)
            assert o.title and o.description
            assert 1000 < len(data) < 100_000, (p.id, o.id, len(data))
    ids = {o.id for p in ds.participants for o in p.offers}
    assert {"turbine-telemetry", "laser-calibration-records", "assembly-schedule"} <= ids


def test_offers_survive_the_embedded_targets():
    from mvd_core.dataspace.targets import apply_targets

    ds = load()
    embedded = apply_targets(ds, "embedded")
    assert [p.offers for p in embedded.participants] == [p.offers for p in ds.participants]


def test_a_dataset_id_declared_twice_by_one_participant_is_an_error_naming_it():
    data = seed()
    data["participants"][1]["offers"] = [offer(), offer(title="Other")]
    [problem] = problems_of(data)
    assert "participants[1].offers" in problem and "'telemetry' is declared twice" in problem


def test_two_participants_may_offer_the_same_dataset_id():
    data = seed()
    data["participants"][0]["offers"] = [offer()]
    data["participants"][1]["offers"] = [offer()]
    ds = parse(yaml.safe_dump(data), "test.yaml")
    assert dataset_bytes(ds.participants[0].id, ds.participants[0].offers[0]) != dataset_bytes(
        ds.participants[1].id, ds.participants[1].offers[0]
    )


@pytest.mark.parametrize("bad_id", ["Telemetry", "a/b", "../x", "with space", "", "a" * 64, "x_y"])
def test_a_dataset_id_must_be_a_dns_label(bad_id):
    data = seed()
    data["participants"][0]["offers"] = [offer(id=bad_id)]
    [problem] = problems_of(data)
    assert "participants[0].offers[0].id" in problem


@pytest.mark.parametrize("rows", [0, -3, MAX_DATASET_ROWS + 1])
def test_rows_are_capped(rows):
    data = seed()
    data["participants"][2]["offers"] = [offer(rows=rows)]
    [problem] = problems_of(data)
    assert "participants[2].offers[0].rows" in problem


def test_rows_must_be_an_integer_not_a_string():
    data = seed()
    data["participants"][2]["offers"] = [offer(rows="10")]
    [problem] = problems_of(data)
    assert "participants[2].offers[0].rows" in problem


def test_an_unknown_generator_names_the_known_ones():
    data = seed()
    data["participants"][0]["offers"] = [offer(generator="bitcoin-prices")]
    [problem] = problems_of(data)
    assert "participants[0].offers[0].generator" in problem and "turbine-telemetry" in problem


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("title", "Tele\nmetry"),
        ("title", ""),
        ("title", "x" * 101),
        ("description", "a\u202eb"),
        ("mediaType", "text/html"),
    ],
)
def test_offer_text_is_guarded(field, value):
    data = seed()
    data["participants"][0]["offers"] = [offer(**{field: value})]
    [problem] = problems_of(data)
    assert f"participants[0].offers[0].{field}" in problem


def test_unknown_offer_fields_are_errors():
    data = seed()
    data["participants"][0]["offers"] = [offer(url="http://elsewhere.example/data.csv")]
    [problem] = problems_of(data)
    assert "participants[0].offers[0].url: unknown field" in problem


def test_too_many_offers_are_refused():
    data = seed()
    data["participants"][0]["offers"] = [offer(id=f"d{i}") for i in range(MAX_OFFERS + 1)]
    [problem] = problems_of(data)
    assert "participants[0].offers" in problem


# ------------------------------------------------------------------ the bytes


def test_csv_has_a_header_and_one_line_per_row():
    o = DatasetOffer(id="t", title="T", generator="laser-calibration", rows=37)
    text = dataset_bytes("space-enforcer", o).decode("utf-8")
    records = list(csv.DictReader(io.StringIO(text)))
    assert len(records) == 37
    assert text.endswith("\n") and "\r" not in text
    assert {"laser_id", "measured_wavelength_nm", "passed"} <= set(records[0])


def test_json_is_an_array_of_one_object_per_row():
    o = DatasetOffer(id="t", title="T", generator="parts-inventory", rows=12, media_type="application/json")
    rows = json.loads(dataset_bytes("interstellar-assembly", o))
    assert len(rows) == 12 and all("part_number" in r for r in rows)


def test_the_bytes_depend_on_participant_offer_and_generator_only():
    base = DatasetOffer(id="t", title="T", generator="assembly-schedule", rows=20)
    same = dataset_bytes("a", base)
    assert dataset_bytes("a", base.model_copy(update={"title": "Another title", "description": "x"})) == same
    assert dataset_bytes("b", base) != same
    assert dataset_bytes("a", base.model_copy(update={"id": "u"})) != same
    longer = dataset_bytes("a", base.model_copy(update={"rows": 21}))
    assert longer.startswith(same)  # more rows extend the same series


def test_the_same_bytes_in_another_interpreter_with_another_hash_seed():
    program = (
        "import hashlib, sys\n"
        "from mvd_core.dataspace import load\n"
        "from mvd_core.dataspace.datasets import dataset_bytes\n"
        "for p in load().participants:\n"
        "    for o in p.offers:\n"
        "        print(p.id, o.id, hashlib.sha256(dataset_bytes(p.id, o)).hexdigest())\n"
    )
    outputs = {
        subprocess.run(
            [sys.executable, "-c", program],
            env={**os.environ, "PYTHONHASHSEED": seed_value},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for seed_value in ("1", "4242")
    }
    assert len(outputs) == 1
    [output] = outputs
    here = "".join(
        f"{p.id} {o.id} {hashlib.sha256(dataset_bytes(p.id, o)).hexdigest()}\n"
        for p in load().participants
        for o in p.offers
    )
    assert output == here and output.count("\n") == 7
