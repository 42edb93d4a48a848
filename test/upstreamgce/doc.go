// Package upstreamgce drives the upstream GCE cloud provider
// (k8s.io/cloud-provider-gcp/providers/gce, the provider GKE's own
// cloud-controller-manager is built from) against fake-gce, so that a client
// nobody in this project wrote judges the fake.
//
// For an external load balancer (target pool, HTTP health check, firewall
// rules, address) and an internal one (the annotation
// networking.gke.io/load-balancer-type: Internal: instance groups, regional
// backend service, health check, firewall rules, address) the tests run what
// the service controller asks of a provider: EnsureLoadBalancer,
// GetLoadBalancer, EnsureLoadBalancer again with nothing changed,
// UpdateLoadBalancer with another set of nodes, EnsureLoadBalancerDeleted.
// No step may fail, the status must carry the forwarding rule's IP, the
// IP must survive the resync, the targets must follow the nodes, and at the
// end fake-gce must hold exactly what it held before the first step
// (operations aside).
//
// What is real: fake-gce runs as a process built from the main module
// (./cmd/fake-gce) on a loopback port chosen at run time, with a required
// bearer token that the provider fetches from fake-gce's metadata server
// (GCE_METADATA_HOST), and the provider is built by gce.CreateGCECloud
// with fake-gce as its api-endpoint. The Kubernetes side is client-go's fake
// clientset: the provider keeps its cluster ID in a ConfigMap and the
// internal load balancer's finalizer on the Service there.
//
// Two things a user of another endpoint meets, which fake-gce reproduces
// because the real API does them too: the provider builds network and
// subnetwork links from the api-endpoint when given names, and the API
// answers every link rooted at https://www.googleapis.com/compute/v1/; the
// internal load balancer compares its subnetwork link with the rule's as
// strings, so with a subnetwork name every resync would recreate the rule
// and move the address. The internal test names the subnetwork by its
// canonical URL, as gce.conf's subnetwork-name allows.
//
// This is a module of its own, because the provider's only published
// release (v0.28.2) needs the k8s.io v0.28 modules and
// google.golang.org/api v0.151, which cannot share a build with the main
// module's k8s.io v0.37; it never imports the main module. Run it with
// `make upstream-gce` (part of `make test`). From an empty module cache its
// modules (about 600 MB) downloaded in 72 s here; the tests themselves run
// in under a minute.
package upstreamgce
