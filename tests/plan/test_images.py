"""Images that exist: every image the render names is one the project documents as published
(pinned by version tag, its origin named), the runtimes' pods assemble the packaged Maven project
in an init container, and every pod runs as non-root without privilege escalation on a read-only
root filesystem, writing only to its volumes."""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
import yaml

from mvd_core.dataspace import load
from mvd_core.dataspace.loader import BlueprintError
from mvd_core.dataspace.models import SeedJob
from mvd_core.dataspace.targets import apply_targets
from mvd_core.plan.desired import dataspace_dids
from mvd_core.plan.render import render_participant, runtime_images
from mvd_core.runtimes.assembly import MAVEN_FLAGS, maven_sources
from mvd_core.runtimes.images import JRE_IMAGE, MAVEN_IMAGE, PUBLISHED_IMAGES
from mvd_core.settings import Settings

DECLARED = Path(__file__).parents[1] / "fixtures" / "declared-dataspace.yaml"
RUNTIMES = {"identityhub": "identityhub", "connector": "connector", "dataplane": "dataplane", "catalog": "catalog"}


def pods(objects: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Workload or Job name -> its pod spec."""
    return {o["metadata"]["name"]: o["spec"]["template"]["spec"] for o in objects
            if o["kind"] in ("Deployment", "StatefulSet", "Job")}


def templates(objects: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Workload name -> its pod template's annotations."""
    return {o["metadata"]["name"]: o["spec"]["template"]["metadata"].get("annotations", {}) for o in objects
            if o["kind"] in ("Deployment", "StatefulSet")}


def containers(pod: dict[str, Any]) -> list[dict[str, Any]]:
    return [*pod.get("initContainers", []), *pod["containers"]]


@pytest.mark.parametrize("source,targets", [(None, "simulated"), (None, "declared"), (DECLARED, "declared")])
def test_every_rendered_image_is_documented_as_published_and_pinned(source, targets):
    ds = apply_targets(load(source), targets)
    dids = dataspace_dids(ds, Settings())
    named = set()
    for p in ds.participants:
        for pod in pods(render_participant(ds, p, dids, Settings())).values():
            named |= {c["image"] for c in containers(pod)}
    # an image the project neither builds nor documents as published fails here
    assert named <= set(PUBLISHED_IMAGES), named - set(PUBLISHED_IMAGES)
    assert {JRE_IMAGE, MAVEN_IMAGE} <= named
    for image, published in PUBLISHED_IMAGES.items():
        assert published.image == image and published.origin
        # a full version in the tag (never latest or a floating major), or a digest
        assert re.search(r":[^:/]*\d+\.\d+\.\d+[^:/]*$|@sha256:[0-9a-f]{64}$", image), image


def test_an_image_the_blueprint_chooses_is_listed_with_its_field():
    ds = load()
    p = ds.participants[0].model_copy(update={"seed_jobs": [SeedJob(name="assets", image="busybox:1.36")]})
    table = runtime_images(ds, p)
    assert table["seed-assets"].source == f"participants[{p.id}].seedJobs[0].image"  # the blueprint's, unchecked
    # the blueprint's connector UI image: its field, and its origin when it is the documented one
    assert table["connector-ui"].source == "images.connectorUi: " + PUBLISHED_IMAGES[table["connector-ui"].image].origin
    other = ds.model_copy(update={"images": ds.images.model_copy(update={"connector_ui": "registry.example/ui:1.2.3"})})
    assert runtime_images(other, p)["connector-ui"].source == "images.connectorUi"
    assert table["connector"].image == JRE_IMAGE and "eclipse-temurin" in table["connector"].source
    assert table["connector/assemble"].image == MAVEN_IMAGE and "carlossg/docker-maven" in table["connector/assemble"].source


def test_a_blueprint_naming_a_runtime_image_is_refused_with_the_reason(tmp_path):
    data = yaml.safe_load(resources.files("mvd_core.dataspace").joinpath("default-dataspace.yaml").read_text("utf-8"))
    data["images"] = {"dataPlane": "ghcr.io/eclipse-edc/mvd/data-plane:0.9.0"}
    blueprint = tmp_path / "dataspace.yaml"
    blueprint.write_text(yaml.safe_dump(data), "utf-8")
    with pytest.raises(BlueprintError) as refused:
        load(blueprint)
    [problem] = refused.value.problems
    assert "images.dataPlane is no longer set by a blueprint" in str(problem) and "remove it" in str(problem)


def test_runtime_pods_assemble_the_packaged_maven_project():
    ds = load()
    dids = dataspace_dids(ds, Settings())
    for p in ds.participants:
        objects = render_participant(ds, p, dids, Settings())
        [maven] = [o for o in objects if o["kind"] == "ConfigMap" and o["metadata"]["name"] == "edc-maven"]
        for name, pod in pods(objects).items():
            if name not in RUNTIMES:
                continue
            [volume] = [v for v in pod["volumes"] if v["name"] == "maven"]
            tree = {item["path"]: maven["data"][item["key"]] for item in volume["configMap"]["items"]}
            # the runtime definition itself: every pom and every extension's main source, no unit test
            assert tree == {path: text for path, text in maven_sources().items() if "/src/test/" not in path}
            assert "runtimes/" + RUNTIMES[name] + "/pom.xml" in tree
            init = next(c for c in pod["initContainers"] if c["name"] == "assemble")  # the hub's "vault" follows
            script = init["command"][2]
            assert init["command"][:2] == ["/bin/sh", "-c"]
            assert " ".join(MAVEN_FLAGS) in script and '-pl "runtimes/$MVD_RUNTIME_KIND" -am package' in script
            assert {e["name"]: e["value"] for e in init["env"]}["MVD_RUNTIME_KIND"] == RUNTIMES[name]
            [main] = pod["containers"]
            assert main["command"][0] == "java" and "@/opt/mvd/runtime/runtime.args" in main["command"]
            mounts = {m["name"]: m for m in main["volumeMounts"]}
            assert mounts["runtime"]["mountPath"] == "/opt/mvd/runtime" and mounts["runtime"]["readOnly"]
            assert {m["name"]: m["mountPath"] for m in init["volumeMounts"]}["runtime"] == "/opt/mvd/runtime"


def test_a_changed_maven_source_rolls_out_every_runtime(monkeypatch):
    ds = load()
    dids = dataspace_dids(ds, Settings())
    p = ds.participants[0]
    before = templates(render_participant(ds, p, dids, Settings()))
    sources = maven_sources()
    changed = {**sources, "runtimes/connector/pom.xml": sources["runtimes/connector/pom.xml"] + "<!-- -->\n"}
    monkeypatch.setattr("mvd_core.runtimes.images.maven_sources", lambda: changed)
    after = templates(render_participant(ds, p, dids, Settings()))
    for name in RUNTIMES:  # the Maven project's hash is on every runtime's pod template
        assert before[name]["mvd.dataspace/config-hash"] != after[name]["mvd.dataspace/config-hash"], name
    assert before["connector-ui"] == after["connector-ui"]


def test_every_pod_runs_as_non_root_without_escalation_on_a_read_only_root():
    ds = load()
    dids = dataspace_dids(ds, Settings())
    for p in ds.participants:
        for name, pod in pods(render_participant(ds, p, dids, Settings())).items():
            security = pod["securityContext"]
            assert security["runAsNonRoot"] is True and security["runAsUser"] > 0, name
            assert security["seccompProfile"] == {"type": "RuntimeDefault"}
            volumes = {v["name"]: v for v in pod["volumes"]}
            for c in containers(pod):
                assert c["securityContext"] == {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                                                "capabilities": {"drop": ["ALL"]}}, (name, c["name"])
                # what a container may write: its own emptyDir volumes, nothing else
                for mount in c["volumeMounts"]:
                    if not mount.get("readOnly"):
                        assert "emptyDir" in volumes[mount["name"]], (name, c["name"], mount)
                assert any(m["mountPath"] == "/tmp" for m in c["volumeMounts"]) or c["name"] == "config", (
                    name, c["name"])
