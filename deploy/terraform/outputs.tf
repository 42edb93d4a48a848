output "node_names" {
  description = "Every node's instance name (the Node name its kubelet registers), sorted."
  value       = sort(keys(google_compute_instance.node))
}

output "nodes" {
  description = "Every node by name: zone, role, internal_ip, external_ip (null without var.external_ips) and the instance's self_link."
  value = {
    for name, i in google_compute_instance.node : name => {
      zone        = i.zone
      role        = var.nodes[name].role
      internal_ip = i.network_interface[0].network_ip
      external_ip = try(i.network_interface[0].access_config[0].nat_ip, null)
      self_link   = i.self_link
    }
  }
}

output "control_plane_names" {
  description = "The control-plane nodes' names, sorted."
  value       = local.control_plane
}

output "network" {
  description = "The VPC network's name."
  value       = google_compute_network.vpc.name
}

output "subnetwork" {
  description = "The nodes' subnetwork's name."
  value       = google_compute_subnetwork.nodes.name
}

output "node_tag" {
  description = "The network tag of every node."
  value       = var.node_tag
}

output "reserved_address" {
  description = "The reserved address's IP, or null without var.reserve_address."
  value       = one(google_compute_address.lb[*].address)
}

output "reserved_address_name" {
  description = "The reserved address's name (for the cloud-provider-vpc.io/static-address annotation), or null."
  value       = one(google_compute_address.lb[*].name)
}

output "cloud_config" {
  description = "gce.conf for vpc-cloud-controller-manager (docs/cloud-config.md): put it in the cloud-config ConfigMap of deploy/."
  value       = module.cloud_config.gce_conf
}
