resource "google_compute_instance" "node" {
  for_each = var.nodes

  project        = var.project_id
  zone           = each.value.zone
  name           = each.key
  machine_type   = coalesce(each.value.machine_type, var.machine_type)
  can_ip_forward = var.can_ip_forward
  tags           = each.value.role == "control-plane" ? [var.node_tag, var.control_plane_tag] : [var.node_tag]
  labels         = merge(local.labels, { role = each.value.role })
  metadata       = var.metadata

  # Changing the machine type or the service account stops the instance
  # instead of failing the apply.
  allow_stopping_for_update = true

  boot_disk {
    initialize_params {
      image = var.image
      size  = var.boot_disk_size_gb
    }
  }

  network_interface {
    subnetwork = google_compute_subnetwork.nodes.id

    dynamic "access_config" {
      for_each = var.external_ips ? [1] : []
      content {}
    }
  }

  dynamic "service_account" {
    for_each = each.value.role == "control-plane" && var.control_plane_service_account != null ? [var.control_plane_service_account] : []
    content {
      email  = service_account.value.email
      scopes = service_account.value.scopes
    }
  }
}
