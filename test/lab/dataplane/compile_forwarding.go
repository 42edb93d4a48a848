package dataplane

import (
	"cmp"
	"net/netip"
	"slices"
	"strings"

	"google.golang.org/api/compute/v1"
)

// backendSet is what stands behind a forwarding rule: its instances and the
// health checks that judge them.
type backendSet struct {
	instances []*instance
	checks    []string // health check paths
	affinity  Affinity
	internal  bool // of an INTERNAL forwarding rule
	// ipv6: of an IPv6 forwarding rule, whose backends GCE checks over
	// IPv6, at their IPv6 addresses.
	ipv6 bool
}

// passthroughRules returns the regional passthrough forwarding rules, IPv4
// and IPv6, external (to a target pool or backend service) and internal (to
// a backend service), with what stands behind each. Other schemes (managed
// proxies) are left out.
func passthroughRules(s State, idx instanceIndex) ([]*compute.ForwardingRule, []backendSet) {
	pools := map[string]*compute.TargetPool{}
	for _, p := range s.TargetPools {
		pools[resourcePath(p.SelfLink)] = p
	}
	services := map[string]*compute.BackendService{}
	for _, b := range s.BackendServices {
		services[resourcePath(b.SelfLink)] = b
	}
	var rules []*compute.ForwardingRule
	var sets []backendSet
	for _, fr := range s.ForwardingRules {
		switch fr.LoadBalancingScheme {
		case "", "EXTERNAL":
		case "INTERNAL":
			if fr.BackendService == "" {
				continue
			}
		default:
			continue
		}
		ip, ok := ruleAddress(fr)
		if !ok {
			continue
		}
		set := backendSet{internal: fr.LoadBalancingScheme == "INTERNAL", ipv6: ip.Is6()}
		var members []string
		switch {
		case fr.BackendService != "":
			bs := services[resourcePath(fr.BackendService)]
			if bs == nil {
				continue
			}
			for _, b := range bs.Backends {
				members = append(members, s.InstanceGroups[resourcePath(b.Group)]...)
			}
			set.checks = paths(bs.HealthChecks)
			set.affinity = affinityOf(bs.SessionAffinity)
		case strings.Contains(fr.Target, "/targetPools/") && !set.ipv6:
			pool := pools[resourcePath(fr.Target)]
			if pool == nil {
				continue
			}
			members = pool.Instances
			set.checks = paths(pool.HealthChecks)
			set.affinity = affinityOf(pool.SessionAffinity)
		default:
			continue
		}
		seen := map[string]bool{}
		for _, m := range members {
			if in := idx.byPath[resourcePath(m)]; in != nil && !seen[in.path] {
				seen[in.path] = true
				set.instances = append(set.instances, in)
			}
		}
		slices.SortFunc(set.instances, func(a, b *instance) int { return a.internal.Compare(b.internal) })
		rules = append(rules, fr)
		sets = append(sets, set)
	}
	return rules, sets
}

// ruleAddress is a forwarding rule's IP. The API answers an external IPv6
// rule's address in CIDR form, ADDRESS/96 (kubernetes/ingress-gce,
// pkg/l4/address/to_use.go: "Google Cloud creates ipv6 forwarding rules
// with IPAddress in CIDR form"); the address is the /96's first.
func ruleAddress(fr *compute.ForwardingRule) (netip.Addr, bool) {
	s, _, _ := strings.Cut(fr.IPAddress, "/")
	ip, err := netip.ParseAddr(s)
	if err != nil || ip.Is4In6() {
		return netip.Addr{}, false
	}
	return ip, true
}

// affinityOf is the flow hash of a target pool's or backend service's
// sessionAffinity. NONE and CLIENT_IP_PORT_PROTO both hash the 5-tuple;
// a value the lab does not know does too.
func affinityOf(sessionAffinity string) Affinity {
	switch a := Affinity(sessionAffinity); a {
	case AffinityClientIP, AffinityClientIPProto:
		return a
	}
	return ""
}

func paths(links []string) []string {
	out := make([]string, len(links))
	for i, l := range links {
		out[i] = resourcePath(l)
	}
	return out
}

func compileForwardingRules(s State, idx instanceIndex, probes []Probe) []ForwardingRule {
	probed := map[HealthKey]bool{}
	for _, p := range probes {
		probed[p.key()] = true
	}
	rules, sets := passthroughRules(s, idx)
	var out []ForwardingRule
	for i, fr := range rules {
		if sets[i].ipv6 {
			continue // probed (compileProbes), not forwarded: the vpc namespace carries IPv4 only
		}
		ip, _ := ruleAddress(fr) // passthroughRules keeps only rules with one
		r := ForwardingRule{Name: fr.Name, IP: ip, Affinity: sets[i].affinity,
			Internal: fr.LoadBalancingScheme == "INTERNAL"}
		p, ok := forwardingProtocol(fr.IPProtocol)
		if !ok {
			continue
		}
		r.Protocol = planProtocol(p)
		if p.HasPorts() && !fr.AllPorts {
			specs := fr.Ports
			if len(specs) == 0 && fr.PortRange != "" {
				specs = []string{fr.PortRange}
			}
			if r.Ports, ok = sortedPorts(specs); !ok {
				continue
			}
		}
		for _, in := range sets[i].instances {
			r.Backends = append(r.Backends, Backend{Instance: in.path, IP: in.internal,
				Healthy: backendHealthy(s.Health, probed, sets[i].checks, in.path)})
		}
		r.Serving = serving(r.Backends)
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b ForwardingRule) int { return cmp.Or(a.IP.Compare(b.IP), cmp.Compare(a.Name, b.Name)) })
	return out
}

// backendHealthy reports whether an instance passes every IPv4 check that
// probes it (the rules forwarded are IPv4). A check with no result yet fails; a backend no check can probe (no
// health check, or one without a port to probe) is healthy, as GCE treats a
// target pool without a health check.
func backendHealthy(health map[HealthKey]bool, probed map[HealthKey]bool, checks []string, inst string) bool {
	for _, c := range checks {
		k := HealthKey{Check: c, Instance: inst}
		if probed[k] && !health[k] {
			return false
		}
	}
	return true
}

// serving is the backends that get new flows: the healthy ones, or all of
// them when none is healthy (GCE then spreads new connections over every
// backend rather than dropping them).
func serving(backends []Backend) []netip.Addr {
	var healthy, all []netip.Addr
	for _, b := range backends {
		all = append(all, b.IP)
		if b.Healthy {
			healthy = append(healthy, b.IP)
		}
	}
	if len(healthy) > 0 {
		return healthy
	}
	return all
}
