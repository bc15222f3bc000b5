variable "subscription_id" {
  type        = string
  description = "Azure subscription that holds the control plane and in which it creates the participants' resource groups, AKS clusters and key vaults (MVD_AZURE_SUBSCRIPTION_ID)."

  validation {
    condition     = can(regex("^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$", var.subscription_id))
    error_message = "subscription_id must be a subscription GUID (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)."
  }
}

variable "location" {
  type        = string
  description = "Azure region of the control plane (a region that offers the Flex Consumption plan)."
  default     = "westeurope"

  validation {
    condition     = can(regex("^[a-z][a-z0-9]+$", var.location))
    error_message = "location must be a region name such as westeurope (lowercase, no spaces)."
  }
}

variable "name_prefix" {
  type        = string
  description = "Prefix of every resource name: 2-10 lowercase letters and digits, starting with a letter (it becomes part of the storage account name)."
  default     = "mvd"

  validation {
    condition     = can(regex("^[a-z][a-z0-9]{1,9}$", var.name_prefix))
    error_message = "name_prefix must be 2-10 lowercase letters or digits and start with a letter."
  }
}

variable "dataspace_file" {
  type        = string
  description = "The dataspace blueprint the control plane deploys, as a path relative to the repository root (it is published with the app). Empty: the packaged default, mvd_core/dataspace/default-dataspace.yaml."
  default     = ""

  validation {
    condition     = var.dataspace_file == "" || (can(regex("\\.ya?ml$", var.dataspace_file)) && !startswith(var.dataspace_file, "/") && !strcontains(var.dataspace_file, ".."))
    error_message = "dataspace_file must be a relative .yaml/.yml path inside the repository (no leading '/', no '..')."
  }
}

variable "reset_schedule" {
  type        = string
  description = "NCRONTAB (sec min hour day month weekday, UTC) of the nightly reset timer. Null: the blueprint's schedule.reset (00:00 UTC in the default blueprint)."
  default     = null

  validation {
    condition     = var.reset_schedule == null || length(split(" ", trimspace(coalesce(var.reset_schedule, "x")))) == 6
    error_message = "reset_schedule must have 6 space-separated fields: sec min hour day month weekday, e.g. \"0 0 0 * * *\"."
  }
}

variable "participants_enabled" {
  type        = bool
  description = "Pre-create each participant's resource group, AKS cluster and key vault (and the Azure Blob did:web storage account) with Terraform; the control plane then finds them instead of creating them, and its rights shrink to those resource groups."
  default     = false
}

variable "did_storage_account_groups" {
  type        = map(string)
  description = "Without the participants module: storage account name -> resource group, for each Azure Blob did:web host the blueprint names (identity.host.storageAccount). The DID roles are assigned on those accounts only, never on the subscription. Ignored when participants_enabled (the module creates the accounts)."
  default     = {}

  validation {
    condition     = var.participants_enabled || length(setsubtract(keys(local.did_storage_accounts), keys(var.did_storage_account_groups))) == 0
    error_message = "did_storage_account_groups must name the resource group of every Azure Blob did:web host's storage account in the blueprint (the DID roles are assigned on those accounts, not on the subscription); missing: ${join(", ", sort(setsubtract(keys(local.did_storage_accounts), keys(var.did_storage_account_groups))))}."
  }

  validation {
    condition     = alltrue([for group in values(var.did_storage_account_groups) : can(regex("^[-\\w._()]{1,90}$", group)) && !endswith(group, ".")])
    error_message = "did_storage_account_groups values must be resource group names (1-90 letters, digits, '-', '_', '.', '(', ')', not ending in '.')."
  }
}

