terraform {
  # OpenTofu 1.6+ or Terraform 1.5+: optional object attributes with
  # defaults, startswith().
  required_version = ">= 1.5"

  required_providers {
    google = {
      source = "hashicorp/google"
      # The requests of 7.45.0 are replayed against fake-gce in
      # test/fakegce/terraform_replay_test.go.
      version = ">= 7.0, < 8.0"
    }
  }
}
