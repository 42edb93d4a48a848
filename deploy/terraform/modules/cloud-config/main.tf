# Renders gce.conf, the cloud config of vpc-cloud-controller-manager
# (docs/cloud-config.md), from what deploy/terraform made. It creates nothing
# and needs no provider, so `tofu test` checks it anywhere.

output "gce_conf" {
  description = "The cloud config, an INI file the CCM reads with --cloud-config."
  value = templatefile("${path.module}/gce.conf.tftpl", {
    project_id         = var.project_id
    network_project_id = var.network_project_id
    network_name       = var.network_name
    subnetwork_name    = var.subnetwork_name
    node_tags          = var.node_tags
    local_zone         = var.local_zone
    regional           = var.regional
    api_endpoint       = var.api_endpoint
    token_url          = var.token_url
    extra              = var.extra
  })
}
