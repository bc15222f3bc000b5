"""The vault step creates the runtimes' secrets wherever runtimes really run: on the processes
target and on a real cluster (kubeconfig, AKS), whose pods mount them from the vault before
they start (the SecretProviderClass lists them). A simulated cluster runs no runtime: none."""

from __future__ import annotations

from typing import Any

import pytest

from mvd_core.dataspace import load
from mvd_core.dataspace.models import KubeconfigCluster
from mvd_core.dataspace.targets import apply_targets
from mvd_core.plan.desired import dataspace_dids
from mvd_core.settings import get_settings
from mvd_core.workflow import connect
from mvd_core.workflow.catalog import ACTIVITIES
from mvd_core.workflow.orchestrators import participant_slice

RUNTIME_SECRETS = {"management-api-key", "data-source-key", "ih-superuser-apikey",
                   "dataplane-token-private-key", "dataplane-token-public-key", "sts-client-secret"}


def _work(cluster: Any) -> dict[str, Any]:
    ds = apply_targets(load(), "simulated")
    if cluster is not None:
        ds = ds.model_copy(update={"participants": [
            ds.participants[0].model_copy(update={"cluster": cluster}), *ds.participants[1:]]})
    baseline = {"dataspace": ds.model_dump(mode="json", by_alias=True), "dids": dataspace_dids(ds, get_settings())}
    return {"runId": "run-1", "action": "provision", "participant": ds.participants[0].id,
            "baseline": participant_slice(baseline, ds.participants[0].id), "rotateKey": False}


@pytest.mark.parametrize(("cluster", "created"), [
    (KubeconfigCluster(kind="kubeconfig", context="kind-mvd"), True),
    (None, False),  # the simulated cluster the test suite's targets give
])
def test_the_vault_step_creates_the_runtime_secrets_where_runtimes_run(cluster, created):
    vault = connect.secret_store(load().participants[0].model_copy(update={"vault": apply_targets(
        load(), "simulated").participants[0].vault}), get_settings())  # the participant's local file vault
    answer = ACTIVITIES["ensure_key"](_work(cluster))
    names = {name for name in RUNTIME_SECRETS if vault.get(name) is not None}
    assert names == (RUNTIME_SECRETS if created else set())
    assert ("runtime secrets created" in answer["detail"]) is created
    if created:
        again = ACTIVITIES["ensure_key"](_work(cluster))
        assert "runtime secrets kept" in again["detail"]
