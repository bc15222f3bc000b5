variable "location" {
  type        = string
  description = "Region of resources whose location the blueprint does not give (resource groups, vaults, DID storage)."
}

variable "tenant_id" {
  type        = string
  description = "Entra ID tenant of the participants' key vaults."
}

variable "participants" {
  type = map(object({
    resource_group = string
    cluster = object({
      name               = string
      resource_group     = string
      location           = string
      node_count         = number
      vm_size            = string
      kubernetes_version = string
    })
    vault = object({
      name           = string
      resource_group = string
    })
    did_storage_account = string
  }))
  description = "Participant id -> what to pre-create, as the root module reads it from the blueprint. A null cluster, vault or did_storage_account is not created (the blueprint runs it elsewhere)."
}

variable "tags" {
  type        = map(string)
  description = "Tags added to every resource."
  default     = {}
}

variable "runtimes_service_account" {
  type        = string
  description = "The ServiceAccount the runtimes of a participant's namespace run as (mvd_core/plan/exposure.py RUNTIMES_SERVICE_ACCOUNT)."
  default     = "runtimes"
}
