"""The Kubernetes render is the runtime spec: the same runtimes, settings keys, APIs, heap and
vault aliases as the processes target, on cluster hosts; every Service port, probe and Ingress
path leads to a declared container port; output is deterministic and every object is valid
against the real Kubernetes OpenAPI schemas."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import kubernetes_validate
import pytest

from mvd_core.dataspace import load
from mvd_core.dataspace.models import SeedJob
from mvd_core.dataspace.targets import apply_targets
from mvd_core.k8s import labels as L
from mvd_core.plan.desired import dataspace_dids, did_document
from mvd_core.plan.render import participant_specs, render_participant, runtime_images
from mvd_core.runtimes.assembly import BASE_RUNTIME, JVM_FLAGS
from mvd_core.runtimes.participant import participant_runtimes
from mvd_core.settings import Settings

K8S_VERSION = "1.35.0"
WORKLOADS = ("Deployment", "StatefulSet")


@pytest.fixture(scope="module")
def seed():
    ds = load()
    return ds, dataspace_dids(ds, Settings())


def rendered(ds, dids) -> dict[str, list[dict[str, Any]]]:
    return {p.id: render_participant(ds, p, dids, Settings()) for p in ds.participants}


def of_kind(objects, kind) -> dict[str, dict[str, Any]]:
    return {o["metadata"]["name"]: o for o in objects if o["kind"] == kind}


def properties(text: str) -> dict[str, str]:
    """A properties file as the render writes it (keys need no escapes; values here neither)."""
    pairs = (line.split("=", 1) for line in text.splitlines() if line and not line.startswith("#"))
    return {key: value.replace("\\:", ":").replace("\\\\", "\\") for key, value in pairs}


def configmap_settings(objects) -> dict[str, dict[str, str]]:
    """Runtime name -> the settings its ConfigMap holds."""
    out = {}
    for name, cm in of_kind(objects, "ConfigMap").items():
        if not name.endswith("-settings"):
            continue  # the connector UI's and the offers Job's files
        [(file, text)] = cm["data"].items()
        assert name == file.removesuffix(".properties") + "-settings"
        out[file.removesuffix(".properties")] = properties(text)
    return out


def test_one_workload_per_runtime_kind_data_planes_as_a_stateful_set(seed):
    ds, dids = seed
    replicas = {
        pid: {(o["kind"], o["metadata"]["name"]): o["spec"]["replicas"] for o in objs if o["kind"] in WORKLOADS}
        for pid, objs in rendered(ds, dids).items()
    }
    common = {("Deployment", "identityhub"): 1, ("Deployment", "connector"): 1, ("Deployment", "connector-ui"): 1}
    assert replicas == {
        "galactic-turbine": {**common, ("StatefulSet", "dataplane"): 3, ("Deployment", "catalog"): 1},
        "space-enforcer": {**common, ("StatefulSet", "dataplane"): 1},
        "interstellar-assembly": {**common, ("StatefulSet", "dataplane"): 3},
    }


def test_each_runtime_has_the_processes_targets_settings_keys_on_cluster_hosts(seed):
    ds, dids = seed
    counter = itertools.count(20000)
    for p in ds.participants:
        local = participant_runtimes(
            p, did=dids[p.id], issuer_did="did:web:localhost%3A7080:dids:issuer",
            participant_list_url="http://localhost:7080/api/dataspace/participants.json",
            vault_path=Path("/state/vaults") / p.id, ports=lambda runtime, api: next(counter),
        )
        control_plane = Settings(public_url="https://mvd.example.org")
        cluster = configmap_settings(render_participant(ds, p, dids, control_plane))
        assert list(cluster) == [s.name for s in local]
        for spec in local:
            assert set(cluster[spec.name]) == set(spec.settings), spec.name
        ns = f"{p.id}.svc.cluster.local"
        assert cluster["connector"]["edc.hostname"] == f"connector.{ns}"
        assert cluster["dataplane-0"]["edc.hostname"] == f"dataplane-0.dataplane.{ns}"  # its own pod's name
        assert cluster["dataplane-0"]["edc.dpf.selector.url"] == f"http://connector.{ns}:9191/api/control/v1/dataplanes"
        assert cluster["connector"]["edc.iam.sts.oauth.token.url"] == f"http://identityhub.{ns}:9292/api/sts/token"
        assert cluster["connector"]["edc.dsp.callback.address"] == f"https://{ds.public_host_for(p)}/api/dsp"
        assert cluster["connector"]["edc.vault.file.path"] == "/var/run/mvd/vault"
        assert cluster["connector"]["edc.catalog.nodes.url"] == "https://mvd.example.org/api/dataspace/participants.json"
        assert cluster["connector"]["edc.membership.issuers"] == "did:web:mvd.example.org:dids:issuer"
        assert cluster["connector"]["edc.iam.did.web.use.https"] == "true"
        assert not [f"{name}: {k}" for name, s in cluster.items() for k, v in s.items() if "localhost" in v]


def test_every_service_port_probe_and_ingress_path_leads_to_a_declared_container_port(seed):
    ds, dids = seed
    for pid, objects in rendered(ds, dids).items():
        workloads = {n: o for n, o in {**of_kind(objects, "Deployment"), **of_kind(objects, "StatefulSet")}.items()}
        container_ports = {}
        for name, workload in workloads.items():
            [container] = workload["spec"]["template"]["spec"]["containers"]
            ports = {port["name"]: port["containerPort"] for port in container["ports"]}
            assert len(set(ports.values())) == len(ports), name
            probes = [key for key in container if key.endswith("Probe")]
            assert probes, name
            for probe in probes:
                assert container[probe]["httpGet"]["port"] in ports, (name, probe)
            container_ports[name] = ports
        services = of_kind(objects, "Service")
        # a Service per data plane replica (its pod only), the backend of that replica's Ingress route
        replicas = {f"dataplane-{i}" for i in range(workloads["dataplane"]["spec"]["replicas"])}
        assert set(services) == set(workloads) | replicas
        for name, service in services.items():
            workload = "dataplane" if name in replicas else name
            selected = [w for w, o in workloads.items() if o["spec"]["selector"]["matchLabels"].items()
                        <= service["spec"]["selector"].items()]
            assert selected == [workload]
            if name in replicas:
                assert service["spec"]["selector"]["statefulset.kubernetes.io/pod-name"] == name
            for port in service["spec"]["ports"]:
                assert container_ports[workload][port["targetPort"]] == port["port"], (pid, name, port)
        [ingress] = of_kind(objects, "Ingress").values()
        routed = set()
        for path in ingress["spec"]["rules"][0]["http"]["paths"]:
            backend = path["backend"]["service"]
            assert backend["port"]["name"] in {p["name"] for p in services[backend["name"]]["spec"]["ports"]}
            routed.add((path["path"], backend["name"], backend["port"]["name"]))
        # only what others must reach: never management, control, STS, identity or the catalog query API,
        # nor the connector UI, which hands the management API key to its browser
        assert routed == {("/api/dsp", "connector", "protocol"), ("/api/credentials", "identityhub", "credentials"),
                          *((f"/api/public/{r}", r, "public") for r in replicas)}


def test_apis_probes_and_heap_come_from_the_spec(seed):
    ds, dids = seed
    p = ds.participants[0]
    objects = render_participant(ds, p, dids, Settings())
    specs = {s.name: s for s in participant_specs(ds, p, dids, Settings())}
    workloads = {**of_kind(objects, "Deployment"), **of_kind(objects, "StatefulSet")}
    for name, spec in [("identityhub", specs["identityhub"]), ("connector", specs["connector"]),
                       ("dataplane", specs["dataplane-0"]), ("catalog", specs["catalog"])]:
        [container] = workloads[name]["spec"]["template"]["spec"]["containers"]
        assert {port["name"]: port["containerPort"] for port in container["ports"]} == {
            api: endpoint.port for api, endpoint in spec.apis.items()}
        assert container["readinessProbe"]["httpGet"]["path"] == spec.readiness_path
        assert {container[p]["httpGet"]["path"] for p in ("startupProbe", "livenessProbe")} == {
            "/api/check/startup", "/api/check/liveness"}
        # the processes target's command line, on the JRE image's java and the assembled @argfile
        command = container["command"]
        assert command[:-2] == ["java", "-Xms32m", f"-Xmx{spec.heap_mb}m", *JVM_FLAGS, "@/opt/mvd/runtime/runtime.args"]
        assert command[-1] == BASE_RUNTIME and command[-2].startswith("-Dedc.fs.config=/etc/mvd/")
        assert "env" not in container or all(e["name"] != "JAVA_TOOL_OPTIONS" for e in container["env"])
    assert workloads["connector"]["spec"]["template"]["spec"]["containers"][0]["command"][-2] == (
        "-Dedc.fs.config=/etc/mvd/connector.properties")
    # each data plane pod reads the settings file named like itself, from its own ConfigMap
    [dataplane] = workloads["dataplane"]["spec"]["template"]["spec"]["containers"]
    assert dataplane["command"][-2] == "-Dedc.fs.config=/etc/mvd/$(POD_NAME).properties"
    sources = workloads["dataplane"]["spec"]["template"]["spec"]["volumes"][0]["projected"]["sources"]
    assert [s["configMap"]["name"] for s in sources] == ["dataplane-0-settings", "dataplane-1-settings",
                                                         "dataplane-2-settings"]
    assert workloads["dataplane"]["spec"]["serviceName"] == "dataplane"
    assert of_kind(objects, "Service")["dataplane"]["spec"]["clusterIP"] == "None"


def test_secrets_are_vault_aliases_only(seed):
    ds, dids = seed
    for p in ds.participants:
        objects = render_participant(ds, p, dids, Settings())
        assert not of_kind(objects, "Secret")
        text = json.dumps(objects)
        assert "PRIVATE KEY" not in text
        aliases = {alias for s in participant_specs(ds, p, dids, Settings()) for alias in s.secrets}
        for name, settings in configmap_settings(objects).items():
            for key, value in settings.items():
                if key.endswith(".alias"):
                    assert value in aliases, (name, key)


def test_every_image_comes_from_the_one_image_table(seed):
    ds, dids = seed
    ds = ds.model_copy(update={"participants": [
        ds.participants[0].model_copy(update={"seed_jobs": [SeedJob(name="assets", image="busybox:1.36")]}),
        *ds.participants[1:]]})
    for p in ds.participants:
        table = runtime_images(ds, p)
        used = {}
        for obj in render_participant(ds, p, dids, Settings()):
            pod = obj.get("spec", {}).get("template", {}).get("spec", {})
            for container in pod.get("containers", []):
                used[obj["metadata"]["name"]] = container["image"]
            for init in pod.get("initContainers", []):
                if init["name"] == "assemble":
                    used[obj["metadata"]["name"] + "/assemble"] = init["image"]
                else:  # the connector UI's config step runs its own image's shell
                    assert init["image"] == pod["containers"][0]["image"]
        assert used == {name: ref.image for name, ref in table.items()}
    assert runtime_images(ds, ds.participants[0])["seed-assets"].image == "busybox:1.36"


def test_did_document_services_are_the_ingress_routes_to_the_spec_apis(seed):
    ds, dids = seed
    for p in ds.participants:
        document = did_document(ds, p, dids[p.id], None)
        services = {s["type"]: s["serviceEndpoint"] for s in document["service"]}
        [ingress] = of_kind(render_participant(ds, p, dids, Settings()), "Ingress").values()
        routes = {path["path"]: path["backend"]["service"] for path in ingress["spec"]["rules"][0]["http"]["paths"]}
        for kind, (service, port) in {"ProtocolEndpoint": ("connector", "protocol"),
                                       "CredentialService": ("identityhub", "credentials")}.items():
            url = urlsplit(services[kind])
            assert url.scheme == "https" and url.hostname == ds.public_host_for(p)
            prefix = max((r for r in routes if url.path.startswith(r)), key=len)
            assert routes[prefix] == {"name": service, "port": {"name": port}}, kind
        assert services["ProtocolEndpoint"].endswith("/api/dsp/2025-1")


def test_every_object_is_labelled_and_hashed(seed):
    ds, dids = seed
    for p in ds.participants:
        for obj in render_participant(ds, p, dids, Settings()):
            labels = obj["metadata"]["labels"]
            assert labels[L.MANAGED_BY_KEY] == L.MANAGED_BY_VALUE
            assert labels[L.PART_OF_KEY] == "mvd"
            assert labels[L.PARTICIPANT_KEY] == p.id
            assert labels[L.NAME_KEY]
            assert obj["metadata"]["annotations"][L.SPEC_HASH_KEY] == L.spec_hash(obj)
            if obj["kind"] != "Namespace":
                assert obj["metadata"]["namespace"] == p.id


def test_rendering_is_deterministic(seed):
    ds, dids = seed
    first = [json.dumps(render_participant(ds, p, dids, Settings()), sort_keys=False) for p in ds.participants]
    again = load()
    second = [json.dumps(render_participant(again, p, dataspace_dids(again, Settings()), Settings()), sort_keys=False)
              for p in again.participants]
    assert first == second


def test_more_data_planes_change_only_the_stateful_set_and_add_their_settings(seed):
    ds, dids = seed
    p = ds.participants[0]
    bigger = p.model_copy(update={"runtimes": p.runtimes.model_copy(update={
        "data_plane": p.runtimes.data_plane.model_copy(update={"replicas": 5})})})
    before = {o["kind"] + "/" + o["metadata"]["name"]: L.spec_hash(o) for o in render_participant(ds, p, dids, Settings())}
    after = {o["kind"] + "/" + o["metadata"]["name"]: L.spec_hash(o)
             for o in render_participant(ds, bigger, dids, Settings())}
    # the Ingress gains the new replicas' routes
    assert {k for k in before if before[k] != after[k]} == {"StatefulSet/dataplane", "Ingress/galactic-turbine"}
    assert set(after) - set(before) == {"ConfigMap/dataplane-3-settings", "ConfigMap/dataplane-4-settings",
                                        "Service/dataplane-3", "Service/dataplane-4"}


@pytest.mark.parametrize("targets", ["declared", "simulated"])
def test_every_rendered_object_is_valid_against_the_kubernetes_schemas(seed, targets):
    ds = apply_targets(seed[0], targets)
    dids = dataspace_dids(ds, Settings())
    ds_with_job = ds.model_copy(update={"participants": [
        ds.participants[0].model_copy(update={"seed_jobs": [SeedJob(name="assets", image="busybox:1.36", args=["true"])]}),
        *ds.participants[1:],
    ]})
    checked = 0
    for p in ds_with_job.participants:
        for obj in render_participant(ds_with_job, p, dids, Settings()):
            kubernetes_validate.validate(obj, K8S_VERSION, strict=True)
            checked += 1
    # per participant: namespace, ingress, a ConfigMap per runtime, a workload and a Service per kind,
    # the connector UI's ConfigMap, the offers Job and its ConfigMap; a Service per data plane replica
    # (3 + 1 + 3), the NetworkPolicies (default-deny and one per workload: 5 + 4 + 4), the ServiceAccount
    assert checked == (18 + 1) + 13 + 15 + 3 * 3 + 7 + 13 + 3 + 3  # + the Maven project ConfigMap (edc-maven) each


def test_schema_validation_catches_a_broken_object(seed):
    ds, dids = seed
    obj = of_kind(render_participant(ds, ds.participants[0], dids, Settings()), "StatefulSet")["dataplane"]
    obj["spec"]["replicas"] = "three"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(obj, K8S_VERSION, strict=True)
