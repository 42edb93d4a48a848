variable "project_id" {
  description = "The project of every resource, and project-id in the cloud config."
  type        = string
}

variable "region" {
  description = "The region of the subnetwork and the reserved address; every node's zone must be in it."
  type        = string
}

variable "cluster_name" {
  description = "Start of the names of the network, subnetwork, firewall rules and address (unless named below), and the value of the cluster label."
  type        = string

  validation {
    condition     = can(regex("^[a-z]([-a-z0-9]{0,38}[a-z0-9])?$", var.cluster_name))
    error_message = "cluster_name must be 1 to 40 lowercase letters, digits or hyphens, starting with a letter and not ending with a hyphen."
  }
}

variable "nodes" {
  description = <<-EOT
    The cluster's instances, by instance name (which is also the Node name a
    --cloud-provider=external kubelet registers): zone (in var.region), role
    (control-plane or worker) and, optionally, machine_type.
  EOT
  type = map(object({
    zone         = string
    role         = optional(string, "worker")
    machine_type = optional(string)
  }))

  validation {
    condition     = alltrue([for name, n in var.nodes : contains(["control-plane", "worker"], n.role)])
    error_message = "Each node's role must be control-plane or worker."
  }
  validation {
    condition     = length([for n in var.nodes : n if n.role == "control-plane"]) > 0
    error_message = "At least one node must have the role control-plane: its zone is the cloud config's local-zone."
  }
  validation {
    condition     = alltrue([for name in keys(var.nodes) : can(regex("^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$", name))])
    error_message = "Node names must be instance names: 1 to 63 lowercase letters, digits or hyphens, starting with a letter."
  }
}

variable "network_name" {
  description = "Name of the VPC network. Default: <cluster_name>-vpc."
  type        = string
  default     = null
}

variable "subnetwork_name" {
  description = "Name of the nodes' subnetwork. Default: <cluster_name>-nodes."
  type        = string
  default     = null
}

variable "subnetwork_cidr" {
  description = "The nodes' internal address range."
  type        = string
  default     = "10.0.0.0/24"
}

variable "pod_cidr" {
  description = "The cluster's pod range (kube-controller-manager --cluster-cidr). Traffic from it to the nodes is allowed like the nodes' own; null for none."
  type        = string
  default     = "10.244.0.0/16"
}

variable "node_tag" {
  description = "Network tag of every node; the CCM's load balancer firewall rules target it (node-tags in the cloud config)."
  type        = string
  default     = "k8s-node"
}

variable "control_plane_tag" {
  description = "Network tag of the control-plane nodes, which the API server rule targets."
  type        = string
  default     = "k8s-control-plane"
}

variable "machine_type" {
  description = "Machine type of the nodes that name none."
  type        = string
  default     = "e2-standard-2"
}

variable "image" {
  description = "Boot image of the nodes. The full family path is resolved by the API, not by extra lookups from the provider."
  type        = string
  default     = "projects/debian-cloud/global/images/family/debian-12"
}

variable "boot_disk_size_gb" {
  description = "Size of each boot disk in GB; null for the image's size."
  type        = number
  default     = null
}

variable "external_ips" {
  description = "Give every node an ephemeral external IP (a ONE_TO_ONE_NAT access config), which the CCM reports as its ExternalIP."
  type        = bool
  default     = true
}

variable "can_ip_forward" {
  description = "Let the nodes send and receive packets of other addresses: needed for pod traffic when the CCM programs pod-CIDR routes (--configure-cloud-routes)."
  type        = bool
  default     = true
}

variable "api_source_ranges" {
  description = "Ranges outside the VPC that may reach the API server (tcp 6443) on the control-plane nodes; empty for no such rule."
  type        = list(string)
  default     = []
}

variable "ssh_source_ranges" {
  description = "Ranges that may reach SSH (tcp 22) on every node; empty for no such rule."
  type        = list(string)
  default     = []
}

variable "reserve_address" {
  description = "Reserve a regional external address for a LoadBalancer Service (annotation cloud-provider-vpc.io/static-address: <its name>); the CCM uses it and never releases it."
  type        = bool
  default     = false
}

variable "address_name" {
  description = "Name of the reserved address. Default: <cluster_name>-lb."
  type        = string
  default     = null
}

variable "labels" {
  description = "Labels of the instances and the reserved address, besides cluster = <cluster_name> (and role on instances)."
  type        = map(string)
  default     = {}
}

variable "metadata" {
  description = "Instance metadata of every node (for example startup-script or ssh-keys)."
  type        = map(string)
  default     = {}
}

variable "control_plane_service_account" {
  description = "Service account of the control-plane nodes. On a real project, the CCM on them takes its token from the metadata server, so this account needs compute rights and the cloud-platform (or compute) scope. null: none."
  type = object({
    email  = string
    scopes = optional(list(string), ["cloud-platform"])
  })
  default = null
}

variable "compute_endpoint" {
  description = "api-endpoint in the cloud config: the compute API's base URL when it is not the real one (fake-gce: http://127.0.0.1:8085/compute/v1/)."
  type        = string
  default     = null
}

variable "token_url" {
  description = "token-url in the cloud config: \"nil\" for an endpoint that needs no credentials (fake-gce); null to use the metadata server's token."
  type        = string
  default     = null
}

variable "regional" {
  description = "regional in the cloud config: the nodes may be in every zone of the region. null: true when the nodes are in more than one zone."
  type        = bool
  default     = null
}

variable "cloud_config_extra" {
  description = "Text appended to the rendered cloud config, such as a [load-balancer] section (docs/cloud-config.md)."
  type        = string
  default     = ""
}
