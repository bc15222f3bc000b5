# The MVD control plane on Azure: one Function App on the Flex Consumption plan (Linux,
# Python 3.11) with a system-assigned identity, its storage (Functions host + Durable task
# hub + command queue), Application Insights, and a Key Vault for its own secrets.
# README.md explains the plan choice and lists every role assignment with its reason.

data "azurerm_client_config" "current" {}

locals {
  # Globally unique names, deterministic per subscription and prefix (no random provider).
  suffix            = substr(sha1("${var.subscription_id}/${var.name_prefix}"), 0, 6)
  resource_group    = "rg-${var.name_prefix}-controlplane"
  storage_account   = "${var.name_prefix}cp${local.suffix}"
  function_app_name = "func-${var.name_prefix}-cp-${local.suffix}"
  key_vault_name    = "kv-${var.name_prefix}-cp-${local.suffix}"
  subscription_id   = "/subscriptions/${var.subscription_id}"

  tags = merge({ "part-of" = "mvd-control-plane", "managed-by" = "terraform" }, var.tags)

  # The blueprint is read here too: for the reset schedule's default and the optional
  # participants module. The app reads the same file from its package.
  dataspace_file = var.dataspace_file != "" ? var.dataspace_file : "mvd_core/dataspace/default-dataspace.yaml"
  dataspace      = yamldecode(file("${path.module}/../${local.dataspace_file}"))
  reset_schedule = coalesce(var.reset_schedule, try(local.dataspace.schedule.reset, null), "0 0 0 * * *")
  reset_timezone = try(local.dataspace.schedule.timezone, "UTC")

  # Flex Consumption runs the app from its package at this path.
  app_root = "/home/site/wwwroot"

  command_queue = "mvd-commands"

  # App setting -> Key Vault secret. Secrets reach the app only as Key Vault references,
  # resolved by the app's identity; a secret the operator did not supply leaves its
  # setting unset (the code's default applies).
  secret_settings = {
    MVD_WEBHOOK_SECRETS      = "webhook-secrets"
    MVD_CLOUDFLARE_API_TOKEN = "cloudflare-api-token"
    MVD_R2_ACCESS_KEY_ID     = "r2-access-key-id"
    MVD_R2_SECRET_ACCESS_KEY = "r2-secret-access-key"
    AWS_ACCESS_KEY_ID        = "aws-access-key-id"
    AWS_SECRET_ACCESS_KEY    = "aws-secret-access-key"
  }
  supplied_secrets = nonsensitive(toset(keys(var.control_plane_secrets)))

  secret_references = {
    for setting, secret in local.secret_settings :
    setting => "@Microsoft.KeyVault(SecretUri=${azurerm_key_vault.main.vault_uri}secrets/${secret}/)"
    if contains(local.supplied_secrets, secret)
  }

  # Functions host settings. On Flex Consumption the worker runtime and version live in
  # functionAppConfig.runtime (FUNCTIONS_WORKER_RUNTIME and FUNCTIONS_EXTENSION_VERSION
  # are rejected there), and AzureWebJobsStorage is identity-based: no connection string.
  host_settings = {
    AzureWebJobsStorage__accountName          = azurerm_storage_account.main.name
    AzureWebJobsStorage__credential           = "managedidentity"
    APPLICATIONINSIGHTS_CONNECTION_STRING     = azurerm_application_insights.main.connection_string
    APPLICATIONINSIGHTS_AUTHENTICATION_STRING = "Authorization=AAD"
    # With host.json's telemetryMode OpenTelemetry: the app exports its own log records
    # (blueprints/_telemetry.py), so the host does not forward them a second time.
    PYTHON_ENABLE_OPENTELEMETRY = "true"
    # The command queue triggers' connection (blueprints/commands.py: "MVD_STORAGE_CONNECTION"),
    # identity-based: the same account, no connection string.
    MVD_STORAGE_CONNECTION__accountName = azurerm_storage_account.main.name
    MVD_STORAGE_CONNECTION__credential  = "managedidentity"
  }

  # What mvd_core.settings.Settings reads (prefix MVD_). Settings not listed here are
  # left at their code default on purpose: README.md, "Settings left at their default".
  mvd_settings = {
    MVD_TARGETS               = "declared"
    MVD_DATASPACE_FILE        = "${local.app_root}/${local.dataspace_file}"
    MVD_HOME                  = "/tmp/mvd"
    MVD_PUBLIC_URL            = "https://${local.function_app_name}.azurewebsites.net"
    MVD_COMMAND_QUEUE         = local.command_queue
    MVD_STORAGE_ACCOUNT       = azurerm_storage_account.main.name
    MVD_AZURE_SUBSCRIPTION_ID = var.subscription_id
    MVD_RESET_SCHEDULE        = local.reset_schedule
    MVD_LOG_LEVEL             = var.log_level
    MVD_LOG_FORMAT            = "json"
  }

  app_settings = merge(local.host_settings, local.mvd_settings, local.secret_references)
}

