package dataplane

import (
	"net/netip"
	"time"
)

// Plan is what the vpc namespace should do, compiled from fake-gce's state by
// Compile. It is plain data: the renderers turn it into nftables rules and
// netlink routes; tests compare it with go-cmp.
type Plan struct {
	// NAT is the 1:1 NAT of every running instance with an external address.
	NAT []NAT
	// ForwardingRules are the passthrough load balancers.
	ForwardingRules []ForwardingRule
	// Firewall is the ingress firewall in evaluation order: ascending
	// priority, deny before allow at equal priority. Anything none of them
	// matches is denied.
	Firewall []FirewallRule
	// Firewall6 are the rules of IPv6 sources, in the same order, for IPv6
	// packets (the health checkers' IPv6 probes). Their Targets are still
	// the instances' internal IPv4 addresses, which name the links to them.
	Firewall6 []FirewallRule
	// Routes are the VPC's routes that lead to an address inside the VPC.
	Routes []Route
	// Probes are the health checks to run, one per (check, backend instance).
	Probes []Probe
}

// NAT maps an instance's external address (accessConfigs[0].natIP) to its
// internal one (networkIP).
type NAT struct {
	External netip.Addr
	Internal netip.Addr
}

// Protocol is an IP protocol number; 0 stands for every protocol (a firewall
// entry "all", a forwarding rule L3_DEFAULT).
type Protocol uint8

// PortRange is an inclusive range of ports; a single port has First == Last.
type PortRange struct {
	First, Last uint16
}

// ForwardingRule is a regional passthrough forwarding rule: new flows to
// IP, Protocol and Ports go to one of Serving, destination unchanged.
type ForwardingRule struct {
	Name string
	IP   netip.Addr
	// Internal: an internal passthrough load balancer, which only flows
	// from the VPC's instances reach; an external one takes flows from the
	// client side.
	Internal bool
	Protocol Protocol
	Ports    []PortRange // nil: every port
	// Backends are the instances behind the rule (a target pool's instances,
	// or the members of a backend service's instance groups), by address.
	Backends []Backend
	// Serving are the backends that receive new flows: the healthy ones, or
	// all of them when none is healthy (GCE's failover when every backend fails).
	Serving []netip.Addr
	// Affinity is what a new flow's backend is chosen by, from the target
	// pool's or backend service's sessionAffinity; "" is the 5-tuple.
	Affinity Affinity
}

// Affinity is the part of a flow that picks its backend.
type Affinity string

const (
	AffinityClientIP      Affinity = "CLIENT_IP"       // source and destination address
	AffinityClientIPProto Affinity = "CLIENT_IP_PROTO" // and the protocol
)

// Backend is one instance behind a forwarding rule.
type Backend struct {
	Instance string // the instance's path, projects/P/zones/Z/instances/N
	IP       netip.Addr
	Healthy  bool
}

// Action is what a firewall rule does with a flow it matches.
type Action string

const (
	Allow Action = "allow"
	Deny  Action = "deny"
)

// FirewallRule is one ingress firewall rule, resolved to addresses: a flow
// matches when its source is in Sources, it enters one of Targets, its
// destination is in Destinations (when set) and one entry of Match matches.
type FirewallRule struct {
	Name     string
	Priority int64
	Action   Action
	// Sources are sourceRanges plus the internal addresses of the instances
	// that sourceTags or sourceServiceAccounts name.
	Sources []netip.Prefix
	// Destinations are destinationRanges; nil matches every destination.
	Destinations []netip.Prefix
	// Targets are the internal (IPv4) addresses of the instances the rule
	// applies to.
	Targets []netip.Addr
	// Match holds one entry per allowed (or denied) protocol and ports.
	Match []ProtocolPorts
}

// ProtocolPorts is one allowed[] or denied[] entry of a firewall rule.
type ProtocolPorts struct {
	Protocol Protocol    // 0: every protocol
	Ports    []PortRange // nil: every port
}

// Route sends Destination to NextHop, an address inside the VPC.
type Route struct {
	Name        string
	Destination netip.Prefix
	NextHop     netip.Addr
}

// Probe is one health check of one backend instance, as GCE's checkers run it.
type Probe struct {
	Check    string // the health check's path
	Instance string // the instance's path
	Target   netip.AddrPort
	// Source is the checker address the probe comes from; the VPC firewall
	// must allow it, as in GCE.
	Source netip.Addr
	// HTTPPath is the request path of an HTTP check; empty for a TCP connect.
	HTTPPath string
	// Host is the Host header of an HTTP check; empty sends the target address.
	Host               string
	Interval, Timeout  time.Duration
	HealthyThreshold   int
	UnhealthyThreshold int
}

// HealthKey names one probe result: a health check of an instance, by path,
// over IPv4 or, for the backends of an IPv6 forwarding rule, over IPv6. GCE
// keeps the two apart (a backend's healthState and ipv6HealthState in
// backendServices.getHealth), and an IPv4 rule's backends are judged by
// the IPv4 results alone.
type HealthKey struct {
	Check, Instance string
	IPv6            bool
}

// key is the result a probe decides.
func (p Probe) key() HealthKey {
	return HealthKey{Check: p.Check, Instance: p.Instance, IPv6: p.Source.Is6()}
}
