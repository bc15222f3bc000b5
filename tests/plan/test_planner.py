"""Plans: per participant, what an apply would create against an empty cluster."""

from __future__ import annotations

from mvd_core.dataspace import load
from mvd_core.plan.desired import dataspace_dids
from mvd_core.plan.planner import make_plan
from mvd_core.settings import Settings


def test_plan_against_empty_clusters_creates_everything():
    ds = load()
    dids = dataspace_dids(ds, Settings())
    plan = make_plan(ds, dids, "simulated", Settings()).to_json()
    assert set(plan["participants"]) == {"galactic-turbine", "space-enforcer", "interstellar-assembly"}
    gti = plan["participants"]["galactic-turbine"]
    assert gti["update"] == [] and gti["delete"] == [] and gti["unchanged"] == 0
    assert "Deployment/galactic-turbine/catalog" in gti["create"]
    assert "Deployment/space-enforcer/catalog" not in plan["participants"]["space-enforcer"]["create"]
