# Every value lands in an INI line unquoted, so none may hold what gcfg reads
# as a comment (';', '#'), a quote or an escape: the validations below say so.

variable "project_id" {
  description = "project-id."
  type        = string

  validation {
    condition     = can(regex("^[a-z][-a-z0-9]{4,28}[a-z0-9]$", var.project_id))
    error_message = "project_id must be a project id: 6 to 30 lowercase letters, digits or hyphens, starting with a letter."
  }
}

variable "network_project_id" {
  description = "network-project-id: the project of the VPC network (Shared VPC's host project), where the CCM makes firewall rules and routes; null when it is project_id."
  type        = string
  default     = null

  validation {
    condition     = var.network_project_id == null || can(regex("^[a-z][-a-z0-9]{4,28}[a-z0-9]$", var.network_project_id))
    error_message = "network_project_id must be a project id: 6 to 30 lowercase letters, digits or hyphens, starting with a letter."
  }
}

variable "network_name" {
  description = "network-name: the VPC network's name or link."
  type        = string

  validation {
    condition     = can(regex("^[-a-zA-Z0-9_./:]+$", var.network_name))
    error_message = "network_name must be a resource name or link."
  }
}

variable "subnetwork_name" {
  description = "subnetwork-name: the nodes' subnetwork's name or link; null to leave it out."
  type        = string
  default     = null

  validation {
    condition     = var.subnetwork_name == null || can(regex("^[-a-zA-Z0-9_./:]+$", var.subnetwork_name))
    error_message = "subnetwork_name must be a resource name or link."
  }
}

variable "node_tags" {
  description = "node-tags, one line each."
  type        = list(string)

  validation {
    condition     = alltrue([for t in var.node_tags : can(regex("^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$", t))])
    error_message = "Each node tag must be 1 to 63 lowercase letters, digits or hyphens, starting with a letter."
  }
}

variable "local_zone" {
  description = "local-zone: the zone the CCM runs in."
  type        = string

  validation {
    condition     = can(regex("^[a-z]+-[a-z]+[0-9]+-[a-z]$", var.local_zone))
    error_message = "local_zone must be a zone name such as us-central1-a."
  }
}

variable "regional" {
  description = "regional: the nodes may be in every zone of local-zone's region."
  type        = bool
  default     = false
}

variable "api_endpoint" {
  description = "api-endpoint: the compute API's base URL; null for the real API."
  type        = string
  default     = null

  validation {
    condition     = var.api_endpoint == null || can(regex("^https?://[^;#\"\\\\\\s]+$", var.api_endpoint))
    error_message = "api_endpoint must be an http or https URL without spaces, quotes, backslashes, ';' or '#'."
  }
}

variable "token_url" {
  description = "token-url: \"nil\" for no credentials, a URL, or null for the metadata server's token."
  type        = string
  default     = null

  validation {
    condition     = var.token_url == null || can(regex("^(nil|https?://[^;#\"\\\\\\s]+)$", var.token_url))
    error_message = "token_url must be \"nil\" or an http or https URL without spaces, quotes, backslashes, ';' or '#'."
  }
}

variable "extra" {
  description = "Text appended as it is: further sections such as [load-balancer]."
  type        = string
  default     = ""
}
