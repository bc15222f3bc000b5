terraform {
  # 1.11: write-only arguments (value_wo), so the control plane's secrets never land in state.
  required_version = ">= 1.11.0"

  required_providers {
    azurerm = {
      source  = "hashicorp/azurerm"
      version = "~> 4.42"
    }
    # The Function App itself is an azapi resource: azurerm_function_app_flex_consumption
    # always writes an AzureWebJobsStorage connection string (with an empty key when the
    # identity is used), which the Functions host then prefers over the identity-based
    # AzureWebJobsStorage__* settings (hashicorp/terraform-provider-azurerm#29693).
    azapi = {
      source  = "Azure/azapi"
      version = "~> 2.4"
    }
    # time_sleep: a new role assignment takes a while to apply (RBAC propagation).
    time = {
      source  = "hashicorp/time"
      version = "~> 0.12"
    }
  }
}

provider "azurerm" {
  subscription_id = var.subscription_id
  # Storage accounts here have shared keys disabled. Terraform configures them through
  # Resource Manager only (containers and queues by storage_account_id), so the deployer
  # needs no data-plane role and nothing waits for one to propagate.
  storage_use_azuread = true

  features {
    storage {
      data_plane_available = false
    }
    key_vault {
      purge_soft_delete_on_destroy    = false
      recover_soft_deleted_key_vaults = true
    }
    resource_group {
      prevent_deletion_if_contains_resources = true
    }
  }
}

provider "azapi" {
  subscription_id = var.subscription_id
}
