package nodeip

import (
	"net/netip"
	"time"

	v1 "k8s.io/api/core/v1"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/computeclient"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/ownership"
)

// Deps is what the controller needs from the cloud provider. The gce
// provider fills it (gce.Cloud.NodeIPDeps), so that this package does not
// import the provider.
type Deps struct {
	// Compute is the compute client; nodeip calls the API through it alone.
	Compute *computeclient.Client
	// Owner names and marks the cluster's cloud resources.
	Owner ownership.Cluster
	// Network is the full link of the nodes' VPC network.
	Network string
	// NodeTags are the nodes' network tags, the firewall rules' targets.
	NodeTags []string
	// FirewallName names the IPv4 firewall rule of the Service with this
	// UID, and FirewallNameIPv6 its IPv6 rule: the compute API refuses a
	// rule that mixes the families, so a dual-stack Service has two. They
	// are ownership.NodeIPFirewallName and ownership.NodeIPFirewallNameIPv6, so that
	// the provider's EnsureLoadBalancerDeleted finds them too.
	FirewallName     func(serviceUID string) string
	FirewallNameIPv6 func(serviceUID string) string
	// Defaults are the cloud config's [load-balancer] settings.
	Defaults Defaults
}

// Defaults are the cloud config's settings for nodeip Services; Service
// annotations override some of them.
type Defaults struct {
	// Mode is the mode of a Service that names none: annotations.ModeExternal
	// or annotations.ModeNodeIP.
	Mode string
	// AddressType is the node address published: InternalIP or ExternalIP.
	AddressType v1.NodeAddressType
	// SourceRanges are where clients may come from when the Service says nothing.
	SourceRanges []netip.Prefix
	// ReservedPorts no nodeip Service may take.
	ReservedPorts []PortRange
	// NodePortRange is the cluster's NodePort range (kube-apiserver
	// --service-node-port-range), reserved for every protocol: kube-proxy
	// would send a published node's NodePort to the nodeip Service.
	NodePortRange PortRange
	// MaxPorts is the most protocol and port pairs one Service may ask
	// for (0: DefaultMaxPorts). A decision's work and the firewall rule's
	// size grow with it.
	MaxPorts int
	// NodeSelector is a label selector for the nodes published ("" for
	// all). A Service's own selector is added to it, never put in its
	// place (nodeCeiling).
	NodeSelector string
	// PublishControlPlane lets control-plane nodes (labelControlPlane)
	// be published; by default no Service may reach them.
	PublishControlPlane bool
}

// PortRange is an inclusive range of ports of one protocol, or of every
// protocol when Protocol is empty.
type PortRange struct {
	From, To int32
	Protocol v1.Protocol
}

// DefaultNodePortRange is kube-apiserver's default
// --service-node-port-range, reserved when Defaults name no range.
func DefaultNodePortRange() PortRange { return PortRange{From: 30000, To: 32767} }

// alwaysReserved are ports no cloud config frees: the kubelet's API,
// kube-proxy's health server (the external load balancers' health checks
// ask it) and this CCM's secure port, on every node.
func alwaysReserved() []PortRange {
	return []PortRange{
		{From: 10250, To: 10250, Protocol: v1.ProtocolTCP},
		{From: 10256, To: 10256, Protocol: v1.ProtocolTCP},
		{From: 10258, To: 10258, Protocol: v1.ProtocolTCP},
	}
}

// DefaultMaxPorts is the most ports a Service may ask for unless the
// cloud config says otherwise: the external mode's cap too.
const DefaultMaxPorts = 100

// Options tune the controller.
type Options struct {
	// StatusWorkers reconcile Service status in parallel (default
	// DefaultWorkers).
	StatusWorkers int
	// FirewallWorkers apply firewall rules in parallel (default
	// DefaultWorkers).
	FirewallWorkers int
	// ResyncInterval is how often the in-memory view of the controller's
	// firewall rules is re-read with one list, so that a rule changed by
	// hand is put back (default 10m).
	ResyncInterval time.Duration
}

// DefaultWorkers is how many Services each queue reconciles at once unless
// Options say otherwise.
const DefaultWorkers = 4

func (o Options) withDefaults() Options {
	if o.StatusWorkers <= 0 {
		o.StatusWorkers = DefaultWorkers
	}
	if o.FirewallWorkers <= 0 {
		o.FirewallWorkers = DefaultWorkers
	}
	if o.ResyncInterval <= 0 {
		o.ResyncInterval = 10 * time.Minute
	}
	return o
}
