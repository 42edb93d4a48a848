package dataplane

import (
	"cmp"
	"net/netip"
	"slices"

	"google.golang.org/api/compute/v1"
)

// compileFirewall resolves the enabled ingress rules of the lab's network to
// addresses and orders them as GCE evaluates them: ascending priority, and at
// equal priority a deny before an allow (the API reference: "if an allow and
// a deny rule have the same priority, the deny rule takes precedence"). A
// rule's IPv4 sources and destinations match IPv4 packets, its IPv6 ones
// IPv6 packets: ipv6 picks the family compiled. Rules that can match
// nothing of the family (no source, no target instance) are left out.
func compileFirewall(s State, idx instanceIndex, ipv6 bool) []FirewallRule {
	var out []FirewallRule
	for _, fw := range s.Firewalls {
		if fw.Disabled || (fw.Direction != "" && fw.Direction != "INGRESS") || !s.onNetwork(fw.Network) {
			continue
		}
		if r, ok := compileFirewallRule(fw, idx, ipv6); ok {
			out = append(out, r)
		}
	}
	slices.SortStableFunc(out, func(a, b FirewallRule) int {
		return cmp.Or(cmp.Compare(a.Priority, b.Priority), actionOrder(a.Action)-actionOrder(b.Action), cmp.Compare(a.Name, b.Name))
	})
	return out
}

func actionOrder(a Action) int {
	if a == Deny {
		return 0
	}
	return 1
}

func compileFirewallRule(fw *compute.Firewall, idx instanceIndex, ipv6 bool) (FirewallRule, bool) {
	r := FirewallRule{Name: fw.Name, Priority: fw.Priority, Action: Allow}
	var entries []ProtocolPorts
	for _, a := range fw.Allowed {
		entries = appendEntry(entries, a.IPProtocol, a.Ports)
	}
	if len(fw.Denied) > 0 {
		r.Action = Deny
		for _, d := range fw.Denied {
			entries = appendEntry(entries, d.IPProtocol, d.Ports)
		}
	}
	r.Match = entries

	r.Sources = prefixesOf(fw.SourceRanges, ipv6)
	for _, in := range idx.all {
		a := in.internal
		if ipv6 {
			a = in.internal6
		}
		if a.IsValid() && (anyIn(fw.SourceTags, in.tags) || anyIn(fw.SourceServiceAccounts, in.serviceAccounts)) {
			r.Sources = append(r.Sources, netip.PrefixFrom(a, a.BitLen()))
		}
	}
	if len(fw.SourceRanges) == 0 && len(fw.SourceTags) == 0 && len(fw.SourceServiceAccounts) == 0 && !ipv6 {
		// The API fills in 0.0.0.0/0 for an ingress rule without sources.
		r.Sources = []netip.Prefix{netip.MustParsePrefix("0.0.0.0/0")}
	}
	slices.SortFunc(r.Sources, comparePrefixes)
	r.Sources = slices.Compact(r.Sources)

	if len(fw.DestinationRanges) > 0 {
		r.Destinations = prefixesOf(fw.DestinationRanges, ipv6)
		if len(r.Destinations) == 0 {
			return r, false // destinations of the other family only
		}
	}

	r.Targets = idx.where(func(in *instance) bool {
		switch {
		case len(fw.TargetTags) > 0:
			return anyIn(fw.TargetTags, in.tags)
		case len(fw.TargetServiceAccounts) > 0:
			return anyIn(fw.TargetServiceAccounts, in.serviceAccounts)
		}
		return true
	})
	return r, len(r.Sources) > 0 && len(r.Targets) > 0 && len(r.Match) > 0
}

// appendEntry adds one allowed/denied entry; a malformed one is dropped.
// Ports narrow an entry of a protocol with ports only, as in the trace.
func appendEntry(entries []ProtocolPorts, protocol string, ports []string) []ProtocolPorts {
	p, ok := entryProtocol(protocol)
	if !ok {
		return entries
	}
	e := ProtocolPorts{Protocol: planProtocol(p)}
	if p.HasPorts() {
		if e.Ports, ok = sortedPorts(ports); !ok {
			return entries
		}
	}
	return append(entries, e)
}

// prefixesOf parses CIDRs (or bare addresses), keeping those of one family.
func prefixesOf(ranges []string, ipv6 bool) []netip.Prefix {
	var out []netip.Prefix
	for _, s := range ranges {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			a, err := netip.ParseAddr(s)
			if err != nil {
				continue
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		if p.Addr().Is6() == ipv6 && !p.Addr().Is4In6() {
			out = append(out, p.Masked())
		}
	}
	slices.SortFunc(out, comparePrefixes)
	return slices.Compact(out)
}

func comparePrefixes(a, b netip.Prefix) int {
	return cmp.Or(a.Addr().Compare(b.Addr()), cmp.Compare(a.Bits(), b.Bits()))
}

// anyIn reports whether want and have share an element.
func anyIn(want, have []string) bool {
	for _, w := range want {
		if slices.Contains(have, w) {
			return true
		}
	}
	return false
}
