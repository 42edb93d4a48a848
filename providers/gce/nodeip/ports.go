package nodeip

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	v1 "k8s.io/api/core/v1"
)

// protoPort is a Service port as kube-proxy matches it on a node address.
type protoPort struct {
	Protocol v1.Protocol
	Port     int32
}

func (p protoPort) String() string { return fmt.Sprintf("%s/%d", p.Protocol, p.Port) }

func compareProtoPorts(a, b protoPort) int {
	return cmp.Or(strings.Compare(string(a.Protocol), string(b.Protocol)), cmp.Compare(a.Port, b.Port))
}

// portsOf are the Service's protocols and ports, sorted and without repeats.
// An empty protocol is TCP, as the API server defaults it.
func portsOf(svc *v1.Service) []protoPort {
	var out []protoPort
	for _, p := range svc.Spec.Ports {
		proto := p.Protocol
		if proto == "" {
			proto = v1.ProtocolTCP
		}
		out = append(out, protoPort{proto, p.Port})
	}
	slices.SortFunc(out, compareProtoPorts)
	return slices.Compact(out)
}

// reservedPort finds the first of the Service's ports that is reserved: a
// nodeip Service listens on every published node, so a reserved port would
// take over SSH, etcd, the API server, the kubelet, an overlay's tunnel or
// a BGP session there. A range without a protocol reserves every protocol.
func reservedPort(ports []protoPort, reserved []PortRange) (protoPort, PortRange, bool) {
	for _, p := range ports {
		for _, r := range reserved {
			if r.contains(p) {
				return p, r, true
			}
		}
	}
	return protoPort{}, PortRange{}, false
}

func (r PortRange) contains(p protoPort) bool {
	return p.Port >= r.From && p.Port <= r.To && (r.Protocol == "" || r.Protocol == p.Protocol)
}

// String is "8472/UDP", "2379-2380/TCP", or "30000-32767" for every
// protocol.
func (r PortRange) String() string {
	s := fmt.Sprint(r.From)
	if r.From != r.To {
		s = fmt.Sprintf("%d-%d", r.From, r.To)
	}
	if r.Protocol != "" {
		s += "/" + string(r.Protocol)
	}
	return s
}

// nodePortsOf are the ports kube-proxy opens on every node for the Service
// whatever its address: its NodePorts, and its health check node port
// (TCP; kube-proxy's health server for externalTrafficPolicy: Local).
func nodePortsOf(svc *v1.Service) []protoPort {
	var out []protoPort
	for _, p := range svc.Spec.Ports {
		if p.NodePort != 0 {
			out = append(out, protoPort{cmp.Or(p.Protocol, v1.ProtocolTCP), p.NodePort})
		}
	}
	if svc.Spec.HealthCheckNodePort != 0 {
		out = append(out, protoPort{v1.ProtocolTCP, svc.Spec.HealthCheckNodePort})
	}
	slices.SortFunc(out, compareProtoPorts)
	return slices.Compact(out)
}

// shadowedNodePort finds the first of the Service's ports that is another
// Service's NodePort or health check node port: kube-proxy matches a
// load-balancer IP and port before it matches a NodePort (KUBE-SERVICES
// before KUBE-NODEPORTS), so on every published node that NodePort would
// reach this Service instead. nodePorts are the Services that use each
// port as a node port, by namespace/name; self is this Service's key.
func shadowedNodePort(ports []protoPort, nodePorts map[protoPort][]string, self string) (protoPort, string, bool) {
	for _, p := range ports {
		for _, owner := range nodePorts[p] {
			if owner != self {
				return p, owner, true
			}
		}
	}
	return protoPort{}, "", false
}

// claim is what a Service would publish if nobody stood in its way: its
// ports on its nodes.
type claim struct {
	Service string // namespace/name
	UID     string
	Created time.Time
	Ports   []protoPort
	Nodes   []string // sorted
}

// older orders claims by age: creation time, then UID, so that every
// controller replica and every reconcile agrees on it.
func older(a, b claim) int {
	return cmp.Or(a.Created.Compare(b.Created), strings.Compare(a.UID, b.UID))
}

// portConflict is why a Service publishes nothing: an older Service
// publishes the same protocol and port on a node both would use.
type portConflict struct {
	Winner string // namespace/name of the older Service
	Port   protoPort
	Node   string
}

// resolvePortConflicts decides which Services keep their ports. Two
// Services that publish one protocol and port on one node cannot both
// work: kube-proxy would send nodeIP:port to one of them. The claims are
// taken oldest first; a claim that touches a node and port an earlier
// winner holds loses whole (a Service is published on all its nodes or on
// none) and holds nothing, so that it stands in nobody's way. It returns
// the losers, by Service.
//
// The winners are indexed by port, each holding its sorted node list once:
// the memory is the claims' ports plus their nodes, never ports times
// nodes (a Service of thousands of ports on a hundred nodes would need
// hundreds of thousands of entries), and the time is, per port of a claim,
// a merge of sorted node lists with each earlier winner of that port.
func resolvePortConflicts(claims []claim) map[string]portConflict {
	sorted := slices.Clone(claims)
	slices.SortStableFunc(sorted, older)
	held := map[protoPort][]*claim{}
	losers := map[string]portConflict{}
	for i := range sorted {
		c := &sorted[i]
		if lost, ok := firstOverlap(c, held); ok {
			losers[c.Service] = lost
			continue
		}
		for _, p := range c.Ports {
			held[p] = append(held[p], c)
		}
	}
	return losers
}

// firstOverlap is the first port, in the claim's order, that a winner in
// held publishes on one of the claim's nodes.
func firstOverlap(c *claim, held map[protoPort][]*claim) (portConflict, bool) {
	for _, p := range c.Ports {
		for _, w := range held[p] {
			if n, ok := firstCommon(c.Nodes, w.Nodes); ok {
				return portConflict{Winner: w.Service, Port: p, Node: n}, true
			}
		}
	}
	return portConflict{}, false
}

// firstCommon is the first name of a that b also has; both are sorted.
func firstCommon(a, b []string) (string, bool) {
	for i, j := 0, 0; i < len(a) && j < len(b); {
		switch c := strings.Compare(a[i], b[j]); {
		case c == 0:
			return a[i], true
		case c < 0:
			i++
		default:
			j++
		}
	}
	return "", false
}