resource "azurerm_resource_group" "main" {
  name     = local.resource_group
  location = var.location
  tags     = local.tags
}

# --- storage: Functions host, Durable task hub (mvdcontrolplane), command queue, package ---

resource "azurerm_storage_account" "main" {
  name                = local.storage_account
  resource_group_name = azurerm_resource_group.main.name
  location            = azurerm_resource_group.main.location
  tags                = local.tags

  account_tier                    = "Standard"
  account_replication_type        = "LRS"
  account_kind                    = "StorageV2"
  min_tls_version                 = "TLS1_2"
  https_traffic_only_enabled      = true
  allow_nested_items_to_be_public = false
  # Everything (host, task hub, deployment package, operators) authenticates with Entra ID.
  shared_access_key_enabled       = false
  default_to_oauth_authentication = true
}

resource "azurerm_storage_container" "package" {
  name                  = "app-package"
  storage_account_id    = azurerm_storage_account.main.id
  container_access_type = "private"
}

resource "azurerm_storage_queue" "commands" {
  name               = local.command_queue
  storage_account_id = azurerm_storage_account.main.id
}

resource "azurerm_storage_queue" "commands_poison" {
  name               = "${local.command_queue}-poison"
  storage_account_id = azurerm_storage_account.main.id
}

# --- monitoring ---

resource "azurerm_log_analytics_workspace" "main" {
  name                = "log-${var.name_prefix}-controlplane"
  resource_group_name = azurerm_resource_group.main.name
  location            = azurerm_resource_group.main.location
  sku                 = "PerGB2018"
  retention_in_days   = 30
  tags                = local.tags
}

resource "azurerm_application_insights" "main" {
  name                = "appi-${var.name_prefix}-controlplane"
  resource_group_name = azurerm_resource_group.main.name
  location            = azurerm_resource_group.main.location
  workspace_id        = azurerm_log_analytics_workspace.main.id
  application_type    = "other"
  # Telemetry is accepted only with an Entra ID token (the app's identity), so the
  # connection string in the app settings grants nothing on its own.
  local_authentication_disabled = true
  tags                          = local.tags
}

# --- alerting: a failed run (provision, nightly reset, teardown) reaches a person ---

# Every run ends in the record_run activity, which logs one line per run with its outcome
# (mvd_core/runs/notify.py: "run <id> (<action>) finished: failed, <n> failure(s)"); the
# Functions host sends it to Application Insights as a trace (host.json keeps traces out of
# sampling so none is dropped). The alert counts those lines.
resource "azurerm_monitor_action_group" "run_failed" {
  name                = "ag-${var.name_prefix}-run-failed"
  resource_group_name = azurerm_resource_group.main.name
  short_name          = "mvdrunfail"
  tags                = local.tags

  dynamic "email_receiver" {
    for_each = { for i, address in var.alert_emails : tostring(i) => address }
    content {
      name                    = "email-${email_receiver.key}"
      email_address           = email_receiver.value
      use_common_alert_schema = true
    }
  }

  dynamic "webhook_receiver" {
    for_each = { for i, url in var.alert_webhook_urls : tostring(i) => url }
    content {
      name                    = "webhook-${webhook_receiver.key}"
      service_uri             = webhook_receiver.value
      use_common_alert_schema = true
    }
  }
}

resource "azurerm_monitor_scheduled_query_rules_alert_v2" "run_failed" {
  name                 = "alert-${var.name_prefix}-run-failed"
  resource_group_name  = azurerm_resource_group.main.name
  location             = azurerm_resource_group.main.location
  description          = "A control plane run (provision, nightly reset, teardown) finished failed: see the dashboard's run history or GET /api/runs for the failing participant and step."
  display_name         = "MVD control plane: a run failed"
  severity             = 1
  enabled              = true
  scopes               = [azurerm_application_insights.main.id]
  evaluation_frequency = "PT5M"
  window_duration      = "PT5M"
  # One notification per failed run: a new failure in a later window alerts again.
  auto_mitigation_enabled = false
  tags                    = local.tags

  criteria {
    query                   = <<-KQL
      traces
      | where message contains "finished: failed"
      | project timestamp, message, operation_Name
    KQL
    time_aggregation_method = "Count"
    operator                = "GreaterThan"
    threshold               = 0

    failing_periods {
      minimum_failing_periods_to_trigger_alert = 1
      number_of_evaluation_periods             = 1
    }
  }

  action {
    action_groups = [azurerm_monitor_action_group.run_failed.id]
  }
}

# --- the control plane's own Key Vault (RBAC) ---

