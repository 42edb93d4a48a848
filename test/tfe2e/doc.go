// Package tfe2e tests deploy/terraform with OpenTofu (built by
// hack/build-tofu.sh into _output/bin/tofu): that it is formatted, that the
// cloud config it renders is exactly what the CCM reads, and, when
// TF_PROVIDER_MIRROR names a folder holding the Google provider, the whole
// path of a terraform-built cluster: apply against fake-gce, a second plan
// with no changes, kube-controller-manager, kube-scheduler and hollow
// kubelets (the real kubelet code) registering the instances, the CCM
// initialising them and serving a LoadBalancer Service on the reserved
// address, and destroy leaving fake-gce empty. Run it with make tf-e2e.
//
// It never lets tofu reach a registry or the network: providers come only
// from the mirror (a CLI config written for the run), and the provider's one
// request outside the custom endpoint goes to a proxy that is not there.
package tfe2e
