package nodeip

import (
	"cmp"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	v1 "k8s.io/api/core/v1"
)

// capTargets keeps at most max targets (all when max is 0), chosen by
// rendezvous (highest random weight) hashing of the Service UID with each
// node name. Each node's weight depends on the Service and the node alone,
// so a node joining or leaving changes the subset only if it is, or would
// be, in it; different Services spread over different nodes. The result is
// sorted by node name.
func capTargets(uid string, targets []target, max int) []target {
	if max <= 0 || len(targets) <= max {
		return targets
	}
	type weighted struct {
		t target
		w uint64
	}
	ws := make([]weighted, len(targets))
	for i, t := range targets {
		ws[i] = weighted{t, rendezvousWeight(uid, t.Node)}
	}
	slices.SortFunc(ws, func(a, b weighted) int {
		return cmp.Or(cmp.Compare(b.w, a.w), strings.Compare(a.t.Node, b.t.Node))
	})
	out := make([]target, 0, max)
	for _, w := range ws[:max] {
		out = append(out, w.t)
	}
	slices.SortFunc(out, func(a, b target) int { return strings.Compare(a.Node, b.Node) })
	return out
}

func rendezvousWeight(uid, node string) uint64 {
	sum := sha256.Sum256([]byte(uid + "\x00" + node))
	return binary.BigEndian.Uint64(sum[:8])
}

// ingressOf is the status.loadBalancer.ingress for the targets: the
// addresses of the Service's first IP family, then of its second, each
// family sorted by address. Every entry says ipMode VIP: kube-proxy then
// routes the address to the Service inside the node, which is what makes
// nodeip work (KEP-1860; the default is VIP too, but nodeip does not lean
// on a default).
func ingressOf(targets []target, families []v1.IPFamily) []v1.LoadBalancerIngress {
	var out []v1.LoadBalancerIngress
	vip := v1.LoadBalancerIPModeVIP
	for _, fam := range families {
		var addrs []netip.Addr
		for _, t := range targets {
			for _, a := range t.Addresses {
				if familyOf(a) == fam {
					addrs = append(addrs, a)
				}
			}
		}
		slices.SortFunc(addrs, netip.Addr.Compare)
		for _, a := range slices.Compact(addrs) {
			out = append(out, v1.LoadBalancerIngress{IP: a.String(), IPMode: &vip})
		}
	}
	return out
}

// ingressString renders ingress entries for an event: "none", or the IPs
// separated by commas, the tail elided after a few.
func ingressString(in []v1.LoadBalancerIngress) string {
	if len(in) == 0 {
		return "none"
	}
	const show = 8
	var parts []string
	for i, e := range in {
		if i == show {
			parts = append(parts, fmt.Sprintf("and %d more", len(in)-show))
			break
		}
		parts = append(parts, cmp.Or(e.IP, e.Hostname))
	}
	return strings.Join(parts, ", ")
}
