# A three-node cluster's VPC and instances on fake-gce (cmd/fake-gce), for CI
# and for trying the module without a cloud. make tf-e2e applies it, checks
# that the next plan is empty, runs the CCM against it and destroys it.
#
# By hand (docs/terraform.md has the whole sequence):
#
#   go run ./cmd/fake-gce --listen 127.0.0.1:8085 &
#   export HTTPS_PROXY=http://127.0.0.1:9
#   export TF_CLI_CONFIG_FILE=...   # a provider mirror, where there is no internet
#   tofu init && tofu apply && tofu output -raw cloud_config
#
# HTTPS_PROXY: with access_token, the Google provider also asks Google's
# userinfo endpoint (over HTTPS) who the token belongs to. Through a proxy on an
# unused loopback port that request fails at once and never leaves the machine
# (where there is no network it would otherwise wait for a timeout), and the
# provider carries on without the answer. The compute requests go to the
# plain-HTTP endpoint below, which an HTTPS proxy does not touch (and Go never
# proxies requests to 127.0.0.1 anyway). make tf-e2e sets it the same way.

terraform {
  required_version = ">= 1.5"

  required_providers {
    google = {
      source  = "hashicorp/google"
      version = ">= 7.0, < 8.0"
    }
  }
}

variable "endpoint" {
  description = "fake-gce's compute API (its --listen address, then /compute/v1/)."
  type        = string
  default     = "http://127.0.0.1:8085/compute/v1/"
}

provider "google" {
  # fake-gce's default project (its --project flag) and region.
  project                 = "fake-project"
  region                  = "us-central1"
  compute_custom_endpoint = var.endpoint
  # Any string: fake-gce checks it only when started with --require-token.
  access_token = "fake-token"
}

module "cluster" {
  source = "../.."

  project_id   = "fake-project"
  region       = "us-central1"
  cluster_name = "tf-e2e"

  # The e2e control plane (test/e2e/cluster) has kubelet credentials for
  # node-1 ... node-64 only, so the instances take those names.
  nodes = {
    "node-1" = { zone = "us-central1-a", role = "control-plane" }
    "node-2" = { zone = "us-central1-b" }
    "node-3" = { zone = "us-central1-c" }
  }
  machine_type      = "e2-standard-2"
  reserve_address   = true
  api_source_ranges = ["203.0.113.0/24"]

  # The CCM talks to the same fake, without credentials.
  compute_endpoint = var.endpoint
  token_url        = "nil"
}

output "node_names" {
  value = module.cluster.node_names
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
