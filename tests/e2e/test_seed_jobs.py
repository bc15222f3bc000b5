"""Seed jobs (the offers Job every participant has, and the blueprint's extra ones) run after the
runtimes are ready, and again after every reset's restart."""

from __future__ import annotations

from importlib import resources

import pytest
from kubernetes import client as k8s

from mvd_core.workflow import connect
from tests.e2e.conftest import run_plane

SEEDED = resources.files("mvd_core.dataspace").joinpath("default-dataspace.yaml").read_text("utf-8").replace(
    "      connectorUi: {enabled: true}\n    identity:\n      host:\n        kind: cloudflare",
    "      connectorUi: {enabled: true}\n    seedJobs:\n      - {name: assets, image: busybox:1.36, args: [\"true\"]}\n"
    "    identity:\n      host:\n        kind: cloudflare",
)


@pytest.fixture
def seeded_plane(tmp_path, monkeypatch):
    assert "seedJobs" in SEEDED
    blueprint = tmp_path / "seeded.yaml"
    blueprint.write_text(SEEDED)
    yield from run_plane(monkeypatch, blueprint)


def test_seed_job_runs_on_provision_and_again_on_reset(seeded_plane):
    plane = seeded_plane
    run = plane.wait(plane.post("provision").json()["runId"])
    assert run["status"] == "completed", run["failures"]
    seed = {s["name"]: s for s in run["participants"]["galactic-turbine"]["steps"]}["seed"]
    assert seed["status"] == "done" and "2 seed job(s) ready" in seed["detail"]  # seed-offers and seed-assets
    other = {s["name"]: s for s in run["participants"]["space-enforcer"]["steps"]}["seed"]
    assert other["status"] == "done" and "1 seed job(s) ready" in other["detail"]  # seed-offers only
    p = plane.host.dataspace.participant("galactic-turbine")
    batch = k8s.BatchV1Api(connect.cluster_source(p, plane.settings).api_client())
    first = {name: batch.read_namespaced_job(name, "galactic-turbine") for name in ("seed-offers", "seed-assets")}
    assert all(job.status.succeeded == 1 for job in first.values())

    reset = plane.wait(plane.post("reset").json()["runId"])
    assert reset["status"] == "completed", reset["failures"]
    restart = {s["name"]: s for s in reset["participants"]["galactic-turbine"]["steps"]}["restart"]
    assert "2 seed job(s) re-run" in restart["detail"]
    for name, job in first.items():
        again = batch.read_namespaced_job(name, "galactic-turbine")
        assert again.metadata.uid != job.metadata.uid and again.status.succeeded == 1, name
