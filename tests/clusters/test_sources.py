"""Simulated and kubeconfig cluster sources, through the factory."""

from __future__ import annotations

import pytest
import yaml

from mvd_core.dataspace.models import KubeconfigCluster, SimulatedCluster
from mvd_core.errors import MvdError
from mvd_core.k8s.objects import object_key
from mvd_core.platforms.clusters import ClusterSource, open_cluster_source
from mvd_core.platforms.kubernetes import workloads as W
from mvd_core.platforms.kubernetes.simulator import shared_simulator, stop_shared_simulators
from mvd_core.settings import get_settings
from tests.kubernetes.objects import DATASPACE, participant_objects
from tests.kubernetes.rollout import settle


@pytest.fixture(autouse=True)
def _stop_shared():
    yield
    stop_shared_simulators()


def test_simulated_source_says_it_is_simulated_and_persists(tmp_path):
    settings = get_settings()
    source = open_cluster_source(SimulatedCluster(), "alice", settings)
    assert isinstance(source, ClusterSource)
    op = source.begin_ensure()
    assert op.done and op.simulated and op.kind == "simulated" and "simulated" in op.description
    assert source.begin_ensure().done  # idempotent
    api = source.api_client()
    W.apply(api, participant_objects())
    # A later run (fresh server over the same state directory) sees the same cluster.
    stop_shared_simulators()
    again = open_cluster_source(SimulatedCluster(), "alice", settings)
    assert again.begin_ensure().done
    assert len(W.observe(again.api_client(), "alice", DATASPACE)) == len(participant_objects())
    assert shared_simulator().store.clusters() == ["alice"]
    assert again.delete().done
    assert shared_simulator().store.clusters() == []


def test_one_simulated_cluster_per_participant():
    settings = get_settings()
    a, b = (open_cluster_source(SimulatedCluster(), p, settings) for p in ("alice", "bob"))
    a.begin_ensure(), b.begin_ensure()
    W.apply(a.api_client(), participant_objects("alice"))
    assert W.observe(b.api_client(), "alice", DATASPACE) == []


def _kubeconfig(path, server_url: str) -> str:
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "other",
        "clusters": [{"name": "c", "cluster": {"server": server_url}}],
        "users": [{"name": "u", "user": {"token": "t0ken"}}],
        "contexts": [{"name": "kind-alice", "context": {"cluster": "c", "user": "u"}},
                     {"name": "other", "context": {"cluster": "c", "user": "u"}}],
    }))
    return str(path)


def test_kubeconfig_source_reaches_the_context_and_detects_a_simulator(sim, tmp_path):
    sim.store.ensure_cluster("alice")
    path = _kubeconfig(tmp_path / "kubeconfig", sim.cluster_url("alice"))
    source = open_cluster_source(KubeconfigCluster(kind="kubeconfig", context="kind-alice", path=path), "alice",
                                 get_settings())
    op = source.begin_ensure()
    assert op.done and op.kind == "kubeconfig" and op.simulated and "SIMULATED" in op.description
    assert "kind-alice" in op.description and "t0ken" not in op.description
    objects = participant_objects()
    assert W.apply(source.api_client(), objects).writes == len(objects)
    assert sim.writes("alice") == len(objects)
    assert source.delete().done and sim.store.clusters() == ["alice"]  # never deleted by us


def test_kubeconfig_errors_name_the_problem(sim, tmp_path):
    path = _kubeconfig(tmp_path / "kubeconfig", sim.cluster_url("alice"))
    with pytest.raises(MvdError, match=r"no context 'missing' \(it has: kind-alice, other\)"):
        open_cluster_source(KubeconfigCluster(kind="kubeconfig", context="missing", path=path), "a",
                            get_settings()).begin_ensure()
    with pytest.raises(MvdError, match="does not exist"):
        open_cluster_source(KubeconfigCluster(kind="kubeconfig", context="x", path=str(tmp_path / "nope")), "a",
                            get_settings()).begin_ensure()
    (tmp_path / "broken").write_text("clusters: [unclosed")
    with pytest.raises(MvdError, match="cannot be read"):
        open_cluster_source(KubeconfigCluster(kind="kubeconfig", context="x", path=str(tmp_path / "broken")), "a",
                            get_settings()).begin_ensure()


def test_settings_inject_faults_into_the_embedded_simulator(monkeypatch):
    monkeypatch.setenv("MVD_SIM_ERROR_RATE", "0.2")
    # A fixed seed: with ~20 requests an unseeded 0.2 rate drew no fault about 1 run in 100.
    monkeypatch.setenv("MVD_SIM_FAULT_SEED", "7")
    monkeypatch.setenv("MVD_SIM_READY_DELAY", "0")
    get_settings.cache_clear()
    source = open_cluster_source(SimulatedCluster(), "alice", get_settings())
    source.begin_ensure()
    api, objects = source.api_client(), participant_objects()
    W.apply(api, objects)
    assert settle(api, objects, timeout_seconds=60).ready
    assert shared_simulator().requests("alice")["fault"] > 0
    assert W.rollout_status(api, objects).ready and W.apply(api, objects).writes == 0


def test_plan_before_provision_sees_an_empty_simulated_cluster():
    source = open_cluster_source(SimulatedCluster(), "nobody-yet", get_settings())
    assert W.observe(source.api_client(), "nobody-yet", DATASPACE) == []
    assert W.delete_namespace(source.api_client(), "nobody-yet") is False


def test_a_second_process_sees_the_same_simulated_clusters():
    import json
    import os
    import subprocess
    import sys

    settings = get_settings()
    source = open_cluster_source(SimulatedCluster(), "alice", settings)
    source.begin_ensure()
    objects = participant_objects()
    W.apply(source.api_client(), objects)
    code = (
        "import json\n"
        "from mvd_core.dataspace.models import SimulatedCluster\n"
        "from mvd_core.k8s.objects import object_key\n"
        "from mvd_core.platforms.clusters import open_cluster_source\n"
        "from mvd_core.platforms.kubernetes import workloads as W\n"
        "from mvd_core.settings import get_settings\n"
        "s = open_cluster_source(SimulatedCluster(), 'alice', get_settings())\n"
        f"print(json.dumps(sorted(object_key(o) for o in W.observe(s.api_client(), 'alice', {DATASPACE!r}))))\n"
    )
    env = {**os.environ, "MVD_HOME": str(settings.home)}
    done = subprocess.run([sys.executable, "-c", code], check=False, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == sorted(object_key(o) for o in objects)
