"""Exposure of a participant's namespace, from the rendered objects: the Ingress routes exactly
the APIs others reach, with TLS from the blueprint's cert-manager ClusterIssuer on its DNS zone;
every data plane replica has its own route, Service and public address; and the NetworkPolicies,
evaluated with Kubernetes' rules, let each pod reach exactly the ports it needs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from mvd_core.dataspace import load
from mvd_core.dataspace.targets import apply_targets
from mvd_core.plan.desired import dataspace_dids
from mvd_core.plan.exposure import RUNTIMES_SERVICE_ACCOUNT, mounts_vault
from mvd_core.plan.render import participant_specs, render_participant
from mvd_core.settings import Settings
from tests.plan.test_render import K8S_VERSION, configmap_settings, of_kind

FILLED = Path(__file__).parents[1] / "fixtures" / "declared-dataspace.yaml"
# The SecretProviderClass CRD's schema (kubernetes-sigs/secrets-store-csi-driver,
# config/crd/bases/secrets-store.csi.x-k8s.io_secretproviderclasses.yaml), closed where it is open
# only for status, so a misspelt field fails.
SECRET_PROVIDER_CLASS_SCHEMA = {
    "type": "object",
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "properties": {
        "apiVersion": {"const": "secrets-store.csi.x-k8s.io/v1"},
        "kind": {"const": "SecretProviderClass"},
        "metadata": {"type": "object", "required": ["name", "namespace"]},
        "spec": {
            "type": "object",
            "additionalProperties": False,
            "required": ["provider", "parameters"],
            "properties": {
                "provider": {"type": "string"},
                "parameters": {"type": "object", "additionalProperties": {"type": "string"}},
                "secretObjects": {"type": "array"},
            },
        },
    },
}
JOB_NAME = "batch.kubernetes.io/job-name"


@pytest.fixture(scope="module")
def declared():
    ds = load(FILLED)
    dids = dataspace_dids(ds, Settings())
    return ds, dids, {p.id: render_participant(ds, p, dids, Settings()) for p in ds.participants}


# --- NetworkPolicy, evaluated as Kubernetes does ---------------------------------------------

def _matches(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    for key, value in selector.get("matchLabels", {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions", []):
        present = expr["key"] in labels
        if expr["operator"] == "Exists" and not present:
            return False
        if expr["operator"] == "In" and labels.get(expr["key"]) not in expr["values"]:
            return False
    return True


class Pod:
    def __init__(self, namespace: str, labels: dict[str, str], ports: dict[str, int] | None = None):
        self.namespace, self.labels, self.ports = namespace, labels, ports or {}


def may_reach(policies: list[dict[str, Any]], src: Pod, dst: Pod, port: str) -> bool:
    """Whether ``src`` may open a connection to ``dst``'s named container port."""
    selecting = [p for p in policies if p["metadata"]["namespace"] == dst.namespace
                 and _matches(p["spec"]["podSelector"], dst.labels) and "Ingress" in p["spec"]["policyTypes"]]
    if not selecting:
        return True
    for policy in selecting:
        for rule in policy["spec"].get("ingress", []):
            ports_ok = "ports" not in rule or any(
                p["port"] == port or p["port"] == dst.ports.get(port) for p in rule["ports"])
            peers_ok = "from" not in rule or any(_peer_matches(peer, policy["metadata"]["namespace"], src)
                                                 for peer in rule["from"])
            if ports_ok and peers_ok:
                return True
    return False


def _peer_matches(peer: dict[str, Any], namespace: str, src: Pod) -> bool:
    ns_labels = {"kubernetes.io/metadata.name": src.namespace}
    if "namespaceSelector" in peer:
        if not _matches(peer["namespaceSelector"], ns_labels):
            return False
        return "podSelector" not in peer or _matches(peer["podSelector"], src.labels)
    return src.namespace == namespace and _matches(peer["podSelector"], src.labels)


def _pod(ns: str, workload: str, **extra: str) -> Pod:
    return Pod(ns, {"app.kubernetes.io/name": workload, "mvd.dataspace/participant": ns, **extra})