variable "control_plane_secrets" {
  type        = map(string)
  description = "The control plane's own secrets, written to its Key Vault (write-only: never stored in state) and referenced from the app settings. Keys: webhook-secrets (JSON object source -> HMAC secret), cloudflare-api-token, r2-access-key-id, r2-secret-access-key, aws-access-key-id, aws-secret-access-key. A key left out leaves its setting unset."
  default     = {}
  sensitive   = true

  validation {
    condition = alltrue([for k in keys(var.control_plane_secrets) : contains([
      "webhook-secrets", "cloudflare-api-token", "r2-access-key-id", "r2-secret-access-key",
      "aws-access-key-id", "aws-secret-access-key",
    ], k)])
    error_message = "control_plane_secrets keys must be among: webhook-secrets, cloudflare-api-token, r2-access-key-id, r2-secret-access-key, aws-access-key-id, aws-secret-access-key."
  }
}

variable "secrets_version" {
  type        = number
  description = "Bump to write control_plane_secrets again (write-only values are not compared with the vault's; a new number rotates them)."
  default     = 1
}

variable "always_ready_http" {
  type        = number
  description = "Always-ready instances for the HTTP triggers (Flex Consumption). 0 scales to zero: the first click after a quiet period waits for a cold start; 1 keeps the dashboard and Deploy button warm, billed as a baseline."
  default     = 0

  validation {
    condition     = var.always_ready_http >= 0 && var.always_ready_http <= 10
    error_message = "always_ready_http must be between 0 and 10."
  }
}

variable "always_ready_durable" {
  type        = number
  description = "Always-ready instances for the Durable Functions group (orchestrators and activities). Microsoft recommends 1 on Flex Consumption: each orchestration step otherwise waits for a cold start. 0 scales to zero (cheapest; runs are slower), billed as a baseline otherwise."
  default     = 1

  validation {
    condition     = var.always_ready_durable >= 0 && var.always_ready_durable <= 10
    error_message = "always_ready_durable must be between 0 and 10."
  }
}

variable "maximum_instance_count" {
  type        = number
  description = "Upper bound of Flex Consumption scale-out (the Durable work-item and command queues scale out to it)."
  default     = 40

  validation {
    condition     = var.maximum_instance_count >= 40 && var.maximum_instance_count <= 1000
    error_message = "maximum_instance_count must be between 40 (the Flex Consumption minimum) and 1000."
  }
}

variable "log_level" {
  type        = string
  description = "Log level of the control plane (MVD_LOG_LEVEL)."
  default     = "INFO"

  validation {
    condition     = contains(["DEBUG", "INFO", "WARNING", "ERROR"], var.log_level)
    error_message = "log_level must be DEBUG, INFO, WARNING or ERROR."
  }
}

variable "rbac_propagation_wait" {
  type        = string
  description = "How long apply waits after the Key Vault role assignments before writing secrets (Azure RBAC propagation; Microsoft documents up to 10 minutes in rare cases), e.g. 90s or 5m."
  default     = "90s"

  validation {
    condition     = can(regex("^[0-9]+[sm]$", var.rbac_propagation_wait))
    error_message = "rbac_propagation_wait must be a duration such as 90s or 5m."
  }
}

variable "alert_emails" {
  type        = list(string)
  description = "E-mail addresses the failed-run alert notifies (the action group's e-mail receivers). Empty: the alert still fires and shows in Azure Monitor, but tells nobody."
  default     = []

  validation {
    condition     = alltrue([for address in var.alert_emails : can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", address))])
    error_message = "alert_emails must be e-mail addresses (name@example.org)."
  }
}

variable "alert_webhook_urls" {
  type        = list(string)
  description = "HTTPS URLs the failed-run alert POSTs to (the action group's webhook receivers, common alert schema). A URL that carries a token is stored in the Terraform state."
  default     = []

  validation {
    condition     = alltrue([for url in var.alert_webhook_urls : can(regex("^https://[^\\s/]+", url))])
    error_message = "alert_webhook_urls must be https:// URLs."
  }
}

variable "tags" {
  type        = map(string)
  description = "Tags added to every resource."
  default     = {}
}
