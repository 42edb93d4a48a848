package trace

import (
	"net/netip"

	"google.golang.org/api/compute/v1"
	v1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/ownership"
)

// The client a trace starts from when the caller names none: an address of
// the documentation ranges (RFC 5737, RFC 3849), as the packet lab's client
// uses.
var (
	DefaultClient     = netip.MustParseAddrPort("198.51.100.10:40000")
	DefaultClientIPv6 = netip.MustParseAddrPort("[2001:db8::10]:40000")
)

// Input is everything a trace looks at.
type Input struct {
	Service        *v1.Service
	EndpointSlices []*discoveryv1.EndpointSlice
	Nodes          []*v1.Node
	Cloud          Cloud
	Settings       Settings

	// From is the client's address and port. Zero: DefaultClient, or
	// DefaultClientIPv6 for a Service of IPv6 alone. Its IP family is the
	// family traced.
	From netip.AddrPort
	// To is the address the client connects to. Zero: the Service's
	// published address (of ToNode, in nodeip mode). A node's external
	// address, for example, traces a client outside the VPC of a nodeip
	// Service that publishes internal addresses.
	To netip.Addr
	// Port is the Service port traced, by name or number; "" is the first.
	Port string
	// ToNode is the node the packet should reach: the load balancer's
	// backend (external mode) or the node whose address the client uses
	// (nodeip mode). "" lets the trace choose the first candidate.
	ToNode string
}

// Cloud holds the compute objects a trace reads. Objects the Service does
// not use may be present: the trace finds its own by address and link.
type Cloud struct {
	// Instances are the nodes' instances (and any other instance a route
	// or a firewall source may name).
	Instances []*compute.Instance
	// Firewalls are all the firewall rules of the project: any of them
	// can decide.
	Firewalls       []*compute.Firewall
	ForwardingRules []*compute.ForwardingRule
	TargetPools     []*compute.TargetPool
	BackendServices []*compute.BackendService
	// GroupMembers are the instance links of each instance group, by the
	// group's link.
	GroupMembers map[string][]string
	// HTTPHealthChecks are the legacy checks of target pools; HealthChecks
	// those of backend services (regional or global).
	HTTPHealthChecks []*compute.HttpHealthCheck
	HealthChecks     []*compute.HealthCheck
	Routes           []*compute.Route
	// NetworkRanges are the VPC's subnetwork ranges (primary and
	// secondary). A client in one of them, or at an instance's address, is
	// inside the VPC and reaches internal addresses; a client outside
	// reaches only external ones: forwarding rules and instances' natIPs.
	NetworkRanges []netip.Prefix
}

// Settings are the cluster's: what the CCM's flags and cloud config say.
type Settings struct {
	// Owner names the cluster's resources (--cluster-name).
	Owner ownership.Cluster
	// DefaultMode is [load-balancer] mode: external or nodeip.
	DefaultMode string
	// NodeIPAddressType is [load-balancer] nodeip-address-type
	// (InternalIP when empty).
	NodeIPAddressType v1.NodeAddressType
	// KubeProxyMode is kube-proxy's mode: iptables or nftables (the two
	// the trace models). "" is iptables, kube-proxy's default on Linux.
	KubeProxyMode string
	// KubeProxyModeSource says where KubeProxyMode was read, for example
	// "ConfigMap kube-system/kube-proxy"; "" when it was not read.
	KubeProxyModeSource string
}
