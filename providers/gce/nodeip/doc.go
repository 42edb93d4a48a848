// Package nodeip is the nodeip mode of LoadBalancer Services: no cloud load
// balancer, but the nodes' own addresses in status.loadBalancer and VPC
// firewall rules that let clients reach them on the Service's ports: one
// per IP family, as the compute API refuses a rule that mixes IPv4 and
// IPv6 ranges.
// kube-proxy programs every status.loadBalancer.ingress IP (ipMode VIP) and
// DNATs nodeIP:port to the Service's endpoints.
//
// The Controller serves Services of the class cloud-provider-vpc.io/nodeip
// and class-less Services in nodeip mode (annotations.ModeOf); the gce
// provider answers cloudprovider.ImplementedElsewhere for the latter, after
// it released whatever the external mode made for the Service (in the
// service controller's sync of the Service, so never beside an ensure in
// flight): this package never touches the external mode's resources, and
// the external mode never touches its rules (firewall.ForNodeIP). Its
// answer for a Service is a pure function of the Service, the nodes, the
// Service's EndpointSlices and the Services that share its ports (answer.go
// and the files it calls); the controller observes, computes that answer,
// and writes only what differs: a JSON patch of status.loadBalancer that
// tests the resourceVersion it was computed from, and the firewall rules
// through firewall.Diff and firewall.Apply against an in-memory view of
// its rules, so that a reconcile that changes nothing calls no API.
//
// Two work queues, both keyed by Service: status (Kubernetes only, cheap)
// and firewall (the cloud, slow), so that a slow cloud delays the opening
// of a firewall but never the taking back of an address.
//
// Order of writes: the firewall opens to a node before the node's address
// is published, and an address is unpublished before the firewall closes,
// so a published address always has an open firewall.
//
// nodeip never publishes an address and never opens a firewall for a
// Service asking for a reserved port, or for a port another, older nodeip
// Service already publishes on the same nodes; it never writes to a Service
// in external mode except to take back node addresses it published itself,
// and never changes a firewall rule without this cluster's marker.
package nodeip