def test_each_pod_reaches_exactly_the_ports_it_needs(declared):
    _, _, objects = declared
    ns = "galactic-turbine"
    policies = [o for objs in objects.values() for o in of_kind(objs, "NetworkPolicy").values()]
    assert {o["metadata"]["name"] for o in of_kind(objects[ns], "NetworkPolicy").values()} == {
        "default-deny", "identityhub", "connector", "dataplane", "catalog"}
    pods = {w: _pod(ns, w) for w in ("identityhub", "connector", "dataplane", "catalog", "connector-ui")}
    seed_job = Pod(ns, {JOB_NAME: "seed-offers", "job-name": "seed-offers"})
    controller = Pod("ingress-nginx", {"app.kubernetes.io/name": "ingress-nginx"})
    stranger = _pod("space-enforcer", "connector")  # another participant's pod on the same cluster
    same_ns_other = Pod(ns, {"app": "debug"})  # a pod someone started in the namespace by hand
    allowed = {
        (controller, "connector", "protocol"), (controller, "identityhub", "credentials"),
        (controller, "dataplane", "public"),
        (pods["connector-ui"], "connector", "management"), (seed_job, "connector", "management"),
        (pods["connector-ui"], "connector", "default"), (pods["connector-ui"], "connector", "catalog"),
        (pods["connector-ui"], "catalog", "catalog"),
        (pods["dataplane"], "connector", "control"), (pods["connector"], "dataplane", "control"),
        (pods["connector"], "identityhub", "sts"), (pods["catalog"], "identityhub", "sts"),
    }
    apis = {"identityhub": ("default", "credentials", "identity", "did", "sts"),
            "connector": ("default", "management", "protocol", "control", "catalog"),
            "dataplane": ("default", "control", "public"), "catalog": ("default", "catalog", "protocol"),
            "connector-ui": ("http",)}
    sources = [*pods.values(), seed_job, controller, stranger, same_ns_other]
    checked = 0
    for dst, ports in apis.items():
        for port in ports:
            for src in sources:
                expected = (src, dst, port) in allowed
                assert may_reach(policies, src, pods[dst], port) is expected, (src.labels, dst, port)
                checked += 1
    assert checked == 17 * len(sources)


def test_without_a_standalone_catalog_or_ui_nothing_is_opened_for_them(declared):
    ds, dids, objects = declared
    space = of_kind(objects["space-enforcer"], "NetworkPolicy")
    assert set(space) == {"default-deny", "identityhub", "connector", "dataplane"}
    sts = [r for r in space["identityhub"]["spec"]["ingress"] if r["ports"] == [{"protocol": "TCP", "port": "sts"}]]
    assert [peer["podSelector"]["matchLabels"]["app.kubernetes.io/name"] for peer in sts[0]["from"]] == ["connector"]
    p = ds.participants[1].model_copy(update={"runtimes": ds.participants[1].runtimes.model_copy(
        update={"connector_ui": ds.participants[1].runtimes.connector_ui.model_copy(update={"enabled": False})})})
    connector = of_kind(render_participant(ds, p, dids, Settings()), "NetworkPolicy")["connector"]
    callers = {peer.get("podSelector", {}).get("matchLabels", {}).get("app.kubernetes.io/name")
               for rule in connector["spec"]["ingress"] for peer in rule["from"]}
    assert "connector-ui" not in callers


# --- Ingress and the data plane replicas --------------------------------------------------------

def test_the_ingress_serves_the_zones_host_with_tls_from_the_cluster_issuer(declared):
    ds, _, objects = declared
    [ingress] = of_kind(objects["space-enforcer"], "Ingress").values()
    host = "space-enforcer.mvd.contoso-dataspace.eu"
    assert ingress["spec"]["ingressClassName"] == "nginx"
    assert ingress["metadata"]["annotations"]["cert-manager.io/cluster-issuer"] == "letsencrypt"
    assert ingress["spec"]["tls"] == [{"hosts": [host], "secretName": "space-enforcer-tls"}]
    assert [rule["host"] for rule in ingress["spec"]["rules"]] == [host]
    other = ds.model_copy(update={"exposure": ds.exposure.model_copy(
        update={"ingress_class": "webapprouting-kubernetes-azure-com", "cluster_issuer": "acme-prod"})})
    [changed] = of_kind(render_participant(other, ds.participants[1], declared[1], Settings()), "Ingress").values()
    assert changed["spec"]["ingressClassName"] == "webapprouting-kubernetes-azure-com"
    assert changed["metadata"]["annotations"]["cert-manager.io/cluster-issuer"] == "acme-prod"


