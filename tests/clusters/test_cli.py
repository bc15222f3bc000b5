"""`mvd clusters status` against simulated clusters and local processes."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from mvd_core.cli.clusters import app
from mvd_core.dataspace.loader import load
from mvd_core.dataspace.targets import apply_targets
from mvd_core.plan.desired import dataspace_dids
from mvd_core.plan.render import render_participant
from mvd_core.platforms.clusters import open_cluster_source
from mvd_core.platforms.kubernetes import workloads as W
from mvd_core.platforms.kubernetes.simulator import stop_shared_simulators
from mvd_core.settings import get_settings
from tests.kubernetes.rollout import settle


def test_status_says_simulated_and_counts_objects():
    try:
        settings = get_settings()
        dataspace = apply_targets(load(), "simulated")
        dids = dataspace_dids(dataspace, settings)
        first = dataspace.participants[0]
        source = open_cluster_source(first.cluster, first.id, settings)
        source.begin_ensure()
        objects = render_participant(dataspace, first, dids, settings)
        W.apply(source.api_client(), objects)
        assert settle(source.api_client(), objects, timeout_seconds=60).ready

        result = CliRunner().invoke(app, ["status", "--json", "--targets", "simulated"])
        assert result.exit_code == 0, result.output
        rows = {r["participant"]: r for r in json.loads(result.output)}
        assert all(r["simulated"] and "simulated cluster" in r["cluster"] for r in rows.values())
        assert rows[first.id]["objects"] == len(objects)
        workloads = sum(1 for o in objects if o["kind"] in ("Deployment", "StatefulSet"))
        assert workloads == 5  # identity hub, connector, data planes (a StatefulSet), catalog, connector UI
        assert rows[first.id]["runtimes"] == f"{workloads}/{workloads} ready"
        others = [r for pid, r in rows.items() if pid != first.id]
        assert others and all(r["objects"] == 0 for r in others)

        table = CliRunner().invoke(app, ["status", "--targets", "simulated"])
        assert table.exit_code == 0 and "SIMULATED" in table.output
    finally:
        stop_shared_simulators()
