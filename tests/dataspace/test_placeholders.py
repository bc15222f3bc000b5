"""The declared targets refuse the packaged blueprint's placeholders (`.example` hosts, a made-up
Cloudflare account and zone, the example's globally unique names), each naming the field an
operator must fill in; the embedded and simulated targets keep running the packaged blueprint."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from mvd_core.dataspace import load
from mvd_core.dataspace.loader import parse
from mvd_core.dataspace.placeholders import is_reserved_host, placeholder_problems

FILLED = Path(__file__).parents[1] / "fixtures" / "declared-dataspace.yaml"


PUBLIC_URL = "https://mvd.contoso-dataspace.eu"


def mvd(tmp_path: Path, *args: str, public_url: str | None = PUBLIC_URL) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MVD_HOME": str(tmp_path / "home"), "COLUMNS": "300"}
    env.pop("MVD_TARGETS", None)
    env.pop("MVD_PUBLIC_URL", None)
    if public_url is not None:
        env["MVD_PUBLIC_URL"] = public_url
    return subprocess.run([sys.executable, "-m", "mvd_core", *args], capture_output=True, text=True, env=env,
                          timeout=120, check=False)


def test_the_packaged_blueprint_names_every_placeholder_field():
    fields = {p.path for p in placeholder_problems(load())}
    assert fields == {
        "exposure.zone",
        "participants[0].identity.host.domain",
        "participants[0].identity.host.accountId",
        "participants[0].identity.host.zoneId",
        "participants[0].vault.name",
        "participants[1].vault.name",
        "participants[1].identity.host.storageAccount",
        "participants[2].vault.name",
        "participants[2].identity.host.bucket",
        # no vault.clientId: on the AKS clusters it creates, the control plane makes the runtimes' identity
    }


def test_a_filled_in_blueprint_has_none():
    assert placeholder_problems(load(FILLED)) == []


def test_a_key_vault_on_a_cluster_the_control_plane_does_not_create_needs_its_identity():
    """On a kubeconfig cluster nobody makes the runtimes' managed identity for it: the blueprint names it."""
    text = FILLED.read_text().replace(
        "cluster: {kind: aks, resourceGroup: rg-mvd-space-enforcer, name: aks-space-enforcer}",
        "cluster: {kind: kubeconfig, context: selt-k3s}")
    unnamed = parse(text).participants[1].vault.model_copy(update={"client_id": None, "tenant_id": None})
    dataspace = parse(text)
    dataspace.participants[1] = dataspace.participants[1].model_copy(update={"vault": unnamed})
    problems = {p.path: p.message for p in placeholder_problems(dataspace)}
    assert set(problems) == {"participants[1].vault.clientId"}
    assert "a cluster the control plane does not create" in problems["participants[1].vault.clientId"]
    # the same vault without an identity on an AKS cluster the control plane creates: nothing to fill in
    aks = parse(FILLED.read_text())
    aks.participants[1] = aks.participants[1].model_copy(update={"vault": unnamed})
    assert placeholder_problems(aks) == []


@pytest.mark.parametrize(("host", "reserved"), [
    ("gti.mvd.dataspace.example", True), ("x.example", True), ("a.test", True), ("example.com", True),
    ("api.example.org", True), ("did.contoso.eu", False), ("examples.com", False), ("example.com.eu", False),
])
def test_reserved_hosts(host, reserved):
    assert is_reserved_host(host) is reserved


def test_an_explicit_public_host_under_example_is_refused_and_the_zone_is_not_needed_then():
    text = FILLED.read_text().replace("exposure:\n  zone: mvd.contoso-dataspace.eu\n", "")
    text = text.replace("displayName: Galactic Turbine Industries\n",
                        "displayName: Galactic Turbine Industries\n    publicHost: gti.example.com\n")
    problems = {p.path: p.message for p in placeholder_problems(parse(text))}
    # two participants still derive their host from the (placeholder) zone
    assert set(problems) == {"exposure.zone", "participants[0].publicHost"}
    assert "gti.example.com" in problems["participants[0].publicHost"]
    every_host_set = text.replace("displayName: Space Enforcer Laser Tec\n",
                                  "displayName: Space Enforcer Laser Tec\n    publicHost: selt.contoso.eu\n")
    every_host_set = every_host_set.replace("displayName: Interstellar Assembly Services\n",
                                            "displayName: Interstellar Assembly Services\n    publicHost: ias.contoso.eu\n")
    every_host_set = every_host_set.replace("publicHost: gti.example.com", "publicHost: gti.contoso.eu")
    assert placeholder_problems(parse(every_host_set)) == []


def test_mvd_validate_targets_declared_refuses_the_packaged_blueprint_naming_each_field(tmp_path):
    res = mvd(tmp_path, "validate", "--targets", "declared")
    assert res.returncode == 1
    assert "(declared targets): 9 problem(s)" in res.stderr
    for field in ("exposure.zone", "participants[0].identity.host.accountId", "participants[2].identity.host.bucket"):
        assert field in res.stderr
    assert "Traceback" not in res.stderr + res.stdout
    assert mvd(tmp_path, "validate").returncode == 0
    ok = mvd(tmp_path, "validate", str(FILLED), "--targets", "declared")
    assert ok.returncode == 0, ok.stderr
    assert "ready for the declared targets" in ok.stdout


@pytest.mark.parametrize("url", [None, "http://127.0.0.1:7080", "https://10.0.0.5", "http://mvd.contoso.eu",
                                 "https://mvd.example.org", "https://localhost:7443"])
def test_the_control_planes_url_must_be_public_https_for_the_declared_targets(tmp_path, url):
    """Unset, MVD_PUBLIC_URL is this machine's listener: the runtimes on the clusters could not
    resolve the issuer's DID, crawl the participant list or fetch the seeded data there."""
    res = mvd(tmp_path, "validate", str(FILLED), "--targets", "declared", public_url=url)
    assert res.returncode == 1
    assert "MVD_PUBLIC_URL" in res.stderr and "1 problem(s)" in res.stderr and "Traceback" not in res.stderr


def test_render_and_plan_on_the_declared_targets_refuse_placeholders_and_write_nothing(tmp_path):
    out = tmp_path / "out"
    for args in (("render", "--targets", "declared", "-o", str(out)), ("plan", "--targets", "declared")):
        res = mvd(tmp_path, *args)
        assert res.returncode == 1, res.stdout
        assert "exposure.zone" in res.stderr and "Traceback" not in res.stderr
    assert not out.exists()
    assert mvd(tmp_path, "render", "--targets", "simulated", "-o", str(out)).returncode == 0
