"""infra/ parsed with python-hcl2: the security and shape properties the issue asks for."""

from __future__ import annotations

import re

import pytest

from tests.infra.terraform import INFRA, MODULE, load


@pytest.fixture(scope="module")
def root():
    return load(INFRA)


@pytest.fixture(scope="module")
def module():
    return load(MODULE)


def site(root) -> dict:
    app = root.resource("azapi_resource", "function_app")
    assert app["type"].startswith("Microsoft.Web/sites@")
    return app


def test_storage_accounts_enforce_tls12_https_and_no_anonymous_access(root, module):
    accounts = {**root.resources("azurerm_storage_account"), **module.resources("azurerm_storage_account")}
    assert set(accounts) == {"main", "did"}
    for name, account in accounts.items():
        assert account["min_tls_version"] == "TLS1_2", name
        assert account["https_traffic_only_enabled"] is True, name
        assert account["allow_nested_items_to_be_public"] is False, name
        assert account["shared_access_key_enabled"] is False, name


def test_function_app_is_https_only_with_tls12(root):
    properties = site(root)["body"]["properties"]
    assert properties["httpsOnly"] is True
    assert properties["siteConfig"]["minTlsVersion"] == "1.2"
    assert properties["siteConfig"]["scmMinTlsVersion"] == "1.2"


# Site-config properties a Flex Consumption app accepts that this app sets (the ones
# azurerm_function_app_flex_consumption's site_config models too). ARM refuses the others on
# Flex with error 51021: ftpsState (reported in West Europe), and those that moved to
# functionAppConfig or are gone there (runtime stack versions, scale limits, pre-warming).
FLEX_SITE_CONFIG = {"minTlsVersion", "scmMinTlsVersion", "http20Enabled", "appSettings"}
NOT_ON_FLEX = {"ftpsState", "alwaysOn", "linuxFxVersion", "windowsFxVersion", "netFrameworkVersion", "pythonVersion",
               "javaVersion", "powerShellVersion", "use32BitWorkerProcess", "functionAppScaleLimit",
               "preWarmedInstanceCount", "minimumElasticInstanceCount", "elasticWebAppScaleLimit"}


def test_site_config_has_only_what_flex_consumption_accepts(root):
    config = set(site(root)["body"]["properties"]["siteConfig"])
    assert config <= FLEX_SITE_CONFIG, f"not accepted on Flex Consumption: {sorted(config - FLEX_SITE_CONFIG)}"
    assert not config & NOT_ON_FLEX
    # FTP stays off without ftpsState: basic-auth publishing (FTP and SCM) is denied.
    assert site(root)["body"]["properties"]["httpsOnly"] is True
    assert root.resource("azapi_resource", "no_basic_auth")["body"] == {"properties": {"allow": False}}


def test_durable_functions_follow_the_flex_recommendations(root):
    import json

    from tests.infra.terraform import ROOT

    scale = site(root)["body"]["properties"]["functionAppConfig"]["scaleAndConcurrency"]
    assert 'name = "durable"' in scale["alwaysReady"]
    assert "var.always_ready_durable" in scale["alwaysReady"]
    assert root.variables["always_ready_durable"]["default"] == 1
    host = json.loads((ROOT / "host.json").read_text())
    polling = host["extensions"]["durableTask"]["storageProvider"]["maxQueuePollingInterval"]
    hours, minutes, seconds = (int(part) for part in polling.split(":"))
    assert hours * 3600 + minutes * 60 + seconds <= 10, "Microsoft recommends 10 s or less on Flex Consumption"


def test_function_app_has_system_assigned_identity(root):
    assert site(root)["identity"] == [{"type": "SystemAssigned"}]
    # The roles are granted to that identity, not to some other principal.
    assert root.locals["principal_id"] == "${azapi_resource.function_app.identity[0].principal_id}"


def test_function_app_runs_python_311_on_flex_consumption_linux(root):
    plan = root.resource("azurerm_service_plan", "main")
    assert (plan["sku_name"], plan["os_type"]) == ("FC1", "Linux")
    app = site(root)
    assert app["body"]["kind"] == "functionapp,linux"
    assert app["body"]["properties"]["serverFarmId"] == "${azurerm_service_plan.main.id}"
    config = app["body"]["properties"]["functionAppConfig"]
    assert config["runtime"] == {"name": "python", "version": "3.11"}
    deployment = config["deployment"]["storage"]
    assert deployment["authentication"] == {"type": "SystemAssignedIdentity"}


def test_basic_auth_publishing_is_disabled(root):
    policy = root.resource("azapi_resource", "no_basic_auth")
    assert "basicPublishingCredentialsPolicies" in policy["type"]
    assert re.sub(r"\s", "", policy["for_each"]) == '${toset(["scm","ftp"])}'
    assert policy["body"] == {"properties": {"allow": False}}


