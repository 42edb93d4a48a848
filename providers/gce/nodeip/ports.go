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

// reservedPort finds the first of the Service's ports that is reserved, of
// any protocol: a nodeip Service listens on every published node, so a
// reserved port would take over SSH, etcd, the API server or the kubelet
// there.
func reservedPort(ports []protoPort, reserved []PortRange) (protoPort, PortRange, bool) {
	for _, p := range ports {
		for _, r := range reserved {
			if p.Port >= r.From && p.Port <= r.To {
				return p, r, true
			}
		}
	}
	return protoPort{}, PortRange{}, false
}

func (r PortRange) String() string {
	if r.From == r.To {
		return fmt.Sprint(r.From)
	}
	return fmt.Sprintf("%d-%d", r.From, r.To)
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
func resolvePortConflicts(claims []claim) map[string]portConflict {
	sorted := slices.Clone(claims)
	slices.SortStableFunc(sorted, older)
	type slot struct {
		node string
		port protoPort
	}
	held := map[slot]string{}
	losers := map[string]portConflict{}
	for _, c := range sorted {
		lost := false
		for _, p := range c.Ports {
			for _, n := range c.Nodes {
				if w, ok := held[slot{n, p}]; ok {
					losers[c.Service] = portConflict{Winner: w, Port: p, Node: n}
					lost = true
					break
				}
			}
			if lost {
				break
			}
		}
		if lost {
			continue
		}
		for _, p := range c.Ports {
			for _, n := range c.Nodes {
				held[slot{n, p}] = c.Service
			}
		}
	}
	return losers
}
