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

// desiredRule is the VPC firewall rule of a Service: exactly its protocols
// and ports, from its source ranges, to the targets' internal addresses
// (the 1:1 NAT of an external address happens before the firewall, so the
// internal address is the destination either way), on instances with the
// node tags. The description carries the cluster's marker and the Service's
// UID, so that firewall.CollectGarbage removes it once the Service is gone.
func desiredRule(svc *v1.Service, name string, ports []protoPort, targets []target, sourceRanges []netip.Prefix, p ruleParams) firewall.Rule {
	r := firewall.Rule{
		Name:        name,
		Network:     p.Network,
		Direction:   firewall.Ingress,
		Priority:    firewall.DefaultPriority,
		TargetTags:  p.NodeTags,
		Description: p.Owner.Description(map[string]string{ownership.ServiceKey: svc.Namespace + "/" + svc.Name, ownership.ServiceUIDKey: string(svc.UID)}),
	}
	for _, s := range sourceRanges {
		r.SourceRanges = append(r.SourceRanges, s.String())
	}
	for _, pp := range ports {
		r.Allowed = append(r.Allowed, firewall.Allow{Protocol: strings.ToLower(string(pp.Protocol)), Ports: []string{strconv.Itoa(int(pp.Port))}})
	}
	r = firewall.Normalize(r)
	// The destinations are put in Normalize's order here (by address,
	// IPv4 first; every range is a single address): with a hundred nodes,
	// parsing them back from strings would be most of a reconcile.
	var dests []netip.Addr
	for _, t := range targets {
		dests = append(dests, t.Internal...)
	}
	slices.SortFunc(dests, netip.Addr.Compare)
	for _, a := range slices.Compact(dests) {
		r.DestinationRanges = append(r.DestinationRanges, netip.PrefixFrom(a, a.BitLen()).String())
	}
	return r
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

// admittedTargets are the targets whose every internal address the rule
// admits, in order.
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
