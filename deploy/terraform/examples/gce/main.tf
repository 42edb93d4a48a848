# A cluster's VPC and instances in a real project. Copy this folder, set the
# variables (terraform.tfvars.example), then:
#
#   tofu init && tofu apply
#   tofu output -raw cloud_config > gce.conf
#
# Credentials come the usual way for the Google provider (for example
# `gcloud auth application-default login`, or GOOGLE_APPLICATION_CREDENTIALS).
# The instances are bare Debian: install the container runtime and kubeadm (or
# k3s, ...) with a startup script in var.metadata or your own tooling, and start
# every kubelet with --cloud-provider=external. docs/terraform.md goes on from
# there to deploy the CCM with this gce.conf.

terraform {
  required_version = ">= 1.5"

  required_providers {
    google = {
      source  = "hashicorp/google"
      version = ">= 7.0, < 8.0"
    }
  }
}

variable "project_id" {
  description = "The project to create the cluster in."
  type        = string
}

variable "region" {
  description = "The region of the cluster."
  type        = string
  default     = "europe-west1"
}

variable "cluster_name" {
  description = "Start of every resource's name; use it as the CCM's --cluster-name too."
  type        = string
  default     = "k8s"
}

variable "admin_ranges" {
  description = "Where kubectl and SSH come from (your office or bastion)."
  type        = list(string)
}

variable "ccm_service_account" {
  description = "Email of the service account of the control plane, which the CCM there acts as: it must read instances and manage addresses, forwarding rules, target pools, health checks, routes and firewall rules (roles/compute.networkAdmin and roles/compute.securityAdmin)."
  type        = string
}

provider "google" {
  project = var.project_id
  region  = var.region
}

module "cluster" {
  source = "../.."

  project_id   = var.project_id
  region       = var.region
  cluster_name = var.cluster_name

  nodes = {
    "${var.cluster_name}-cp-1"     = { zone = "${var.region}-b", role = "control-plane", machine_type = "e2-standard-4" }
    "${var.cluster_name}-worker-1" = { zone = "${var.region}-b" }
    "${var.cluster_name}-worker-2" = { zone = "${var.region}-c" }
    "${var.cluster_name}-worker-3" = { zone = "${var.region}-d" }
  }
  boot_disk_size_gb = 50
  api_source_ranges = var.admin_ranges
  ssh_source_ranges = var.admin_ranges
  reserve_address   = true

  control_plane_service_account = {
    email = var.ccm_service_account
  }
}

output "nodes" {
  value = module.cluster.nodes
}

output "reserved_address" {
  value = module.cluster.reserved_address
}

output "reserved_address_name" {
  value = module.cluster.reserved_address_name
}

output "cloud_config" {
  value = module.cluster.cloud_config
}
