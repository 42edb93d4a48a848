# A self-managed Kubernetes cluster's share of a GCE-like VPC: the network,
# the nodes' subnetwork, the firewall rules for traffic inside the cluster,
# the control-plane and worker instances with the node tag, an optional
# reserved address for a LoadBalancer Service, and the cloud config
# (gce.conf) that vpc-cloud-controller-manager reads. docs/terraform.md has
# the inputs, the outputs and the examples.

locals {
  network_name    = coalesce(var.network_name, "${var.cluster_name}-vpc")
  subnetwork_name = coalesce(var.subnetwork_name, "${var.cluster_name}-nodes")
  labels          = merge(var.labels, { cluster = var.cluster_name })

  # The first control-plane node by name: its zone is the CCM's local-zone.
  control_plane = sort([for name, n in var.nodes : name if n.role == "control-plane"])
  zones         = distinct([for n in var.nodes : n.zone])

  # Where traffic inside the cluster comes from: the nodes, and their pods
  # (with pod-CIDR routes, packets of pods keep their pod source address).
  cluster_ranges = compact([var.subnetwork_cidr, var.pod_cidr])
}

resource "google_compute_network" "vpc" {
  project                 = var.project_id
  name                    = local.network_name
  auto_create_subnetworks = false
}

resource "google_compute_subnetwork" "nodes" {
  project       = var.project_id
  region        = var.region
  name          = local.subnetwork_name
  network       = google_compute_network.vpc.id
  ip_cidr_range = var.subnetwork_cidr

  lifecycle {
    precondition {
      condition     = alltrue([for z in local.zones : startswith(z, "${var.region}-")])
      error_message = "Every node's zone must be in region ${var.region} (got ${join(", ", local.zones)})."
    }
  }
}
