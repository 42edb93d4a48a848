module "cloud_config" {
  source = "./modules/cloud-config"

  project_id      = var.project_id
  network_name    = google_compute_network.vpc.name
  subnetwork_name = google_compute_subnetwork.nodes.name
  node_tags       = [var.node_tag]
  local_zone      = var.nodes[local.control_plane[0]].zone
  regional        = var.regional != null ? var.regional : length(local.zones) > 1
  api_endpoint    = var.compute_endpoint
  token_url       = var.token_url
  extra           = var.cloud_config_extra
}
