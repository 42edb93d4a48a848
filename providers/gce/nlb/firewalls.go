package nlb

import (
	"net/netip"
	"strconv"
	"strings"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/firewall"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/ownership"
)

// Firewalls are the rules the load balancer needs once its IP is known:
// clients to the Service's exact ports on the IP, and health checkers to the
// health-check port. Clients come from the Service's IPv4 source ranges, or
// from anywhere when it names none (firewall.ClientSources, the rule nodeip
// follows too); a Service that names ranges of IPv6 only gets no client
// rule, never one open to everyone (an internal load balancer's caller puts
// the VPC's ranges in d.SourceRanges).
func (d *Desired) Firewalls(p Params, ip string) []firewall.Rule {
	sources, _ := firewall.ClientSources(d.SourceRanges, nil)
	var rules []firewall.Rule
	if src := sources[firewall.IPv4]; len(src) > 0 {
		rules = append(rules, d.clientRule(p, ownership.ClientFirewallName(d.Base), src, ip+"/32"))
	}
	return append(rules, d.healthCheckRule(p, ownership.HealthCheckFirewallName(d.Base), healthCheckSources(p.HealthCheckRanges, d.Scheme, firewall.IPv4)))
}

// clientRule lets clients from sources in to the Service's exact ports on
// the load balancer's address.
func (d *Desired) clientRule(p Params, name string, sources []netip.Prefix, dest string) firewall.Rule {
	var allowed []firewall.Allow
	for _, r := range d.Rules {
		var ports []string
		for _, port := range r.Ports {
			ports = append(ports, strconv.Itoa(port))
		}
		allowed = append(allowed, firewall.Allow{Protocol: strings.ToLower(r.Protocol), Ports: ports})
	}
	return firewall.Normalize(firewall.Rule{
		Name: name, Network: p.NetworkURL, Direction: firewall.Ingress, Priority: firewall.DefaultPriority,
		SourceRanges: prefixStrings(sources), DestinationRanges: []string{dest}, TargetTags: p.NodeTags,
		Allowed: allowed, Description: d.Description,
	})
}

// healthCheckRule lets the health checkers in to the health-check port.
func (d *Desired) healthCheckRule(p Params, name string, sources []netip.Prefix) firewall.Rule {
	return firewall.Normalize(firewall.Rule{
		Name: name, Network: p.NetworkURL, Direction: firewall.Ingress, Priority: firewall.DefaultPriority,
		SourceRanges: prefixStrings(sources), TargetTags: p.NodeTags,
		Allowed:     []firewall.Allow{{Protocol: "tcp", Ports: []string{strconv.FormatInt(d.HealthCheck.Port, 10)}}},
		Description: d.Description,
	})
}

func prefixStrings(ps []netip.Prefix) []string {
	out := make([]string, 0, len(ps))
	for _, p := range ps {
		out = append(out, p.String())
	}
	return out
}

// checkerRanges are where GCE's health checkers probe from, by load
// balancer scheme and IP family: "probe IP ranges and firewall rules",
// https://cloud.google.com/load-balancing/docs/health-check-concepts#ip-ranges
// (and https://cloud.google.com/load-balancing/docs/firewall-rules). The
// checks of external passthrough load balancers, legacy ones of target
// pools as well as those of backend services, come from other ranges than
// those of internal passthrough ones (kubernetes/ingress-gce
// pkg/healthchecksl4/healthchecksl4.go has the same two IPv6 ranges:
// L4NetLBIPv6HCRange, L4ILBIPv6HCRange). 2600:2d00:1:1::/64 serves only
// global proxy load balancers, so it is in neither.
func checkerRanges(scheme string, family firewall.Family) []string {
	switch {
	case scheme == "INTERNAL" && family == firewall.IPv6:
		return []string{"2600:2d00:1:b029::/64"}
	case scheme == "INTERNAL":
		return []string{"35.191.0.0/16", "130.211.0.0/22"}
	case family == firewall.IPv6:
		return []string{"2600:1901:8001::/48"}
	}
	return []string{"35.191.0.0/16", "209.85.152.0/22", "209.85.204.0/22"}
}

// healthCheckSources are the sources of a health-check firewall rule of one
// family (a rule holds one): the cloud config's ranges of that family
// (health-check-source-ranges), which replace the checkers' of every
// scheme, else GCE's checkers of the load balancer's scheme.
func healthCheckSources(configured []netip.Prefix, scheme string, family firewall.Family) []netip.Prefix {
	var out []netip.Prefix
	for _, s := range configured {
		if firewall.FamilyOf(s.Addr()) == family {
			out = append(out, s)
		}
	}
	if len(out) > 0 {
		return out
	}
	for _, s := range checkerRanges(scheme, family) {
		out = append(out, netip.MustParsePrefix(s))
	}
	return out
}

// FirewallsIPv6 are the IPv6 twins of Firewalls: clients (the Service's IPv6
// source ranges, else anywhere when it names none; no rule when it names
// IPv4 ranges only) to the /96 of the IPv6 forwarding rules, and the health
// checkers' IPv6 ranges to the health-check port.
func (d *Desired) FirewallsIPv6(p Params, ip string) []firewall.Rule {
	sources, _ := firewall.ClientSources(d.SourceRanges, nil)
	var rules []firewall.Rule
	if src := sources[firewall.IPv6]; len(src) > 0 {
		rules = append(rules, d.clientRule(p, ownership.ClientFirewallNameIPv6(d.Base), src, ip+"/96"))
	}
	return append(rules, d.healthCheckRule(p, ownership.HealthCheckFirewallNameIPv6(d.Base), healthCheckSources(p.HealthCheckRanges, d.Scheme, firewall.IPv6)))
}