resource "azurerm_key_vault" "main" {
  name                = local.key_vault_name
  resource_group_name = azurerm_resource_group.main.name
  location            = azurerm_resource_group.main.location
  tenant_id           = data.azurerm_client_config.current.tenant_id
  tags                = local.tags

  sku_name                   = "standard"
  rbac_authorization_enabled = true
  purge_protection_enabled   = true
  soft_delete_retention_days = 7
}

resource "azurerm_key_vault_secret" "control_plane" {
  for_each = local.supplied_secrets

  name             = each.key
  key_vault_id     = azurerm_key_vault.main.id
  value_wo         = var.control_plane_secrets[each.key]
  value_wo_version = var.secrets_version
  content_type     = each.key == "webhook-secrets" ? "application/json" : "text/plain"

  # Writing right after the deployer's role assignment can be refused (403) until it applies.
  depends_on = [time_sleep.rbac_propagation]
}

# Role assignments apply within minutes, not at once: the deployer's Key Vault secret writes
# and the app's first Key Vault reference resolution wait this long after them. (The app
# still starts if a reference is unresolved: the setting that needs it answers 503 naming it
# until `az functionapp restart`; README.md, "Deploy to Azure".)
resource "time_sleep" "rbac_propagation" {
  create_duration = var.rbac_propagation_wait
  triggers = {
    deployer_secrets = azurerm_role_assignment.deployer_kv_secrets_officer.id
    app_secrets      = azurerm_role_assignment.own_secrets.id
  }
}

# --- the Function App: Flex Consumption, Linux, Python 3.11 ---

resource "azurerm_service_plan" "main" {
  name                = "plan-${var.name_prefix}-controlplane"
  resource_group_name = azurerm_resource_group.main.name
  location            = azurerm_resource_group.main.location
  os_type             = "Linux"
  sku_name            = "FC1"
  tags                = local.tags
}

resource "azapi_resource" "function_app" {
  type      = "Microsoft.Web/sites@2024-04-01"
  name      = local.function_app_name
  parent_id = azurerm_resource_group.main.id
  location  = azurerm_resource_group.main.location
  tags      = local.tags

  identity {
    type = "SystemAssigned"
  }

  body = {
    kind = "functionapp,linux"
    properties = {
      serverFarmId = azurerm_service_plan.main.id
      httpsOnly    = true
      # Only site-config properties Flex Consumption accepts: ARM refuses the others (error
      # 51021; ftpsState among them). FTP is off anyway: Flex has no FTP deployment and
      # no_basic_auth below denies FTP and SCM basic auth.
      siteConfig = {
        minTlsVersion    = "1.2"
        scmMinTlsVersion = "1.2"
        http20Enabled    = true
        appSettings      = [for name, value in local.app_settings : { name = name, value = value }]
      }
      functionAppConfig = {
        deployment = {
          storage = {
            type           = "blobContainer"
            value          = "${azurerm_storage_account.main.primary_blob_endpoint}${azurerm_storage_container.package.name}"
            authentication = { type = "SystemAssignedIdentity" }
          }
        }
        runtime = {
          name    = "python"
          version = "3.11"
        }
        scaleAndConcurrency = {
          maximumInstanceCount = var.maximum_instance_count
          instanceMemoryMB     = 2048
          # Microsoft's Flex recommendation for Durable Functions: one always-ready instance
          # for the durable group (orchestrators, activities) cuts the cold start of each step.
          alwaysReady = concat(
            var.always_ready_http > 0 ? [{ name = "http", instanceCount = var.always_ready_http }] : [],
            var.always_ready_durable > 0 ? [{ name = "durable", instanceCount = var.always_ready_durable }] : [],
          )
        }
      }
    }
  }

  response_export_values = ["properties.defaultHostName"]

  lifecycle {
    precondition {
      condition     = upper(local.reset_timezone) == "UTC"
      error_message = "The blueprint's schedule.timezone must be UTC on Azure: Flex Consumption runs timer triggers in UTC only (WEBSITE_TIME_ZONE is not supported). Write the schedule in UTC, or set reset_schedule."
    }
    precondition {
      condition     = length(split(" ", trimspace(local.reset_schedule))) == 6
      error_message = "The reset schedule must be an NCRONTAB expression with 6 fields (sec min hour day month weekday)."
    }
  }
}

# Publishing goes through Entra ID (az / func CLI), never through basic-auth credentials.
resource "azapi_resource" "no_basic_auth" {
  for_each = toset(["scm", "ftp"])

  type      = "Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01"
  name      = each.key
  parent_id = azapi_resource.function_app.id
  body = {
    properties = { allow = false }
  }
}

# --- the participants, when Terraform owns them ---

module "participants" {
  source = "./modules/participants"
  count  = var.participants_enabled ? 1 : 0

  location     = var.location
  tenant_id    = data.azurerm_client_config.current.tenant_id
  participants = local.participants
  tags         = local.tags
}
