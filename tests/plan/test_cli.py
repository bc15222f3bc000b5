"""`mvd validate`, `mvd render`, `mvd plan` as a user runs them (a real subprocess)."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib import resources
from pathlib import Path

DEFAULT = resources.files("mvd_core.dataspace").joinpath("default-dataspace.yaml").read_text("utf-8")


def mvd(*args: str, env_home: Path) -> subprocess.CompletedProcess[str]:
    import os

    env = {**os.environ, "MVD_HOME": str(env_home), "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "mvd_core", *args], check=False, capture_output=True, text=True, env=env, timeout=120)


def test_validate_ok_and_errors(tmp_path):
    ok = mvd("validate", env_home=tmp_path)
    assert ok.returncode == 0 and "OK" in ok.stdout and "galactic-turbine" in ok.stdout
    bad = tmp_path / "bad.yaml"
    bad.write_text(DEFAULT.replace("replicas: 1, embeddedCatalog: false", "replicas: 2, embeddedCatalog: false"))
    res = mvd("validate", str(bad), env_home=tmp_path)
    assert res.returncode == 1
    assert "participants[0].runtimes.connector.replicas" in res.stderr and "exactly 1 replica" in res.stderr
    bad.write_text(DEFAULT.replace("replicas: 1, embeddedCatalog: false", "replicas: 1, embeddedCatalog: true"))
    res = mvd("validate", str(bad), env_home=tmp_path)
    assert res.returncode == 1
    assert "participants[0].runtimes.catalog" in res.stderr and "exactly one catalog" in res.stderr
    assert "Traceback" not in res.stderr + res.stdout


def test_missing_file_is_a_one_line_error(tmp_path):
    res = mvd("plan", "-f", str(tmp_path / "missing.yaml"), env_home=tmp_path)
    assert res.returncode == 1
    assert "no such file" in res.stderr and "Traceback" not in res.stderr


def test_plan_json_shape(tmp_path):
    res = mvd("plan", "--json", env_home=tmp_path)
    assert res.returncode == 0, res.stderr
    plan = json.loads(res.stdout)
    for pid in ("galactic-turbine", "space-enforcer", "interstellar-assembly"):
        entry = plan["participants"][pid]
        assert set(entry) >= {"create", "update", "delete", "unchanged"}
    assert "Deployment/galactic-turbine/catalog" in plan["participants"]["galactic-turbine"]["create"]


def test_plan_is_readable(tmp_path):
    res = mvd("plan", env_home=tmp_path)
    assert res.returncode == 0, res.stderr
    assert "+ StatefulSet/galactic-turbine/dataplane" in res.stdout
    assert "simulated cluster" in res.stdout
    assert "to create" in res.stdout


def test_an_output_directory_that_cannot_be_written_is_named(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    res = mvd("render", "--out", str(blocker / "out"), env_home=tmp_path)
    assert res.returncode == 1, res.stderr
    assert str(blocker) in res.stderr and "internal error" not in res.stderr and "Traceback" not in res.stderr



def test_render_lists_every_image_with_where_it_comes_from(tmp_path, monkeypatch):
    monkeypatch.setenv("MVD_PUBLIC_URL", "https://mvd.contoso-dataspace.eu")  # the declared targets need one
    filled = Path(__file__).parents[1] / "fixtures" / "declared-dataspace.yaml"  # the placeholders filled in
    res = mvd("render", "--targets", "declared", "-f", str(filled), "--out", str(tmp_path / "out"), env_home=tmp_path)
    assert res.returncode == 0, res.stderr
    listed = json.loads((tmp_path / "out" / "images.json").read_text())
    named = set()
    for manifest in (tmp_path / "out").glob("*/k8s/*.yaml"):
        named |= {line.split("image:", 1)[1].strip() for line in manifest.read_text().splitlines()
                  if line.strip().startswith("image:")}
    assert named and named == {entry["image"] for entry in listed}
    by_use = {use: entry["source"] for entry in listed for use in entry["usedBy"]}
    for runtime in ("galactic-turbine/dataplane", "space-enforcer/identityhub", "galactic-turbine/catalog"):
        assert by_use[runtime].startswith("Docker Hub official image eclipse-temurin ")
        assert by_use[f"{runtime}/assemble"].startswith("Docker Hub official image maven ")
    assert by_use["space-enforcer/connector-ui"].startswith("images.connectorUi: ghcr.io, the EDC Data Dashboard's")
    assert "galactic-turbine/catalog" in by_use and "space-enforcer/catalog" not in by_use
    for entry in listed:
        assert entry["image"] in res.stdout