def test_each_data_plane_replica_is_reached_at_the_address_its_edrs_name(declared):
    """An EDR's endpoint is the replica's edc.dataplane.api.public.baseurl; the Ingress route of that
    path leads to a Service selecting that replica's pod alone, on the port it serves that path on."""
    ds, dids, objects = declared
    p = ds.participants[0]
    rendered = objects[p.id]
    host = ds.public_host_for(p)
    settings = configmap_settings(rendered)
    services = of_kind(rendered, "Service")
    [ingress] = of_kind(rendered, "Ingress").values()
    routes = {path["path"]: path["backend"]["service"] for path in ingress["spec"]["rules"][0]["http"]["paths"]}
    [container] = of_kind(rendered, "StatefulSet")["dataplane"]["spec"]["template"]["spec"]["containers"]
    container_ports = {port["name"]: port["containerPort"] for port in container["ports"]}
    specs = [s for s in participant_specs(ds, p, dids, Settings()) if s.kind == "dataplane"]
    assert [s.name for s in specs] == ["dataplane-0", "dataplane-1", "dataplane-2"]
    for spec in specs:
        own = settings[spec.name]
        assert own["edc.dataplane.api.public.baseurl"] == f"https://{host}/api/public/{spec.name}"
        assert own["web.http.public.path"] == f"/api/public/{spec.name}"
        backend = routes[f"/api/public/{spec.name}"]
        service = services[backend["name"]]
        assert service["spec"]["selector"]["statefulset.kubernetes.io/pod-name"] == spec.name
        assert container_ports[backend["port"]["name"]] == int(own["web.http.public.port"])
    # no route reaches "any replica"
    assert "/api/public" not in routes and all(b["name"] != "dataplane" for b in routes.values())


def test_mvd_render_targets_declared_passes_kubernetes_validate(tmp_path):
    env = {**os.environ, "MVD_HOME": str(tmp_path / "home"), "COLUMNS": "300",
           "MVD_PUBLIC_URL": "https://mvd.contoso-dataspace.eu"}
    res = subprocess.run([sys.executable, "-m", "mvd_core", "render", "--targets", "declared", "-f", str(FILLED),
                          "-o", str(tmp_path / "out")], capture_output=True, text=True, env=env, timeout=120,
                         check=False)
    assert res.returncode == 0, res.stderr
    manifests = sorted((tmp_path / "out").glob("*/k8s/*.yaml"))
    kinds = set()
    for manifest in manifests:
        obj = yaml.safe_load(manifest.read_text())
        if obj["kind"] == "SecretProviderClass":  # a CRD: its own schema
            jsonschema.validate(obj, SECRET_PROVIDER_CLASS_SCHEMA)
        else:
            kubernetes_validate.validate(obj, K8S_VERSION, strict=True)
        kinds.add(obj["kind"])
    assert {"Ingress", "NetworkPolicy", "StatefulSet", "Service", "ServiceAccount", "SecretProviderClass"} <= kinds
    assert len(manifests) > 60


# --- workload identity ----------------------------------------------------------------------------

def test_pods_that_mount_the_vault_run_as_the_service_account_of_the_participants_identity(declared):
    ds, _, objects = declared
    for p in ds.participants:
        rendered = objects[p.id]
        [account] = of_kind(rendered, "ServiceAccount").values()
        assert account["metadata"]["name"] == RUNTIMES_SERVICE_ACCOUNT
        assert account["metadata"]["annotations"]["azure.workload.identity/client-id"] == p.vault.client_id
        assert account["metadata"]["annotations"]["azure.workload.identity/tenant-id"] == p.vault.tenant_id
        assert account["automountServiceAccountToken"] is False
        mounting = [o for o in rendered if mounts_vault(o)]
        assert {o["metadata"]["name"] for o in mounting} >= {"identityhub", "connector", "dataplane", "seed-offers"}
        for obj in mounting:
            assert obj["spec"]["template"]["spec"]["serviceAccountName"] == RUNTIMES_SERVICE_ACCOUNT
        # no client secret anywhere: no Secret object, and nothing names one
        assert not of_kind(rendered, "Secret")
        assert "clientSecret" not in json.dumps(rendered) and "client-secret" not in json.dumps(account)


