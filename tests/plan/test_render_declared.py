"""The Kubernetes render sets only keys the assembled runtimes declare, on the ports EDC
declares as defaults (read from the assembled class files, as tests/runtimes does)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mvd_core.dataspace import load
from mvd_core.dataspace.targets import apply_targets
from mvd_core.plan.desired import dataspace_dids
from mvd_core.plan.render import render_participant
from mvd_core.runtimes.assembly import classpath_of
from mvd_core.runtimes.cluster import CONTAINER_PORTS
from mvd_core.runtimes.declared import DeclaredSetting, declared_settings, is_declared
from mvd_core.runtimes.kinds import RUNTIME_KINDS, RuntimeKind
from mvd_core.runtimes.participant import runtime_layout
from mvd_core.settings import Settings
from tests.plan.test_render import configmap_settings


@pytest.fixture(scope="module")
def declared(edc_runtimes: dict[RuntimeKind, Path]) -> dict[RuntimeKind, dict[str, list[DeclaredSetting]]]:
    return {kind: declared_settings(classpath_of(edc_runtimes[kind])) for kind in RUNTIME_KINDS}


@pytest.mark.parametrize("targets", ["declared", "simulated"])
def test_every_rendered_key_is_declared_by_the_runtimes_modules(declared, targets):
    ds = apply_targets(load(), targets)
    dids = dataspace_dids(ds, Settings())
    undeclared, checked = [], 0
    for p in ds.participants:
        kinds = runtime_layout(p)
        for runtime, settings in configmap_settings(render_participant(ds, p, dids, Settings())).items():
            checked += len(settings)
            undeclared += [f"{p.id}/{runtime}: {key}" for key in settings if not is_declared(key, declared[kinds[runtime]])]
    assert checked > 100
    assert not undeclared, "rendered keys no module on the runtime's classpath declares:\n" + "\n".join(undeclared)


def test_container_ports_are_edcs_declared_defaults(declared):
    """Except ``default``: EDC declares 8181 for both it and ``management``."""
    for kind, ports in CONTAINER_PORTS.items():
        assert len(set(ports.values())) == len(ports), kind
        for api, port in ports.items():
            key = "web.http.port" if api == "default" else f"web.http.{api}.port"
            defaults = {d.default for d in declared[kind][key]}
            assert defaults == ({"8181"} if api == "default" else {str(port)}), (kind, api, defaults)
