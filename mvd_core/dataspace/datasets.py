"""The bytes of each declared dataset offer, generated deterministically.

The same participant and offer give the same bytes on every machine and every run: the rows
come from a ``random.Random`` seeded with a hash of the participant id, the offer id and its
generator, and every timestamp counts from one fixed start. Nothing is fetched from anywhere.
CSV has a header line and ``\\n`` line ends; JSON is an array of objects, one per row.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import get_args

from mvd_core.dataspace.models import DatasetGenerator, DatasetOffer

START = datetime(2025, 1, 6, 6, 0, tzinfo=UTC)  # a Monday morning: the first row of every series

Row = dict[str, str | int | float]


def _at(minutes: float) -> str:
    return (START + timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%SZ")


def _turbine_telemetry(rng: random.Random, rows: int) -> list[Row]:
    turbines = [f"GT-{n:03d}" for n in rng.sample(range(1, 400), 4)]
    out: list[Row] = []
    for i in range(rows):
        turbine = turbines[i % len(turbines)]
        wind = max(0.0, rng.gauss(9.5, 3.0))
        power = min(4200.0, max(0.0, 0.5 * 1.225 * 12470 * 0.42 * wind**3 / 1000 + rng.gauss(0, 40)))
        out.append(
            {
                "timestamp": _at((i // len(turbines)) * 10),
                "turbine_id": turbine,
                "wind_speed_mps": round(wind, 2),
                "rotor_rpm": round(min(16.0, wind * 1.4 + rng.gauss(0, 0.3)), 2),
                "power_kw": round(power, 1),
                "gearbox_temp_c": round(55 + power / 120 + rng.gauss(0, 1.5), 1),
                "vibration_mm_s": round(abs(rng.gauss(2.2, 0.6)), 2),
            }
        )
    return out


def _maintenance_log(rng: random.Random, rows: int) -> list[Row]:
    components = ["gearbox", "main bearing", "pitch system", "yaw drive", "generator", "blade"]
    actions = ["inspection", "lubrication", "sensor replacement", "bolt torque check", "repair"]
    return [
        {
            "work_order": f"WO-{25000 + i}",
            "date": _at(i * 1440 * 2 + rng.randrange(0, 600))[:10],
            "turbine_id": f"GT-{rng.randrange(1, 400):03d}",
            "component": rng.choice(components),
            "action": rng.choice(actions),
            "downtime_h": round(rng.uniform(0.5, 36.0), 1),
            "technician": f"T{rng.randrange(100, 999)}",
        }
        for i in range(rows)
    ]


def _laser_calibration(rng: random.Random, rows: int) -> list[Row]:
    lasers = [f"SE-LZR-{n:02d}" for n in rng.sample(range(1, 60), 5)]
    out: list[Row] = []
    for i in range(rows):
        nominal = rng.choice([1064.0, 1550.0, 532.0])
        measured = nominal + rng.gauss(0, 0.05)
        out.append(
            {
                "calibrated_at": _at(i * 90 + rng.randrange(0, 60)),
                "laser_id": lasers[i % len(lasers)],
                "nominal_wavelength_nm": nominal,
                "measured_wavelength_nm": round(measured, 3),
                "power_w": round(rng.uniform(80, 120), 2),
                "deviation_ppm": round((measured - nominal) / nominal * 1e6, 1),
                "passed": "yes" if abs(measured - nominal) < 0.1 else "no",
            }
        )
    return out


def _beam_quality(rng: random.Random, rows: int) -> list[Row]:
    return [
        {
            "measured_at": _at(i * 30),
            "laser_id": f"SE-LZR-{rng.randrange(1, 60):02d}",
            "m_squared": round(rng.uniform(1.02, 1.35), 3),
            "divergence_mrad": round(rng.uniform(0.3, 1.2), 3),
            "pointing_stability_urad": round(abs(rng.gauss(12, 4)), 1),
        }
        for i in range(rows)
    ]


def _assembly_schedule(rng: random.Random, rows: int) -> list[Row]:
    modules = ["hull segment", "docking ring", "solar array", "habitat module", "thruster pod", "radiator panel"]
    out: list[Row] = []
    for i in range(rows):
        start = i * 240 + rng.randrange(0, 120)
        out.append(
            {
                "job_id": f"IA-{7000 + i}",
                "module": rng.choice(modules),
                "bay": f"B{rng.randrange(1, 9)}",
                "planned_start": _at(start),
                "planned_end": _at(start + rng.randrange(120, 960)),
                "crew_size": rng.randrange(2, 9),
                "status": rng.choice(["planned", "planned", "in progress", "done"]),
            }
        )
    return out


def _parts_inventory(rng: random.Random, rows: int) -> list[Row]:
    kinds = ["titanium bracket", "carbon strut", "seal kit", "valve", "harness", "fastener set", "heat shield tile"]
    return [
        {
            "part_number": f"PN-{rng.randrange(10000, 99999)}-{i:04d}",
            "description": rng.choice(kinds),
            "warehouse": rng.choice(["orbital-1", "orbital-2", "ground"]),
            "quantity": rng.randrange(0, 500),
            "unit_cost_eur": round(rng.uniform(3, 4000), 2),
            "reorder_level": rng.randrange(5, 60),
        }
        for i in range(rows)
    ]


GENERATORS: dict[str, Callable[[random.Random, int], list[Row]]] = {
    "turbine-telemetry": _turbine_telemetry,
    "maintenance-log": _maintenance_log,
    "laser-calibration": _laser_calibration,
    "beam-quality": _beam_quality,
    "assembly-schedule": _assembly_schedule,
    "parts-inventory": _parts_inventory,
}
assert set(GENERATORS) == set(get_args(DatasetGenerator)), "a generator the blueprint names has no function"


def _seed(participant_id: str, offer: DatasetOffer) -> int:
    digest = hashlib.sha256(f"{participant_id}\n{offer.id}\n{offer.generator}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


def dataset_rows(participant_id: str, offer: DatasetOffer) -> list[Row]:
    return GENERATORS[offer.generator](random.Random(_seed(participant_id, offer)), offer.rows)


def dataset_bytes(participant_id: str, offer: DatasetOffer) -> bytes:
    """The offer's data as its media type says (CSV or JSON), the same bytes every time."""
    rows = dataset_rows(participant_id, offer)
    if offer.media_type == "application/json":
        return json.dumps(rows, separators=(",", ":")).encode("utf-8")
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode("utf-8")