def test_the_simulated_target_has_the_service_account_without_an_identity():
    ds = apply_targets(load(), "simulated")
    dids = dataspace_dids(ds, Settings())
    [account] = of_kind(render_participant(ds, ds.participants[0], dids, Settings()), "ServiceAccount").values()
    assert "annotations" not in account["metadata"] or not any(
        k.startswith("azure.workload.identity") for k in account["metadata"]["annotations"])


def test_the_vault_mount_is_the_key_vault_read_with_workload_identity(declared):
    ds, _, objects = declared
    for p in ds.participants:
        rendered = objects[p.id]
        [provider] = of_kind(rendered, "SecretProviderClass").values()
        jsonschema.validate(provider, SECRET_PROVIDER_CLASS_SCHEMA)
        assert provider["metadata"]["name"] == f"{p.id}-vault"
        params = provider["spec"]["parameters"]
        assert provider["spec"]["provider"] == "azure" and params["usePodIdentity"] == "false"
        assert (params["clientID"], params["keyvaultName"], params["tenantId"]) == (
            p.vault.client_id, p.vault.name, p.vault.tenant_id)
        names = [yaml.safe_load(item)["objectName"] for item in yaml.safe_load(params["objects"])["array"]]
        assert all(yaml.safe_load(item)["objectType"] == "secret"
                   for item in yaml.safe_load(params["objects"])["array"])
        expected = {f"{p.id}-did-signing-key", "management-api-key", "ih-superuser-apikey",
                    "dataplane-token-private-key", "dataplane-token-public-key", "data-source-key",
                    "sts-client-secret"}  # the vault step writes a first value, the identity step the hub's
        assert set(names) == expected  # not the hub's own API key (ih-participant-apikey), only it writes that
        for obj in rendered:
            if mounts_vault(obj):
                volumes = obj["spec"]["template"]["spec"]["volumes"]
                [vault] = [v for v in volumes if "csi" in v]
                assert vault["csi"]["volumeAttributes"]["secretProviderClass"] == f"{p.id}-vault"
    # the local file vault needs none
    simulated = apply_targets(load(), "simulated")
    sim_dids = dataspace_dids(simulated, Settings())
    assert not of_kind(render_participant(simulated, simulated.participants[0], sim_dids, Settings()),
                       "SecretProviderClass")


def test_the_exposure_objects_apply_to_a_cluster_and_read_back_without_drift(declared, tmp_path):
    from mvd_core.k8s.objects import object_key
    from mvd_core.platforms.kubernetes import workloads as W
    from mvd_core.platforms.kubernetes.client import api_client_for_url
    from mvd_core.platforms.kubernetes.simulator import SimulatorServer

    ds, _, objects = declared
    rendered = objects["galactic-turbine"]
    server = SimulatorServer(tmp_path / "simulated.db", ready_delay=0.05).start()
    try:
        server.store.ensure_cluster("gti")
        api = api_client_for_url(server.cluster_url("gti"))
        assert W.apply(api, rendered).writes == len(rendered)
        observed = {object_key(o): o for o in W.observe(api, "galactic-turbine", ds.name)}
        assert set(observed) == {object_key(o) for o in rendered}
        kinds = {"SecretProviderClass", "ServiceAccount", "NetworkPolicy", "Ingress"}
        for obj in rendered:
            if obj["kind"] in kinds:
                assert W.drift(obj, observed[object_key(obj)]) == [], object_key(obj)
        assert W.apply(api, rendered).writes == 0
        api.close()
    finally:
        server.stop()
