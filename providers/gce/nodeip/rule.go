package nodeip

import (
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"google.golang.org/api/compute/v1"
	v1 "k8s.io/api/core/v1"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/firewall"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/ownership"
)

// ruleParams are the parts of a firewall rule that come from the cloud.
type ruleParams struct {
	Owner    ownership.Cluster
	Network  string
	NodeTags []string
}

// ruleNames are the names of a Service's firewall rules, one per IP family.
type ruleNames struct{ IPv4, IPv6 string }

// of is the name of the rule of family f.
func (n ruleNames) of(f v1.IPFamily) string {
	if f == v1.IPv6Protocol {
		return n.IPv6
	}
	return n.IPv4
}

// all are both names, IPv4 first.
func (n ruleNames) all() []string { return []string{n.IPv4, n.IPv6} }

// desiredRules are the VPC firewall rules of a Service, one per IP family
// (the compute API refuses a rule that mixes IPv4 and IPv6 ranges), IPv4
// first: exactly its protocols and ports, from its source ranges of the
// family, to the targets' internal addresses of the family (the 1:1 NAT of
// an external address happens before the firewall, so the internal address
// is the destination either way; IPv6 has no NAT, so there it is the
// published address itself: targetOf), on instances with the node tags. A family
// without destinations or without sources has no rule. The description
// carries the cluster's marker, the Service's UID, so that
// firewall.CollectGarbage removes both once the Service is gone, and the
// nodeip mode, so that the external mode's reconcile of the same Service
// leaves them alone (firewall.Scope). It is pure.
func desiredRules(svc *v1.Service, names ruleNames, ports []protoPort, targets []target, sources firewall.Sources, p ruleParams) []firewall.Rule {
	var out []firewall.Rule
	for _, fam := range ruleFamilies() {
		// The destinations are put in Normalize's order here (by
		// address; every range is a single address): with a hundred
		// nodes, parsing them back from strings would be most of a
		// reconcile.
		var dests []netip.Addr
		for _, t := range targets {
			for _, a := range t.Internal {
				if familyOf(a) == fam {
					dests = append(dests, a)
				}
			}
		}
		if len(dests) == 0 || len(sources[firewall.Family(fam)]) == 0 {
			continue
		}
		r := firewall.Rule{
			Name:       names.of(fam),
			Network:    p.Network,
			Direction:  firewall.Ingress,
			Priority:   firewall.DefaultPriority,
			TargetTags: p.NodeTags,
			Description: p.Owner.Description(map[string]string{ownership.ServiceKey: svc.Namespace + "/" + svc.Name,
				ownership.ServiceUIDKey: string(svc.UID), ownership.ModeKey: ownership.ModeNodeIP}),
		}
		for _, s := range sources[firewall.Family(fam)] {
			r.SourceRanges = append(r.SourceRanges, s.String())
		}
		for _, pp := range ports {
			r.Allowed = append(r.Allowed, firewall.Allow{Protocol: strings.ToLower(string(pp.Protocol)), Ports: []string{strconv.Itoa(int(pp.Port))}})
		}
		r = firewall.Normalize(r)
		slices.SortFunc(dests, netip.Addr.Compare)
		for _, a := range slices.Compact(dests) {
			r.DestinationRanges = append(r.DestinationRanges, netip.PrefixFrom(a, a.BitLen()).String())
		}
		out = append(out, r)
	}
	return out
}

// admitted are the internal addresses an observed rule lets traffic to: the
// single-address destination ranges of an enabled rule with the cluster's
// marker. A foreign or missing rule admits nothing.
func admitted(fw *compute.Firewall, owner ownership.Cluster) map[netip.Addr]bool {
	out := map[netip.Addr]bool{}
	if fw == nil || fw.Disabled || !owner.Owns(fw.Name, fw.Description) {
		return out
	}
	for _, r := range fw.DestinationRanges {
		p, err := netip.ParsePrefix(r)
		if err != nil {
			a, aerr := netip.ParseAddr(r)
			if aerr != nil {
				continue
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		if p.IsSingleIP() {
			out[p.Addr().Unmap()] = true
		}
	}
	return out
}

// admittedTargets are the targets whose every internal address the rules
// admit, in order.
func admittedTargets(targets []target, ok map[netip.Addr]bool) []target {
	var out []target
	for _, t := range targets {
		all := true
		for _, a := range t.Internal {
			all = all && ok[a]
		}
		if all {
			out = append(out, t)
		}
	}
	return out
}
