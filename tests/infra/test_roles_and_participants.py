"""Role assignments documented one-to-one; participants module consistent with the blueprint."""

from __future__ import annotations

import re

import yaml

from mvd_core.dataspace import loader
from mvd_core.dataspace.models import AksCluster
from tests.infra.terraform import INFRA, MODULE, ROOT, load, readme_table, unquote


def test_every_role_assignment_is_documented_with_a_reason():
    assignments = load(INFRA).resources("azurerm_role_assignment")
    rows = {unquote(row["assignment"]): row for row in readme_table("role-assignments")}
    assert set(rows) == set(assignments), "README 'Role assignments' and roles.tf differ"
    for name, assignment in assignments.items():
        row = rows[name]
        assert len(row["reason"]) > 20, f"no reason for {name}"
        assert assignment.get("description"), f"{name} has no description"
        if "role_definition_name" in assignment:
            assert row["role"].startswith(assignment["role_definition_name"]), name


def test_no_role_is_owner_contributor_or_user_access_admin():
    root = load(INFRA)
    broad = {"Owner", "Contributor", "User Access Administrator", "Role Based Access Control Administrator"}
    for name, assignment in root.resources("azurerm_role_assignment").items():
        assert assignment.get("role_definition_name") not in broad, name
    permissions = root.resource("azurerm_role_definition", "participants")["permissions"][0]
    actions = permissions["actions"] + permissions["data_actions"]
    assert not [a for a in actions if "*" in a], "wildcards in the custom role"
    assert not [a for a in actions if "roleAssignments" in a], "the identity must not grant itself roles"
    needed = {
        "Microsoft.Resources/subscriptions/resourceGroups/write",
        "Microsoft.ContainerService/managedClusters/write",
        "Microsoft.ContainerService/managedClusters/listClusterAdminCredential/action",
        "Microsoft.KeyVault/vaults/secrets/setSecret/action",
    }
    assert needed <= set(actions)


def test_did_blob_role_is_limited_to_the_web_container():
    root = load(INFRA)
    did = root.resource("azurerm_role_assignment", "did_blobs")
    assert did["role_definition_name"] == "Storage Blob Data Contributor"
    assert did["condition_version"] == "2.0"
    condition = root.locals["web_container_only"]
    assert did["condition"] == "${local.web_container_only}"
    assert "containers:name] StringEquals '$web'" in condition


def test_participant_defaults_match_the_blueprint_models():
    text = (INFRA / "participants.tf").read_text()
    for attribute, field in [("location", "location"), ("nodeCount", "node_count"), ("vmSize", "vm_size")]:
        match = re.search(rf"try\(p\.cluster\.{attribute}, (.+?)\)", text)
        assert match, f"participants.tf has no default for cluster.{attribute}"
        default = AksCluster.model_fields[field].default
        assert match.group(1).strip('"') == str(default), f"cluster.{attribute}"


def test_participants_module_creates_what_the_blueprint_declares():
    module = load(MODULE)
    assert set(module.resource_types()) >= {
        "azurerm_resource_group", "azurerm_kubernetes_cluster", "azurerm_key_vault", "azurerm_storage_account",
    }
    cluster = module.resource("azurerm_kubernetes_cluster", "this")
    assert cluster["name"] == "${each.value.name}"
    assert cluster["identity"] == [{"type": "SystemAssigned"}]
    assert cluster["default_node_pool"][0]["vm_size"] == "${each.value.vm_size}"


def default_dataspace_path() -> str:
    template = load(INFRA).locals["dataspace_file"]
    match = re.search(r': "([^"]+\.yaml)"', template)
    assert match, template
    return match.group(1)


def test_default_dataspace_file_exists_and_suits_flex_timers():
    path = ROOT / default_dataspace_path()
    assert path.name == loader.DEFAULT_NAME and path.parent == ROOT / "mvd_core" / "dataspace"
    # The file the app reads from its package is a valid blueprint (same loader).
    dataspace = loader.load(path)
    assert dataspace == loader.load()
    doc = yaml.safe_load(path.read_text())
    # What the root module's locals and preconditions read from it.
    assert doc["schedule"]["timezone"].upper() == "UTC"
    assert len(doc["schedule"]["reset"].split()) == 6
    for participant in doc["participants"]:
        if participant["cluster"]["kind"] == "aks":
            assert participant["cluster"]["resourceGroup"] and participant["cluster"]["name"]
