package trace

import "net/netip"

// The JSON form of a Trace is part of the command's interface
// (kubectl vpc trace -o json, documented in docs/trace.md): field names
// only ever get added.

// Trace is the predicted path of one packet and of its reply.
type Trace struct {
	// Service is namespace/name.
	Service string `json:"service"`
	// Mode is external or nodeip.
	Mode string `json:"mode"`
	// ExternalTrafficPolicy is Cluster or Local.
	ExternalTrafficPolicy string `json:"externalTrafficPolicy"`
	// KubeProxyMode is the mode of kube-proxy the trace follows: iptables
	// or nftables.
	KubeProxyMode string `json:"kubeProxyMode"`
	// KubeProxyModeSource says where the mode was read (ConfigMap
	// kube-system/kube-proxy), or that it is assumed.
	KubeProxyModeSource string `json:"kubeProxyModeSource"`
	Port                Port   `json:"port"`
	// Client is where the packet comes from; Destination the address the
	// client connects to.
	Client      netip.AddrPort `json:"client"`
	Destination netip.AddrPort `json:"destination"`
	// Node is the node the packet enters ("" when it reaches none).
	Node string `json:"node,omitempty"`
	// Endpoint is the endpoint traced, one of Endpoints.
	Endpoint *Endpoint `json:"endpoint,omitempty"`
	Hops     []Hop     `json:"hops"`
	// Reply is the way back, when the packet is delivered.
	Reply []Hop `json:"reply,omitempty"`
	// Outcome is delivered, dropped or rejected.
	Outcome string `json:"outcome"`
	Drop    *Drop  `json:"drop,omitempty"`
	// Backends are the load balancer's backends (external mode).
	Backends []Backend `json:"backends,omitempty"`
	// Endpoints are the endpoints kube-proxy on Node picks from at random.
	Endpoints []Endpoint `json:"endpoints,omitempty"`
	// Notes say what the trace chose and what else could happen.
	Notes []string `json:"notes,omitempty"`
	// Rewrites counts the addresses rewritten on the way in and back.
	Rewrites Rewrites `json:"rewrites"`
}

// Rewrites counts the changes of the packet's addresses in each
// direction: a hop that rewrites both source and destination counts two.
// The way back undoes the way in, so the two usually match; they are
// reported apart so that a count of the way in (client to pod) is not
// mistaken for one that includes the reply's undoing.
type Rewrites struct {
	Forward int `json:"forward"`
	Reply   int `json:"reply"`
}

// Outcomes.
const (
	Delivered = "delivered"
	Dropped   = "dropped"
	Rejected  = "rejected"
)

// Port is the Service port traced.
type Port struct {
	Name     string `json:"name,omitempty"`
	Protocol string `json:"protocol"`
	Port     int32  `json:"port"`
}

// Hop is one step of the packet.
type Hop struct {
	// N numbers the hops from 1, in each direction.
	N int `json:"n"`
	// Component is what acts on the packet: client, VPC NAT, VPC firewall,
	// forwarding rule, kube-proxy DNAT, kube-proxy SNAT (masquerade),
	// kube-proxy conntrack, node route, pod.
	Component string `json:"component"`
	// At is where the packet is (Client, VPC, a node's name, pod), Next
	// where it goes after this hop.
	At   string `json:"at"`
	Next string `json:"next"`
	// Before and After are the packet's addresses; they differ when the
	// hop rewrites them.
	Before Flow `json:"before"`
	After  Flow `json:"after"`
	// Verdict is sent, forwarded, allowed, rewritten, routed, delivered,
	// received, dropped or rejected.
	Verdict string `json:"verdict"`
	// Description says what happens, naming the resource that decides.
	Description string `json:"description"`
}

// Rewrites reports whether the hop changes the packet's addresses.
func (h Hop) Rewrites() bool { return h.Before != h.After }

// Flow is a packet's protocol and addresses. A port of 0 is one the kernel
// picks at random (kube-proxy's masquerade), shown as "*".
type Flow struct {
	Protocol string         `json:"protocol"`
	Src      netip.AddrPort `json:"src"`
	Dst      netip.AddrPort `json:"dst"`
}

// String is "SRC -> DST" ("?" for an address not known yet).
func (f Flow) String() string { return addrPortText(f.Src) + " -> " + addrPortText(f.Dst) }

func addrPortText(a netip.AddrPort) string {
	switch {
	case !a.IsValid():
		return "?"
	case a.Port() == 0 && a.Addr().Is4():
		return a.Addr().String() + ":*"
	case a.Port() == 0:
		return "[" + a.Addr().String() + "]:*"
	}
	return a.String()
}

// Drop says where the packet is lost, why, and what to change.
type Drop struct {
	// Hop is the number of the hop that drops it.
	Hop       int      `json:"hop"`
	Component string   `json:"component"`
	At        string   `json:"at"`
	Reason    string   `json:"reason"`
	Fix       []string `json:"fix,omitempty"`
}

// Backend is one backend instance of the load balancer and its health as
// the trace predicts it.
type Backend struct {
	Node     string `json:"node,omitempty"`
	Instance string `json:"instance"`
	Healthy  bool   `json:"healthy"`
	Reason   string `json:"reason"`
}

// Endpoint is a Service endpoint as kube-proxy uses it.
type Endpoint struct {
	Pod     string         `json:"pod,omitempty"`
	Node    string         `json:"node,omitempty"`
	Address netip.AddrPort `json:"address"`
}
