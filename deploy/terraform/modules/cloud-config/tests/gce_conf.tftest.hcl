# tofu test (no provider needed): the exact gce.conf for fake-gce and for a
# real project, and the inputs that are refused. test/tfe2e also feeds the
# rendered file to the CCM's own parser.

variables {
  project_id      = "fake-project"
  network_name    = "tf-e2e-vpc"
  subnetwork_name = "tf-e2e-nodes"
  node_tags       = ["k8s-node"]
  local_zone      = "us-central1-a"
}

run "fake_gce" {
  command = apply

  variables {
    regional     = true
    api_endpoint = "http://127.0.0.1:8085/compute/v1/"
    token_url    = "nil"
  }

  assert {
    condition     = output.gce_conf == <<-EOT
      # gce.conf for vpc-cloud-controller-manager, rendered by deploy/terraform.
      # The keys are explained in docs/cloud-config.md.
      [global]
      project-id = fake-project
      network-name = tf-e2e-vpc
      subnetwork-name = tf-e2e-nodes
      node-tags = k8s-node
      local-zone = us-central1-a
      regional = true
      api-endpoint = http://127.0.0.1:8085/compute/v1/
      token-url = nil
    EOT
    error_message = "Unexpected gce.conf for fake-gce:\n${output.gce_conf}"
  }
}

run "shared_vpc" {
  command = apply

  variables {
    project_id         = "service-project"
    network_project_id = "host-project"
    network_name       = "shared"
    subnetwork_name    = "nodes"
  }

  assert {
    condition     = output.gce_conf == <<-EOT
      # gce.conf for vpc-cloud-controller-manager, rendered by deploy/terraform.
      # The keys are explained in docs/cloud-config.md.
      [global]
      project-id = service-project
      network-project-id = host-project
      network-name = shared
      subnetwork-name = nodes
      node-tags = k8s-node
      local-zone = us-central1-a
      regional = false
    EOT
    error_message = "Unexpected gce.conf for a Shared VPC:\n${output.gce_conf}"
  }
}

run "real_project_one_zone_with_a_load_balancer_section" {
  command = apply

  variables {
    project_id = "my-project"
    node_tags  = ["k8s-node", "k8s-extra"]
    local_zone = "europe-west1-b"
    extra      = "[load-balancer]\nmode = nodeip\n"
  }

  assert {
    condition     = output.gce_conf == <<-EOT
      # gce.conf for vpc-cloud-controller-manager, rendered by deploy/terraform.
      # The keys are explained in docs/cloud-config.md.
      [global]
      project-id = my-project
      network-name = tf-e2e-vpc
      subnetwork-name = tf-e2e-nodes
      node-tags = k8s-node
      node-tags = k8s-extra
      local-zone = europe-west1-b
      regional = false

      [load-balancer]
      mode = nodeip
    EOT
    error_message = "Unexpected gce.conf for a real project:\n${output.gce_conf}"
  }
}

run "an_endpoint_with_a_comment_character_is_refused" {
  command = plan

  variables {
    api_endpoint = "http://127.0.0.1:8085/compute/v1/#x"
  }

  expect_failures = [var.api_endpoint]
}

run "a_token_url_that_is_neither_nil_nor_a_url_is_refused" {
  command = plan

  variables {
    token_url = "none"
  }

  expect_failures = [var.token_url]
}

run "a_bad_node_tag_is_refused" {
  command = plan

  variables {
    node_tags = ["K8s_Node"]
  }

  expect_failures = [var.node_tags]
}