def test_host_storage_is_identity_based(root):
    host = root.locals["host_settings"]
    assert host["AzureWebJobsStorage__accountName"] == "${azurerm_storage_account.main.name}"
    assert host["AzureWebJobsStorage__credential"] == "managedidentity"
    names = app_setting_names(root)
    assert "AzureWebJobsStorage" not in names, "a plain AzureWebJobsStorage is a connection string"
    # Flex Consumption rejects these; the runtime is functionAppConfig.runtime.
    assert not names & {"FUNCTIONS_WORKER_RUNTIME", "FUNCTIONS_EXTENSION_VERSION", "WEBSITE_CONTENTSHARE",
                        "WEBSITE_CONTENTAZUREFILECONNECTIONSTRING", "WEBSITE_RUN_FROM_PACKAGE"}
    assert "APPLICATIONINSIGHTS_CONNECTION_STRING" in names


def app_setting_names(root) -> set[str]:
    local = root.locals
    assert local["app_settings"] == "${merge(local.host_settings, local.mvd_settings, local.secret_references)}"
    appsettings = site(root)["body"]["properties"]["siteConfig"]["appSettings"]
    assert appsettings == "${[for name, value in local.app_settings : {name = name, value = value}]}"
    return set(local["host_settings"]) | set(local["mvd_settings"]) | set(local["secret_settings"])


def test_secrets_reach_the_app_only_as_key_vault_references(root):
    local = root.locals
    reference = local["secret_references"]
    assert reference.startswith("${{for setting, secret in local.secret_settings : setting => ")
    assert '"@Microsoft.KeyVault(SecretUri=${azurerm_key_vault.main.vault_uri}secrets/${secret}/)"' in reference
    # Plain settings hold no secret: no key, password, token or connection string in them.
    for name, value in {**local["host_settings"], **local["mvd_settings"]}.items():
        assert not re.search(r"(access_key|primary_connection|password|secret|token|AccountKey)", str(value), re.IGNORECASE), name
    assert "${azurerm_application_insights.main.connection_string}" == local["host_settings"][
        "APPLICATIONINSIGHTS_CONNECTION_STRING"
    ]
    ai = root.resource("azurerm_application_insights", "main")
    assert ai["local_authentication_disabled"] is True, "the AI connection string must grant nothing alone"


def test_secret_values_never_land_in_state(root):
    secret = root.resource("azurerm_key_vault_secret", "control_plane")
    assert "value" not in secret
    assert secret["value_wo"] == "${var.control_plane_secrets[each.key]}"
    assert root.variables["control_plane_secrets"]["sensitive"] is True


def test_key_vaults_use_rbac(root, module):
    vaults = {**root.resources("azurerm_key_vault"), **module.resources("azurerm_key_vault")}
    assert set(vaults) == {"main", "this"}
    for name, vault in vaults.items():
        assert vault["rbac_authorization_enabled"] is True, name
        assert "access_policy" not in vault, name


SECRET_ATTRIBUTES = re.compile(
    r"(access_key|connection_string|instrumentation_key|kube_config|kube_admin_config|password|"
    r"client_secret|secret|token|sas|var\.control_plane_secrets|value_wo)",
    re.IGNORECASE,
)


@pytest.mark.parametrize("directory", [INFRA, MODULE], ids=["root", "participants"])
def test_no_output_carries_a_secret(directory):
    outputs = load(directory).outputs
    assert outputs
    for name, output in outputs.items():
        assert output.get("sensitive") is not True, f"output {name} is marked sensitive: it must not exist"
        assert not SECRET_ATTRIBUTES.search(str(output["value"])), f"output {name} exposes {output['value']}"
        assert output.get("description"), f"output {name} has no description"


def test_root_outputs_name_the_function(root):
    outputs = root.outputs
    assert outputs["function_base_url"]["value"] == "https://${azapi_resource.function_app.output.properties.defaultHostName}"
    assert outputs["function_app_name"]["value"] == "${azapi_resource.function_app.name}"


@pytest.mark.parametrize("directory", [INFRA, MODULE], ids=["root", "participants"])
def test_every_variable_is_typed_and_described(directory):
    variables = load(directory).variables
    assert variables
    for name, variable in variables.items():
        assert variable.get("type"), f"variable {name} has no type"
        description = variable.get("description", "")
        assert len(description) >= 20, f"variable {name} has no real description"


def test_root_variables_cover_the_issue(root):
    assert {"subscription_id", "location", "name_prefix", "dataspace_file", "reset_schedule",
            "participants_enabled"} <= set(root.variables)
    assert root.variables["location"]["default"] == "westeurope"
    assert root.variables["participants_enabled"]["default"] is False
    assert root.resource("azapi_resource", "function_app")  # and the module is optional:
    module_call = next(b["participants"] for b in root.blocks("module") if "participants" in b)
    assert module_call["count"] == "${var.participants_enabled ? 1 : 0}"


def validation_regex(variable: dict) -> str:
    condition = variable["validation"][0]["condition"]
    match = re.search(r'regex\("(.+?)", var\.', condition)
    assert match, condition
    return match.group(1).replace("\\\\", "\\")


