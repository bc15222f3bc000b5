"""The settings the code reads vs the app settings infra/ sets: neither list may drift.

The code's list is read at test time from mvd_core.settings (fields other engineers add
show up here at once). Each MVD_ variable must be set by Terraform or listed in
infra/README.md's "left at their default" table with the default the code really has.
"""

from __future__ import annotations

import typing

import pytest
from pydantic import SecretStr

from mvd_core.settings import Settings, env_names
from tests.infra.terraform import INFRA, ROOT, load, readme_table, unquote

# App settings that are not MVD_ settings, each read by something named here.
HOST_SETTINGS = {
    "AzureWebJobsStorage__accountName": "Functions host, Durable task hub, queue triggers",
    "AzureWebJobsStorage__credential": "Functions host",
    "APPLICATIONINSIGHTS_CONNECTION_STRING": "Functions host telemetry",
    "APPLICATIONINSIGHTS_AUTHENTICATION_STRING": "Functions host telemetry (Entra ID)",
    "PYTHON_ENABLE_OPENTELEMETRY": "Functions Python worker: OpenTelemetry (blueprints/_telemetry.py)",
    "MVD_STORAGE_CONNECTION__accountName": "Functions host: the command queue triggers' connection",
    "MVD_STORAGE_CONNECTION__credential": "Functions host: the command queue triggers' connection",
    "AWS_ACCESS_KEY_ID": "boto3, S3 did:web host",
    "AWS_SECRET_ACCESS_KEY": "boto3, S3 did:web host",
}


def env_name(field: str) -> str:
    return f"{Settings.model_config.get('env_prefix', '')}{field}".upper()


FIELDS = {env_name(name): field for name, field in Settings.model_fields.items()}


@pytest.fixture(scope="module")
def terraform_settings() -> dict[str, object]:
    local = load(INFRA).locals
    return {**local["host_settings"], **local["mvd_settings"], **local["secret_settings"]}


@pytest.fixture(scope="module")
def optional() -> dict[str, dict[str, str]]:
    rows = readme_table("optional-settings")
    names = [unquote(row["setting"]) for row in rows]
    assert len(names) == len(set(names)), "a setting is listed twice as left at its default"
    return {unquote(row["setting"]): row for row in rows}


def test_settings_module_lists_fields():
    assert env_names() == set(FIELDS)
    assert "MVD_TARGETS" in env_names()


def test_every_setting_the_code_reads_is_set_or_documented_optional(terraform_settings, optional):
    secret_settings = set(load(INFRA).locals["secret_settings"])
    plain = set(terraform_settings) - secret_settings
    missing = sorted(env_names() - plain - set(optional))
    assert not missing, (
        f"{missing} are read by mvd_core.settings but neither set in infra/main.tf (local.mvd_settings "
        "or local.secret_settings) nor listed in infra/README.md under 'Settings left at their default'"
    )
    # A secret is set only when supplied, so it must also say what happens when it is not.
    undocumented = sorted(name for name in secret_settings & env_names() if name not in optional)
    assert not undocumented, f"{undocumented}: say in the README what the app does without them"


def is_connection_section(name: str) -> bool:
    """NAME__accountName etc.: an identity-based connection the Functions host reads."""
    return "__" in name


def test_every_mvd_app_setting_exists_in_settings(terraform_settings):
    unknown = sorted(
        n for n in terraform_settings
        if n.startswith("MVD_") and not is_connection_section(n) and n not in env_names()
    )
    assert not unknown, f"infra sets {unknown}, which mvd_core.settings.Settings does not read"


def test_every_other_app_setting_is_a_known_host_setting(terraform_settings):
    others = {n for n in terraform_settings if not n.startswith("MVD_") or is_connection_section(n)}
    assert others == set(HOST_SETTINGS)


def test_identity_connections_name_a_trigger_connection_and_one_account(terraform_settings):
    blueprints = "\n".join(p.read_text() for p in sorted((ROOT / "blueprints").glob("*.py")))
    connections = {n.split("__")[0] for n in terraform_settings if is_connection_section(n)}
    assert connections == {"AzureWebJobsStorage", "MVD_STORAGE_CONNECTION"}
    for connection in connections - {"AzureWebJobsStorage"}:
        assert f'"{connection}"' in blueprints, f"no trigger in blueprints/ uses the connection {connection}"
        assert connection in env_names(), connection
        assert terraform_settings[f"{connection}__credential"] == "managedidentity"
    # Host storage, the queue triggers and the Python queue/registry clients: one account.
    account = "${azurerm_storage_account.main.name}"
    assert terraform_settings["AzureWebJobsStorage__accountName"] == account
    assert terraform_settings["MVD_STORAGE_CONNECTION__accountName"] == account
    assert terraform_settings["MVD_STORAGE_ACCOUNT"] == account


def test_optional_table_lists_only_real_unset_settings(terraform_settings, optional):
    secret_settings = set(load(INFRA).locals["secret_settings"])
    for name in optional:
        assert name in env_names(), f"README lists {name}, which Settings does not read"
        assert name not in set(terraform_settings) - secret_settings, f"{name} is both set and 'left at default'"


def render_default(name: str) -> str:
    field = FIELDS[name]
    value = field.get_default(call_default_factory=True)
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, dict):
        return "{}" if not value else repr(value)
    return str(value)


def test_documented_defaults_are_the_code_defaults(optional):
    for name, row in optional.items():
        assert unquote(row["default"]) == render_default(name), f"README default of {name}"
        assert row["why it stays unset on Azure"], f"README gives no reason for leaving {name} unset"


def is_secret(annotation) -> bool:
    return annotation is SecretStr or any(is_secret(a) for a in typing.get_args(annotation))


def test_secret_settings_are_only_key_vault_references(terraform_settings):
    local = load(INFRA).locals
    for name in env_names():
        if is_secret(FIELDS[name].annotation):
            assert name not in local["mvd_settings"], f"{name} is a secret: set it as a Key Vault reference"
    assert {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"} <= set(local["secret_settings"])
    for name in local["secret_settings"]:
        if name.startswith("MVD_"):
            assert is_secret(FIELDS[name].annotation), f"{name} is referenced from Key Vault but not a SecretStr"


def test_secret_names_match_the_variable_validation():
    root = load(INFRA)
    secret_names = set(root.locals["secret_settings"].values())
    condition = root.variables["control_plane_secrets"]["validation"][0]["condition"]
    for name in secret_names:
        assert f'"{name}"' in condition, f"control_plane_secrets does not accept {name}"


def test_targets_declared_and_queue_matches_code_default():
    mvd = load(INFRA).locals["mvd_settings"]
    assert mvd["MVD_TARGETS"] == "declared"
    assert load(INFRA).locals["command_queue"] == FIELDS["MVD_COMMAND_QUEUE"].default == "mvd-commands"
    assert set(typing.get_args(FIELDS["MVD_LOG_FORMAT"].annotation)) >= {mvd["MVD_LOG_FORMAT"]}


def test_readme_lists_every_app_setting_terraform_sets(terraform_settings):
    readme = (INFRA / "README.md").read_text()
    undocumented = sorted(n for n in terraform_settings if f"| `{n}` |" not in readme)
    assert not undocumented, f"infra/README.md 'App settings it sets' does not list {undocumented}"
