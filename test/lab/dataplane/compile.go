package dataplane

import (
	"cmp"
	"net/netip"
	"slices"

	"google.golang.org/api/compute/v1"
)

// Compile computes what the vpc namespace should do from fake-gce's state.
// It is pure: no client, no clock, no kernel.
func Compile(s State) Plan {
	insts := runningInstances(s)
	probes := compileProbes(s, insts)
	return Plan{
		NAT:             compileNAT(insts),
		ForwardingRules: compileForwardingRules(s, insts, probes),
		Firewall:        compileFirewall(s, insts, false),
		Firewall6:       compileFirewall(s, insts, true),
		Routes:          compileRoutes(s, insts),
		Probes:          probes,
	}
}

// instance is what the data plane needs of a running instance.
type instance struct {
	path            string
	internal        netip.Addr
	internal6       netip.Addr // the interface's ipv6Address; zero on an IPv4-only one
	external        netip.Addr // zero when the instance has no external address
	tags            []string
	serviceAccounts []string
}

// instanceIndex holds the running instances of the lab's network, by path, in
// address order.
type instanceIndex struct {
	byPath map[string]*instance
	all    []*instance
}

// runningInstances indexes the instances that have a data plane: RUNNING
// ones whose first interface is on the lab's network with an IPv4 address.
// A stopped instance has no NAT, is no firewall target and is no backend.
func runningInstances(s State) instanceIndex {
	idx := instanceIndex{byPath: map[string]*instance{}}
	for _, in := range s.Instances {
		if in.Status != "RUNNING" || len(in.NetworkInterfaces) == 0 {
			continue
		}
		nic := in.NetworkInterfaces[0]
		ip, err := netip.ParseAddr(nic.NetworkIP)
		if err != nil || !ip.Is4() || !s.onNetwork(nic.Network) {
			continue
		}
		inst := &instance{path: resourcePath(in.SelfLink), internal: ip}
		if ip6, err := netip.ParseAddr(nic.Ipv6Address); err == nil && ip6.Is6() && !ip6.Is4In6() {
			inst.internal6 = ip6
		}
		if len(nic.AccessConfigs) > 0 {
			if nat, err := netip.ParseAddr(nic.AccessConfigs[0].NatIP); err == nil && nat.Is4() {
				inst.external = nat
			}
		}
		if in.Tags != nil {
			inst.tags = in.Tags.Items
		}
		for _, sa := range in.ServiceAccounts {
			inst.serviceAccounts = append(inst.serviceAccounts, sa.Email)
		}
		idx.byPath[inst.path] = inst
		idx.all = append(idx.all, inst)
	}
	slices.SortFunc(idx.all, func(a, b *instance) int { return a.internal.Compare(b.internal) })
	return idx
}

// where returns the addresses of the instances for which keep is true.
func (idx instanceIndex) where(keep func(*instance) bool) []netip.Addr {
	var out []netip.Addr
	for _, in := range idx.all {
		if keep(in) {
			out = append(out, in.internal)
		}
	}
	return out
}

func compileNAT(idx instanceIndex) []NAT {
	var out []NAT
	for _, in := range idx.all {
		if in.external.IsValid() {
			out = append(out, NAT{External: in.external, Internal: in.internal})
		}
	}
	return out
}

// compileRoutes keeps the routes whose next hop is inside the VPC: an
// instance (nextHopInstance, resolved to its internal address) or an address
// (nextHopIp). Routes to the internet gateway, peerings, VPN tunnels and
// internal load balancers lead nowhere in the lab. Of several routes to one
// destination the lowest priority wins, then the first by name (GCE would
// spread over equal ones; one next hop keeps the lab deterministic).
// Instance tags on routes are not honoured: the vpc namespace routes by
// destination only.
func compileRoutes(s State, idx instanceIndex) []Route {
	var candidates []*compute.Route
	for _, r := range s.Routes {
		if s.onNetwork(r.Network) {
			candidates = append(candidates, r)
		}
	}
	slices.SortFunc(candidates, func(a, b *compute.Route) int {
		return cmp.Or(cmp.Compare(a.Priority, b.Priority), cmp.Compare(a.Name, b.Name))
	})
	seen := map[netip.Prefix]bool{}
	var out []Route
	for _, r := range candidates {
		dst, err := netip.ParsePrefix(r.DestRange)
		if err != nil || !dst.Addr().Is4() || seen[dst.Masked()] {
			continue
		}
		var hop netip.Addr
		switch {
		case r.NextHopInstance != "":
			if in := idx.byPath[resourcePath(r.NextHopInstance)]; in != nil {
				hop = in.internal
			}
		case r.NextHopIp != "":
			if a, err := netip.ParseAddr(r.NextHopIp); err == nil && a.Is4() {
				hop = a
			}
		}
		if !hop.IsValid() {
			continue
		}
		seen[dst.Masked()] = true
		out = append(out, Route{Name: r.Name, Destination: dst.Masked(), NextHop: hop})
	}
	slices.SortFunc(out, func(a, b Route) int {
		return cmp.Or(a.Destination.Addr().Compare(b.Destination.Addr()), cmp.Compare(a.Destination.Bits(), b.Destination.Bits()))
	})
	return out
}