@pytest.mark.parametrize(
    ("prefix", "ok"),
    [("mvd", True), ("ab", True), ("mvd2026dev", True), ("MVD", False), ("a", False),
     ("mvd-dev", False), ("1mvd", False), ("mvd2026devx", False)],
)
def test_name_prefix_validation(root, prefix, ok):
    pattern = validation_regex(root.variables["name_prefix"])
    assert bool(re.fullmatch(pattern, prefix)) is ok


def test_names_fit_azure_limits_for_the_longest_prefix(root):
    local = root.locals
    prefix, suffix = "a" * 10, "f" * 6

    def render(template: str) -> str:
        return template.replace("${var.name_prefix}", prefix).replace("${local.suffix}", suffix)

    storage = render(local["storage_account"])
    assert re.fullmatch(r"[a-z0-9]{3,24}", storage), storage
    vault = render(local["key_vault_name"])
    assert re.fullmatch(r"[a-zA-Z][a-zA-Z0-9-]{1,22}[a-zA-Z0-9]", vault), vault
    app = render(local["function_app_name"])
    assert len(app) <= 32, app  # longer names risk Functions host id collisions
    assert "${" not in storage + vault + app


def test_storage_is_configured_through_resource_manager_only(root):
    provider = next(b["azurerm"] for b in root.blocks("provider") if "azurerm" in b)
    assert provider["features"][0]["storage"][0]["data_plane_available"] is False
    children = {**root.resources("azurerm_storage_container"), **root.resources("azurerm_storage_queue")}
    assert set(children) == {"package", "commands", "commands_poison"}
    for name, child in children.items():
        assert child["storage_account_id"] == "${azurerm_storage_account.main.id}", name
        assert "storage_account_name" not in child, name
    queues = root.resources("azurerm_storage_queue")
    assert queues["commands"]["name"] == "${local.command_queue}"
    assert queues["commands_poison"]["name"] == "${local.command_queue}-poison"


def test_a_failed_run_raises_an_alert_whose_receivers_are_variables(root, caplog):
    import json
    import logging

    from mvd_core.runs import RunSummary, notify
    from mvd_core.runs.models import utcnow
    from tests.infra.terraform import ROOT

    alert = root.resource("azurerm_monitor_scheduled_query_rules_alert_v2", "run_failed")
    assert alert["scopes"] == ["${azurerm_application_insights.main.id}"]
    assert alert["enabled"] is True and alert["severity"] <= 1
    assert alert["action"][0]["action_groups"] == ["${azurerm_monitor_action_group.run_failed.id}"]
    criteria = alert["criteria"][0]
    assert (criteria["operator"], criteria["threshold"], criteria["time_aggregation_method"]) == ("GreaterThan", 0, "Count")
    query = criteria["query"].replace('\\"', '"')  # python-hcl2 keeps the heredoc's quotes escaped
    needle = query.split('message contains "')[1].split('"')[0]

    # The query finds the line the code logs for a failed run, and not the one for a completed run.
    def line(status: str) -> str:
        from mvd_core.settings import Settings

        run = RunSummary(id="r-1", dataspace="mvd", action="reset", source="timer", status=status,
                         created_at=utcnow(), failures=[])
        caplog.clear()
        with caplog.at_level(logging.INFO, logger="mvd"):
            notify.run_finished(run, Settings())
        [record] = [r for r in caplog.records if getattr(r, "event", None) == notify.EVENT]
        return record.getMessage()

    assert needle in line("failed") and needle not in line("completed")
    assert query.strip().startswith("traces")
    # sampling would drop some of those traces
    host = json.loads((ROOT / "host.json").read_text())
    assert "Trace" in host["logging"]["applicationInsights"]["samplingSettings"]["excludedTypes"].split(";")

    group = root.resource("azurerm_monitor_action_group", "run_failed")
    dynamic = {kind: body for block in group["dynamic"] for kind, body in block.items()}
    assert "var.alert_emails" in dynamic["email_receiver"]["for_each"]
    assert "var.alert_webhook_urls" in dynamic["webhook_receiver"]["for_each"]
    assert root.variables["alert_emails"]["default"] == [] and root.variables["alert_webhook_urls"]["default"] == []
    assert len(group["short_name"]) <= 12


def test_secret_writes_wait_for_rbac_propagation(root):
    secret = root.resource("azurerm_key_vault_secret", "control_plane")
    assert secret["depends_on"] == ["${time_sleep.rbac_propagation}"]
    wait = root.resource("time_sleep", "rbac_propagation")
    assert wait["create_duration"] == "${var.rbac_propagation_wait}"
    assert wait["triggers"]["deployer_secrets"] == "${azurerm_role_assignment.deployer_kv_secrets_officer.id}"
    assert wait["triggers"]["app_secrets"] == "${azurerm_role_assignment.own_secrets.id}"
    providers = {name for block in root.blocks("terraform") for req in block["required_providers"] for name in req}
    assert "time" in providers
    assert re.fullmatch(validation_regex(root.variables["rbac_propagation_wait"]), root.variables["rbac_propagation_wait"]["default"])
