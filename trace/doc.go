// Package trace predicts the path of one packet from a client to a pod of a
// LoadBalancer Service, and back: every hop, every rewrite of its addresses,
// the component that makes it (the VPC's 1:1 NAT, the VPC firewall, a
// forwarding rule, kube-proxy's DNAT and masquerade, a VPC route, the pod),
// and, when the packet would be dropped, where, why and what to change.
//
// Its input is a plain value (Input): the Service, its EndpointSlices, the
// nodes and the compute objects this project created for it, as read from
// the two APIs by package trace/observe. Run is a pure function of it: no
// client, no clock, no randomness. Where the data path chooses at random (a
// forwarding rule's backend, kube-proxy's endpoint), the trace takes the
// first candidate by name and says which others there were.
//
// The model is GCE's documented data path, as the packet lab's fake VPC
// implements it: 1:1 NAT of instances' external addresses, passthrough
// forwarding rules (destination unchanged), a stateful ingress firewall
// evaluated after the NAT (EvaluateIngress, in firewall.go), per-node pod
// CIDR routes; and kube-proxy's handling of load balancer addresses
// (externalTrafficPolicy Cluster masquerades, Local keeps the client's
// address and drops on nodes without a local endpoint).
//
// trace never performs I/O and never changes its input.
package trace
