"""An AKS participant whose blueprint names no vault.clientId: the cluster step makes its runtimes'
vault identity. `mvd render` (offline, no Azure call for it) leaves that identity's annotation and
SecretProviderClass out and says so; `mvd plan` prints why its objects change."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from mvd_core.cli.blueprint import print_plan
from mvd_core.dataspace import load
from mvd_core.plan.desired import dataspace_dids
from mvd_core.plan.planner import identity_pending, make_plan
from mvd_core.settings import Settings
from tests.plan.test_cli import mvd

FILLED = Path(__file__).parents[1] / "fixtures" / "declared-dataspace.yaml"
MADE = "galactic-turbine"  # its identity is the cluster step's
NAMED = "space-enforcer"  # its blueprint names one


def _without_identity(tmp_path: Path) -> Path:
    """The filled-in declared blueprint, galactic-turbine's vault naming no identity."""
    data = yaml.safe_load(FILLED.read_text())
    [vault] = [p["vault"] for p in data["participants"] if p["id"] == MADE]
    del vault["clientId"], vault["tenantId"]
    path = tmp_path / "dataspace.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def _objects(out: Path, participant: str) -> dict[str, dict]:
    return {f.name.split("-", 1)[1]: yaml.safe_load(f.read_text()) for f in (out / participant / "k8s").glob("*.yaml")}


def test_offline_render_leaves_out_the_identity_the_cluster_step_makes_and_says_why(tmp_path, monkeypatch):
    monkeypatch.setenv("MVD_PUBLIC_URL", "https://mvd.contoso-dataspace.eu")  # the declared targets need one
    out = tmp_path / "out"
    res = mvd("render", "--targets", "declared", "-f", str(_without_identity(tmp_path)), "--out", str(out),
              env_home=tmp_path / "home")
    assert res.returncode == 0, res.stderr
    assert "Traceback" not in res.stdout + res.stderr
    [note] = [line for line in res.stdout.splitlines() if line.startswith("note:")]
    assert note.startswith(f"note: {MADE}: ServiceAccount runtimes has no workload identity annotation and "
                           f"SecretProviderClass {MADE}-vault is left out: the cluster step makes the runtimes' "
                           f"vault identity id-{MADE}-runtimes")
    assert "vault.clientId" in note and "mvd plan" in note

    made = _objects(out, MADE)
    account = made["serviceaccount-runtimes.yaml"]
    assert not any(k.startswith("azure.workload.identity") for k in account["metadata"].get("annotations", {}))
    assert not [name for name in made if name.startswith("secretproviderclass-")]
    # the participant whose blueprint names its identity is rendered whole
    named = _objects(out, NAMED)
    assert named["serviceaccount-runtimes.yaml"]["metadata"]["annotations"]["azure.workload.identity/client-id"]
    assert f"secretproviderclass-{NAMED}-vault.yaml" in named

    # cloud.json lists the identity among what the cluster step makes, only where it makes one
    cloud = json.loads((out / MADE / "cloud.json").read_text())["resources"]
    [identity] = [r for r in cloud if r["type"] == "Microsoft.ManagedIdentity/userAssignedIdentities"]
    assert identity["name"] == f"id-{MADE}-runtimes" and identity["resourceGroup"] == "rg-mvd-galactic-turbine"
    assert "userAssignedIdentities" not in (out / NAMED / "cloud.json").read_text()


def test_the_plan_prints_why_the_identitys_objects_change(capsys):
    ds = load()
    ds = ds.model_copy(update={"participants": ds.participants[:1]})
    plan = make_plan(ds, dataspace_dids(ds, Settings()), "declared", Settings(), as_rendered=identity_pending)
    print_plan(plan)
    printed = capsys.readouterr().out
    lines = printed.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith(MADE))
    assert lines[header + 1] == (
        f"  note: the runtimes' vault identity id-{MADE}-runtimes does not exist yet: the cluster step creates it, "
        f"then ServiceAccount runtimes and SecretProviderClass {MADE}-vault carry its client id")
    assert f"+ SecretProviderClass/{MADE}/{MADE}-vault" in printed
