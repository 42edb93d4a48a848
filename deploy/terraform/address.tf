# A regional external address for a LoadBalancer Service, kept across the
# Service's life: annotate the Service with
# cloud-provider-vpc.io/static-address: <address_name>. The CCM uses an address
# it did not make but never releases it; terraform destroy does.
resource "google_compute_address" "lb" {
  count        = var.reserve_address ? 1 : 0
  project      = var.project_id
  region       = var.region
  name         = coalesce(var.address_name, "${var.cluster_name}-lb")
  address_type = "EXTERNAL"
  labels       = local.labels
}
