package dataplane

import (
	"cmp"
	"net/netip"
	"slices"
	"time"

	"google.golang.org/api/compute/v1"
)

// Checker addresses: GCE probes from documented ranges, which the VPC
// firewall must allow, and they depend on the load balancer, not on the
// kind of check ("probe IP ranges and firewall rules",
// https://cloud.google.com/load-balancing/docs/health-check-concepts#ip-ranges):
// the checks of external passthrough load balancers, legacy ones of target
// pools and those of backend services alike, come from 35.191.0.0/16,
// 209.85.152.0/22 and 209.85.204.0/22 (IPv6: 2600:1901:8001::/48); those of
// internal passthrough ones from 35.191.0.0/16 and 130.211.0.0/22 (IPv6:
// 2600:2d00:1:b029::/64). The lab probes each kind from an address in its
// own ranges only, so that a firewall opened to the other kind's checkers
// fails the checks as it would in GCE. The data plane puts these addresses
// on a dummy interface of the vpc namespace.
//
// The backends of an IPv6 forwarding rule (a dual-stack Service's second
// rule, to the same backend service) are checked over IPv6, from the IPv6
// range of the rule's kind to the instance's IPv6 address, as kubectl vpc
// trace does (trace/backends.go). 2600:2d00:1:1::/64 is the global proxy
// load balancers' range, of neither kind.
var (
	// LegacyCheckerSource probes target pools (external).
	LegacyCheckerSource = netip.MustParseAddr("209.85.152.1")
	// ExternalCheckerSource probes the backend services of external
	// forwarding rules, InternalCheckerSource those of internal ones.
	ExternalCheckerSource = netip.MustParseAddr("209.85.204.1")
	InternalCheckerSource = netip.MustParseAddr("130.211.0.1")
	// ExternalCheckerSourceIPv6 and InternalCheckerSourceIPv6 probe the
	// backends of IPv6 forwarding rules over IPv6.
	ExternalCheckerSourceIPv6 = netip.MustParseAddr("2600:1901:8001::1")
	InternalCheckerSourceIPv6 = netip.MustParseAddr("2600:2d00:1:b029::1")
)

// checkerSources are every address the probes come from.
var checkerSources = []netip.Addr{LegacyCheckerSource, ExternalCheckerSource, InternalCheckerSource,
	ExternalCheckerSourceIPv6, InternalCheckerSourceIPv6}

// compileProbes lists one probe per (health check, backend instance, IP
// family) of every passthrough forwarding rule: an IPv4 rule's backends are
// probed at their networkIP, an IPv6 rule's at their ipv6Address (a backend
// without one is not probed over IPv6).
func compileProbes(s State, idx instanceIndex) []Probe {
	legacy := map[string]*compute.HttpHealthCheck{}
	for _, hc := range s.HTTPHealthChecks {
		legacy[resourcePath(hc.SelfLink)] = hc
	}
	checks := map[string]*compute.HealthCheck{}
	for _, hc := range s.HealthChecks {
		checks[resourcePath(hc.SelfLink)] = hc
	}
	seen := map[HealthKey]bool{}
	var out []Probe
	_, sets := passthroughRules(s, idx)
	for _, set := range sets {
		for _, c := range set.checks {
			for _, in := range set.instances {
				target := in.internal
				if set.ipv6 {
					target = in.internal6
				}
				k := HealthKey{Check: c, Instance: in.path, IPv6: set.ipv6}
				if seen[k] || !target.IsValid() {
					continue
				}
				seen[k] = true
				var p Probe
				var ok bool
				if hc := legacy[c]; hc != nil && !set.ipv6 {
					p, ok = legacyProbe(hc), true
				} else if hc := checks[c]; hc != nil {
					p, ok = healthCheckProbe(hc)
					p.Source = checkerSource(set)
				}
				if !ok || p.Target.Port() == 0 {
					continue
				}
				p.Check, p.Instance = c, in.path
				p.Target = netip.AddrPortFrom(target, p.Target.Port())
				out = append(out, p)
			}
		}
	}
	slices.SortFunc(out, func(a, b Probe) int { return cmp.Or(cmp.Compare(a.Check, b.Check), a.Target.Compare(b.Target)) })
	return out
}

// checkerSource is where GCE checks a backend service's backends from: the
// range of the forwarding rule's kind and IP family.
func checkerSource(set backendSet) netip.Addr {
	switch {
	case set.internal && set.ipv6:
		return InternalCheckerSourceIPv6
	case set.internal:
		return InternalCheckerSource
	case set.ipv6:
		return ExternalCheckerSourceIPv6
	}
	return ExternalCheckerSource
}

// legacyProbe is an httpHealthCheck (of a target pool): an HTTP GET.
func legacyProbe(hc *compute.HttpHealthCheck) Probe {
	p := Probe{Source: LegacyCheckerSource, HTTPPath: cmp.Or(hc.RequestPath, "/"), Host: hc.Host,
		Target: netip.AddrPortFrom(netip.Addr{}, port(cmp.Or(hc.Port, 80)))}
	setTiming(&p, hc.CheckIntervalSec, hc.TimeoutSec, hc.HealthyThreshold, hc.UnhealthyThreshold)
	return p
}

// healthCheckProbe is a healthCheck (of a backend service). HTTP checks GET
// their path; every other type is probed by a TCP connect to its port, which
// is what a lab server can answer. A check that names no port (portName, or
// USE_SERVING_PORT) is not probed.
func healthCheckProbe(hc *compute.HealthCheck) (Probe, bool) {
	var p Probe
	var n int64
	switch {
	case hc.HttpHealthCheck != nil && hc.Type == "HTTP":
		n, p.HTTPPath, p.Host = hc.HttpHealthCheck.Port, cmp.Or(hc.HttpHealthCheck.RequestPath, "/"), hc.HttpHealthCheck.Host
	case hc.TcpHealthCheck != nil:
		n = hc.TcpHealthCheck.Port
	case hc.HttpHealthCheck != nil:
		n = hc.HttpHealthCheck.Port
	case hc.HttpsHealthCheck != nil:
		n = hc.HttpsHealthCheck.Port
	case hc.Http2HealthCheck != nil:
		n = hc.Http2HealthCheck.Port
	case hc.SslHealthCheck != nil:
		n = hc.SslHealthCheck.Port
	case hc.GrpcHealthCheck != nil:
		n = hc.GrpcHealthCheck.Port
	}
	if n < 1 || n > 65535 {
		return Probe{}, false
	}
	p.Target = netip.AddrPortFrom(netip.Addr{}, port(n))
	setTiming(&p, hc.CheckIntervalSec, hc.TimeoutSec, hc.HealthyThreshold, hc.UnhealthyThreshold)
	return p, true
}

func port(n int64) uint16 {
	if n < 0 || n > 65535 {
		return 0
	}
	return uint16(n)
}

// setTiming fills interval, timeout and thresholds, with the API's defaults
// (5 s, 5 s, 2 and 2) for unset ones.
func setTiming(p *Probe, interval, timeout, healthy, unhealthy int64) {
	p.Interval = time.Duration(cmp.Or(interval, 5)) * time.Second
	p.Timeout = min(time.Duration(cmp.Or(timeout, 5))*time.Second, p.Interval)
	p.HealthyThreshold = int(cmp.Or(healthy, 2))
	p.UnhealthyThreshold = int(cmp.Or(unhealthy, 2))
}
