# Firewall rules for the cluster itself. The CCM adds its own rules for
# LoadBalancer Services (named cpv-<cluster>-..., docs/external-load-balancer.md);
# these are the ones a cluster needs before it has any Service.

# Node to node and pod to node, every protocol: the kubelet (10250), the
# API server and etcd on the control plane, NodePorts, and whatever the CNI
# encapsulates in (VXLAN on udp 8472, IP-in-IP, ESP).
resource "google_compute_firewall" "internal" {
  project       = var.project_id
  name          = "${var.cluster_name}-internal"
  network       = google_compute_network.vpc.id
  description   = "Traffic inside cluster ${var.cluster_name}: from its nodes and pods to its nodes."
  direction     = "INGRESS"
  priority      = 1000
  source_ranges = local.cluster_ranges
  target_tags   = [var.node_tag]

  allow {
    protocol = "all"
  }
}

# kubectl (and kubelets outside the VPC) to the API server.
resource "google_compute_firewall" "api" {
  count         = length(var.api_source_ranges) > 0 ? 1 : 0
  project       = var.project_id
  name          = "${var.cluster_name}-api"
  network       = google_compute_network.vpc.id
  description   = "The API server of cluster ${var.cluster_name} from outside the VPC."
  direction     = "INGRESS"
  priority      = 1000
  source_ranges = var.api_source_ranges
  target_tags   = [var.control_plane_tag]

  allow {
    protocol = "tcp"
    ports    = ["6443"]
  }
}

resource "google_compute_firewall" "ssh" {
  count         = length(var.ssh_source_ranges) > 0 ? 1 : 0
  project       = var.project_id
  name          = "${var.cluster_name}-ssh"
  network       = google_compute_network.vpc.id
  description   = "SSH to the nodes of cluster ${var.cluster_name}."
  direction     = "INGRESS"
  priority      = 1000
  source_ranges = var.ssh_source_ranges
  target_tags   = [var.node_tag]

  allow {
    protocol = "tcp"
    ports    = ["22"]
  }
}
