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
// implements it: 1:1 NAT of instances' external addresses (a VM of the
// VPC reaches an external load balancer through its own), passthrough
// forwarding rules (destination unchanged), health checks from GCE's probe
// ranges of the load balancer's kind and IP family, a stateful firewall of
// ingress and egress rules (EvaluateIngress and EvaluateEgress, in
// firewall.go), per-node pod CIDR routes; and kube-proxy v1.37's handling
// of load balancer addresses in the mode it runs in (iptables or nftables):
// externalTrafficPolicy Cluster masquerades, Local keeps the client's
// address and drops on nodes without a local endpoint, a node's or a pod's
// packet is DNATed on its own node, and its health check node port counts
// ready endpoints only. Each rule cites its source where it is coded.
//
// trace never performs I/O and never changes its input.
package trace
