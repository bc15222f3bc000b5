"""The rendered seed matches the deployment diagram; output is deterministic and every
object is valid against the real Kubernetes OpenAPI schemas."""

from __future__ import annotations

import json

import kubernetes_validate
import pytest

from mvd_core.dataspace import load
from mvd_core.dataspace.models import SeedJob
from mvd_core.dataspace.targets import apply_targets
from mvd_core.k8s import labels as L
from mvd_core.plan.desired import dataspace_dids
from mvd_core.plan.render import connector_properties, render_participant
from mvd_core.settings import Settings

K8S_VERSION = "1.35.0"


@pytest.fixture(scope="module")
def seed():
    ds = load()
    return ds, dataspace_dids(ds, Settings())


def deployments(objects):
    return {o["metadata"]["name"]: o["spec"]["replicas"] for o in objects if o["kind"] == "Deployment"}


def test_seed_deployments_match_the_diagram(seed):
    ds, dids = seed
    rendered = {p.id: render_participant(ds, p, dids) for p in ds.participants}
    assert deployments(rendered["galactic-turbine"]) == {"connector": 1, "data-plane": 3, "catalog": 1, "connector-ui": 1}
    assert deployments(rendered["space-enforcer"]) == {"connector": 1, "data-plane": 1, "connector-ui": 1}
    assert deployments(rendered["interstellar-assembly"]) == {"connector": 1, "data-plane": 3, "connector-ui": 1}


def test_connector_config_wires_vault_did_identity_hub_dpf_and_catalog(seed):
    ds, dids = seed
    gti, selt, _ = ds.participants
    props = connector_properties(ds, gti, dids[gti.id])
    assert props["edc.participant.id"] == "did:web:did.galactic-turbine.example"
    assert props["edc.storage.type"] == "in-memory"
    assert props["edc.ih.mode"] == "embedded"
    assert props["edc.dpf.selector.mode"] == "embedded"
    assert props["edc.dpf.selector.url"] == "http://data-plane.galactic-turbine.svc.cluster.local:8080/api/control"
    assert props["edc.catalog.mode"] == "standalone"
    assert props["edc.catalog.url"].startswith("http://catalog.galactic-turbine.svc")
    assert props["edc.vault.type"] == "azure-key-vault" and props["edc.vault.name"] == "kv-mvd-galactic-turbine"
    selt_props = connector_properties(ds, selt, dids[selt.id])
    assert selt_props["edc.catalog.mode"] == "embedded" and "edc.catalog.url" not in selt_props


def test_dpf_url_is_configurable(seed):
    ds, dids = seed
    p = ds.participants[0]
    custom = p.model_copy(update={"runtimes": p.runtimes.model_copy(update={
        "connector": p.runtimes.connector.model_copy(update={"dpf_url": "http://dpf.shared:9000/api/control"})})})
    assert connector_properties(ds, custom, dids[p.id])["edc.dpf.selector.url"] == "http://dpf.shared:9000/api/control"


def test_participant_list_names_every_participant_and_its_did(seed):
    ds, dids = seed
    for p in ds.participants:
        [cm] = [o for o in render_participant(ds, p, dids) if o["metadata"]["name"] == "dataspace-participants"]
        assert json.loads(cm["data"]["participants.json"]) == dids


def test_every_object_is_labelled_and_hashed(seed):
    ds, dids = seed
    for p in ds.participants:
        for obj in render_participant(ds, p, dids):
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
    first = [json.dumps(render_participant(ds, p, dids), sort_keys=False) for p in ds.participants]
    again = load()
    second = [json.dumps(render_participant(again, p, dataspace_dids(again, Settings())), sort_keys=False) for p in again.participants]
    assert first == second


def test_a_change_changes_only_that_objects_hash(seed):
    ds, dids = seed
    p = ds.participants[0]
    bigger = p.model_copy(update={"runtimes": p.runtimes.model_copy(update={
        "data_plane": p.runtimes.data_plane.model_copy(update={"replicas": 5})})})
    before = {o["metadata"]["name"] + o["kind"]: L.spec_hash(o) for o in render_participant(ds, p, dids)}
    after = {o["metadata"]["name"] + o["kind"]: L.spec_hash(o) for o in render_participant(ds, bigger, dids)}
    assert {k for k in before if before[k] != after[k]} == {"data-planeDeployment"}


@pytest.mark.parametrize("targets", ["declared", "embedded"])
def test_every_rendered_object_is_valid_against_the_kubernetes_schemas(seed, targets):
    ds = apply_targets(seed[0], targets)
    dids = dataspace_dids(ds, Settings())
    ds_with_job = ds.model_copy(update={"participants": [
        ds.participants[0].model_copy(update={"seed_jobs": [SeedJob(name="assets", image="busybox:1.36", args=["true"])]}),
        *ds.participants[1:],
    ]})
    checked = 0
    for p in ds_with_job.participants:
        for obj in render_participant(ds_with_job, p, dids):
            kubernetes_validate.validate(obj, K8S_VERSION, strict=True)
            checked += 1
    assert checked == 33


def test_schema_validation_catches_a_broken_object(seed):
    ds, dids = seed
    obj = render_participant(ds, ds.participants[0], dids)[3]
    obj["spec"]["replicas"] = "three"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(obj, K8S_VERSION, strict=True)
