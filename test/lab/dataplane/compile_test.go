package dataplane

import (
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/api/compute/v1"
)

func TestCompileNAT(t *testing.T) {
	tests := []struct {
		name      string
		instances []*compute.Instance
		want      []NAT
	}{{
		name:      "each instance's external address maps to its internal one, in internal address order",
		instances: []*compute.Instance{newInstance("b", "10.128.0.3", withNatIP("203.0.113.3")), newInstance("a", "10.128.0.2", withNatIP("203.0.113.9"))},
		want:      []NAT{{External: addr("203.0.113.9"), Internal: addr("10.128.0.2")}, {External: addr("203.0.113.3"), Internal: addr("10.128.0.3")}},
	}, {
		name:      "an instance without natIP has no NAT",
		instances: []*compute.Instance{newInstance("a", "10.128.0.2"), newInstance("b", "10.128.0.3", withNatIP("203.0.113.3"))},
		want:      []NAT{{External: addr("203.0.113.3"), Internal: addr("10.128.0.3")}},
	}, {
		name:      "a stopped instance has no NAT",
		instances: []*compute.Instance{newInstance("a", "10.128.0.2", withNatIP("203.0.113.2"), stopped)},
	}, {
		name:      "an instance of another network has no NAT",
		instances: []*compute.Instance{newInstance("a", "10.128.0.2", withNatIP("203.0.113.2"), onOtherNetwork)},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Compile(State{Network: "default", Instances: tt.instances}).NAT
			if diff := cmp.Diff(tt.want, got, planOpts); diff != "" {
				t.Errorf("NAT (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCompileRoutes(t *testing.T) {
	instances := []*compute.Instance{newInstance("node-1", "10.128.0.2"), newInstance("node-2", "10.128.0.3"),
		newInstance("off", "10.128.0.9", stopped)}
	tests := []struct {
		name   string
		routes []*compute.Route
		want   []Route
	}{{
		name:   "nextHopInstance becomes the instance's internal address",
		routes: []*compute.Route{newRoute("pods-2", "10.64.2.0/24", nextHopInstance("node-2")), newRoute("pods-1", "10.64.1.0/24", nextHopInstance("node-1"))},
		want: []Route{
			{Name: "pods-1", Destination: netip.MustParsePrefix("10.64.1.0/24"), NextHop: addr("10.128.0.2")},
			{Name: "pods-2", Destination: netip.MustParsePrefix("10.64.2.0/24"), NextHop: addr("10.128.0.3")},
		},
	}, {
		name:   "nextHopIp is kept as it is",
		routes: []*compute.Route{newRoute("via-ip", "10.70.0.0/16", nextHopIP("10.128.0.3"))},
		want:   []Route{{Name: "via-ip", Destination: netip.MustParsePrefix("10.70.0.0/16"), NextHop: addr("10.128.0.3")}},
	}, {
		name:   "routes to the internet gateway lead nowhere in the lab and are left out",
		routes: []*compute.Route{newRoute("default-route", "0.0.0.0/0", nextHopGateway)},
	}, {
		name:   "a route to a stopped or missing instance is left out",
		routes: []*compute.Route{newRoute("to-off", "10.64.9.0/24", nextHopInstance("off")), newRoute("to-gone", "10.64.8.0/24", nextHopInstance("gone"))},
	}, {
		name: "of two routes to one destination the lower priority wins",
		routes: []*compute.Route{newRoute("a-backup", "10.64.1.0/24", nextHopInstance("node-2"), routePriority(2000)),
			newRoute("z-main", "10.64.1.0/24", nextHopInstance("node-1"), routePriority(100))},
		want: []Route{{Name: "z-main", Destination: netip.MustParsePrefix("10.64.1.0/24"), NextHop: addr("10.128.0.2")}},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Compile(State{Network: "default", Instances: instances, Routes: tt.routes}).Routes
			if diff := cmp.Diff(tt.want, got, planOpts); diff != "" {
				t.Errorf("routes (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCompileForwardingRules(t *testing.T) {
	instances := []*compute.Instance{newInstance("vm1", "10.128.0.2"), newInstance("vm2", "10.128.0.3"),
		newInstance("vm3", "10.128.0.4"), newInstance("off", "10.128.0.9", stopped)}
	pool := newTargetPool("pool", nil, "vm2", "vm1")
	checkedPool := newTargetPool("pool", []string{"hc"}, "vm1", "vm2")
	checks := []*compute.HttpHealthCheck{newHTTPHealthCheck("hc", 10256, "/healthz")}
	healthy := func(names ...string) map[HealthKey]bool {
		h := map[HealthKey]bool{}
		for _, n := range []string{"vm1", "vm2"} {
			h[HealthKey{Check: legacyCheckPath("hc"), Instance: instancePath(n)}] = false
		}
		for _, n := range names {
			h[HealthKey{Check: legacyCheckPath("hc"), Instance: instancePath(n)}] = true
		}
		return h
	}
	backends := func(healthy ...bool) []Backend {
		return []Backend{{Instance: instancePath("vm1"), IP: addr("10.128.0.2"), Healthy: healthy[0]},
			{Instance: instancePath("vm2"), IP: addr("10.128.0.3"), Healthy: healthy[1]}}
	}
	both := addrs("10.128.0.2", "10.128.0.3")
	lb := addr("203.0.113.10")
	tests := []struct {
		name   string
		rules  []*compute.ForwardingRule
		pools  []*compute.TargetPool
		checks []*compute.HttpHealthCheck
		health map[HealthKey]bool
		// affinity is the sessionAffinity of the pools and backend service.
		affinity string
		want     []ForwardingRule
	}{{
		name:  "a port range is one range, and a target pool's instances are the backends",
		rules: []*compute.ForwardingRule{newForwardingRule("fr", "203.0.113.10", portRange("80-81"))},
		want:  []ForwardingRule{{Name: "fr", IP: lb, Protocol: 6, Ports: []PortRange{{80, 81}}, Backends: backends(true, true), Serving: both}},
	}, {
		name:  "a list of ports is sorted ranges",
		rules: []*compute.ForwardingRule{newForwardingRule("fr", "203.0.113.10", protocol("UDP"), ports("8443", "53"))},
		want:  []ForwardingRule{{Name: "fr", IP: lb, Protocol: 17, Ports: []PortRange{{53, 53}, {8443, 8443}}, Backends: backends(true, true), Serving: both}},
	}, {
		name:  "allPorts matches every port of its protocol",
		rules: []*compute.ForwardingRule{newForwardingRule("fr", "203.0.113.10", allPorts)},
		want:  []ForwardingRule{{Name: "fr", IP: lb, Protocol: 6, Backends: backends(true, true), Serving: both}},
	}, {
		name:  "L3_DEFAULT matches every protocol and port",
		rules: []*compute.ForwardingRule{newForwardingRule("fr", "203.0.113.10", l3Default)},
		want:  []ForwardingRule{{Name: "fr", IP: lb, Protocol: 0, Backends: backends(true, true), Serving: both}},
	}, {
		name:  "a pool without a health check has healthy backends",
		rules: []*compute.ForwardingRule{newForwardingRule("fr", "203.0.113.10")},
		want:  []ForwardingRule{{Name: "fr", IP: lb, Protocol: 6, Ports: []PortRange{{80, 80}}, Backends: backends(true, true), Serving: both}},
	}, {
		name:  "an unhealthy backend gets no new flows",
		rules: []*compute.ForwardingRule{newForwardingRule("fr", "203.0.113.10")},
		pools: []*compute.TargetPool{checkedPool}, checks: checks, health: healthy("vm1"),
		want: []ForwardingRule{{Name: "fr", IP: lb, Protocol: 6, Ports: []PortRange{{80, 80}}, Backends: backends(true, false), Serving: addrs("10.128.0.2")}},
	}, {
		name:  "when every backend is unhealthy every backend gets new flows",
		rules: []*compute.ForwardingRule{newForwardingRule("fr", "203.0.113.10")},
		pools: []*compute.TargetPool{checkedPool}, checks: checks, health: healthy(),
		want: []ForwardingRule{{Name: "fr", IP: lb, Protocol: 6, Ports: []PortRange{{80, 80}}, Backends: backends(false, false), Serving: both}},
	}, {
		name:  "a backend the prober has no result for yet counts as unhealthy",
		rules: []*compute.ForwardingRule{newForwardingRule("fr", "203.0.113.10")},
		pools: []*compute.TargetPool{checkedPool}, checks: checks,
		health: map[HealthKey]bool{{Check: legacyCheckPath("hc"), Instance: instancePath("vm2")}: true},
		want:   []ForwardingRule{{Name: "fr", IP: lb, Protocol: 6, Ports: []PortRange{{80, 80}}, Backends: backends(false, true), Serving: addrs("10.128.0.3")}},
	}, {
		name:  "stopped and missing instances are no backends",
		rules: []*compute.ForwardingRule{newForwardingRule("fr", "203.0.113.10")},
		pools: []*compute.TargetPool{newTargetPool("pool", nil, "vm1", "off", "gone")},
		want: []ForwardingRule{{Name: "fr", IP: lb, Protocol: 6, Ports: []PortRange{{80, 80}},
			Backends: []Backend{{Instance: instancePath("vm1"), IP: addr("10.128.0.2"), Healthy: true}}, Serving: addrs("10.128.0.2")}},
	}, {
		name:  "a backend service's instance groups' members are the backends",
		rules: []*compute.ForwardingRule{newForwardingRule("fr", "203.0.113.10", toBackendService("bs"))},
		want: []ForwardingRule{{Name: "fr", IP: lb, Protocol: 6, Ports: []PortRange{{80, 80}}, Backends: []Backend{
			{Instance: instancePath("vm2"), IP: addr("10.128.0.3"), Healthy: true},
			{Instance: instancePath("vm3"), IP: addr("10.128.0.4"), Healthy: true},
		}, Serving: addrs("10.128.0.3", "10.128.0.4")}},
		health: map[HealthKey]bool{{Check: checkPath("tcp"), Instance: instancePath("vm2")}: true, {Check: checkPath("tcp"), Instance: instancePath("vm3")}: true},
	}, {
		name:  "a target pool's CLIENT_IP affinity hashes the addresses alone",
		rules: []*compute.ForwardingRule{newForwardingRule("fr", "203.0.113.10")}, affinity: "CLIENT_IP",
		want: []ForwardingRule{{Name: "fr", IP: lb, Protocol: 6, Ports: []PortRange{{80, 80}}, Backends: backends(true, true), Serving: both,
			Affinity: AffinityClientIP}},
	}, {
		name:  "a backend service's CLIENT_IP_PROTO affinity hashes the addresses and the protocol",
		rules: []*compute.ForwardingRule{newForwardingRule("fr", "203.0.113.10", toBackendService("bs"))}, affinity: "CLIENT_IP_PROTO",
		health: map[HealthKey]bool{{Check: checkPath("tcp"), Instance: instancePath("vm2")}: true, {Check: checkPath("tcp"), Instance: instancePath("vm3")}: true},
		want: []ForwardingRule{{Name: "fr", IP: lb, Protocol: 6, Ports: []PortRange{{80, 80}}, Backends: []Backend{
			{Instance: instancePath("vm2"), IP: addr("10.128.0.3"), Healthy: true},
			{Instance: instancePath("vm3"), IP: addr("10.128.0.4"), Healthy: true},
		}, Serving: addrs("10.128.0.3", "10.128.0.4"), Affinity: AffinityClientIPProto}},
	}, {
		name:  "CLIENT_IP_PORT_PROTO is the 5-tuple, as NONE is",
		rules: []*compute.ForwardingRule{newForwardingRule("fr", "203.0.113.10")}, affinity: "CLIENT_IP_PORT_PROTO",
		want: []ForwardingRule{{Name: "fr", IP: lb, Protocol: 6, Ports: []PortRange{{80, 80}}, Backends: backends(true, true), Serving: both}},
	}, {
		name:   "an internal forwarding rule to a backend service balances the VPC's flows",
		rules:  []*compute.ForwardingRule{newForwardingRule("fr", "10.128.0.50", internalScheme, toBackendService("bs"))},
		health: map[HealthKey]bool{{Check: checkPath("tcp"), Instance: instancePath("vm2")}: true, {Check: checkPath("tcp"), Instance: instancePath("vm3")}: true},
		want: []ForwardingRule{{Name: "fr", IP: addr("10.128.0.50"), Internal: true, Protocol: 6, Ports: []PortRange{{80, 80}}, Backends: []Backend{
			{Instance: instancePath("vm2"), IP: addr("10.128.0.3"), Healthy: true},
			{Instance: instancePath("vm3"), IP: addr("10.128.0.4"), Healthy: true},
		}, Serving: addrs("10.128.0.3", "10.128.0.4")}},
	}, {
		name:  "an internal forwarding rule to a target pool is left out: the API takes backend services only",
		rules: []*compute.ForwardingRule{newForwardingRule("fr", "10.128.0.50", internalScheme)},
	}, {
		name: "a managed proxy's forwarding rule is left out",
		rules: []*compute.ForwardingRule{newForwardingRule("fr", "203.0.113.10", toBackendService("bs"),
			func(fr *compute.ForwardingRule) { fr.LoadBalancingScheme = "EXTERNAL_MANAGED" })},
	}, {
		name:  "a rule whose target pool is gone is left out",
		rules: []*compute.ForwardingRule{newForwardingRule("fr", "203.0.113.10", toPool("gone"))},
	}, {
		name: "a dual-stack Service's IPv6 rule is not forwarded, and its IPv6 checks do not judge the IPv4 rule's backends",
		rules: []*compute.ForwardingRule{newForwardingRule("fr", "203.0.113.10", toBackendService("bs")),
			newForwardingRule("fr6", "2600:1900:4000:1:8000::/96", toBackendService("bs"), ipv6)},
		health: map[HealthKey]bool{
			{Check: checkPath("tcp"), Instance: instancePath("vm2")}: true, {Check: checkPath("tcp"), Instance: instancePath("vm3")}: false,
			{Check: checkPath("tcp"), Instance: instancePath("vm2"), IPv6: true}: false, {Check: checkPath("tcp"), Instance: instancePath("vm3"), IPv6: true}: true,
		},
		want: []ForwardingRule{{Name: "fr", IP: lb, Protocol: 6, Ports: []PortRange{{80, 80}}, Backends: []Backend{
			{Instance: instancePath("vm2"), IP: addr("10.128.0.3"), Healthy: true},
			{Instance: instancePath("vm3"), IP: addr("10.128.0.4"), Healthy: false},
		}, Serving: addrs("10.128.0.3")}},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pools := tt.pools
			if pools == nil {
				pools = []*compute.TargetPool{pool}
			}
			bs := newBackendService("bs", "tcp", "ig-a", "ig-b")
			if tt.affinity != "" {
				bs.SessionAffinity = tt.affinity
				pools = slices.Clone(pools)
				for i, p := range pools {
					c := *p
					c.SessionAffinity = tt.affinity
					pools[i] = &c
				}
			}
			s := State{Network: "default", Instances: instances, ForwardingRules: tt.rules, TargetPools: pools,
				HTTPHealthChecks: tt.checks, Health: tt.health,
				BackendServices: []*compute.BackendService{bs},
				HealthChecks:    []*compute.HealthCheck{newTCPHealthCheck("tcp", 10256)},
				InstanceGroups: map[string][]string{
					groupPath("ig-a"): {apiLink("zones/" + zone + "/instances/vm3")},
					groupPath("ig-b"): {apiLink("zones/" + zone + "/instances/vm2"), apiLink("zones/" + zone + "/instances/vm3")},
				}}
			got := Compile(s).ForwardingRules
			if diff := cmp.Diff(tt.want, got, planOpts); diff != "" {
				t.Errorf("forwarding rules (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCompileProbes(t *testing.T) {
	instances := []*compute.Instance{newInstance("vm1", "10.128.0.2"), newInstance("vm2", "10.128.0.3", withIPv6("2600:1900:4000:1:0:2::")),
		newInstance("vm3", "10.128.0.4")}
	dualStack := func(scheme ...func(*compute.ForwardingRule)) State {
		v4, v6 := "203.0.113.10", "2600:1900:4000:1:8000::/96"
		if len(scheme) > 0 {
			v4, v6 = "10.128.0.50", "2600:1900:4000:1:8000::" // an internal IPv6 rule's address has no /96
		}
		return State{
			ForwardingRules: []*compute.ForwardingRule{newForwardingRule("fr", v4, append(scheme, toBackendService("bs"))...),
				newForwardingRule("fr6", v6, append(scheme, toBackendService("bs"), ipv6)...)},
			BackendServices: []*compute.BackendService{newBackendService("bs", "tcp", "ig")},
			HealthChecks:    []*compute.HealthCheck{newTCPHealthCheck("tcp", 10256)},
			InstanceGroups: map[string][]string{groupPath("ig"): {apiLink("zones/" + zone + "/instances/vm2"),
				apiLink("zones/" + zone + "/instances/vm3")}}}
	}
	tcp := func(instance, target, source string) Probe {
		return Probe{Check: checkPath("tcp"), Instance: instancePath(instance), Target: netip.MustParseAddrPort(target), Source: addr(source),
			Interval: 2 * time.Second, Timeout: time.Second, HealthyThreshold: 1, UnhealthyThreshold: 3}
	}
	tests := []struct {
		name  string
		state State
		want  []Probe
	}{{
		name: "a legacy HTTP check probes each pool instance over HTTP from the legacy checker range",
		state: State{ForwardingRules: []*compute.ForwardingRule{newForwardingRule("fr", "203.0.113.10")},
			TargetPools:      []*compute.TargetPool{newTargetPool("pool", []string{"hc"}, "vm1", "vm2")},
			HTTPHealthChecks: []*compute.HttpHealthCheck{newHTTPHealthCheck("hc", 10256, "/healthz")}},
		want: []Probe{
			{Check: legacyCheckPath("hc"), Instance: instancePath("vm1"), Target: netip.MustParseAddrPort("10.128.0.2:10256"), Source: LegacyCheckerSource,
				HTTPPath: "/healthz", Interval: 5 * time.Second, Timeout: 5 * time.Second, HealthyThreshold: 2, UnhealthyThreshold: 2},
			{Check: legacyCheckPath("hc"), Instance: instancePath("vm2"), Target: netip.MustParseAddrPort("10.128.0.3:10256"), Source: LegacyCheckerSource,
				HTTPPath: "/healthz", Interval: 5 * time.Second, Timeout: 5 * time.Second, HealthyThreshold: 2, UnhealthyThreshold: 2},
		},
	}, {
		name: "a TCP check of an external backend service connects from a range of the external passthrough checkers only",
		state: State{ForwardingRules: []*compute.ForwardingRule{newForwardingRule("fr", "203.0.113.10", toBackendService("bs"))},
			BackendServices: []*compute.BackendService{newBackendService("bs", "tcp", "ig")},
			HealthChecks:    []*compute.HealthCheck{newTCPHealthCheck("tcp", 8080)},
			InstanceGroups:  map[string][]string{groupPath("ig"): {apiLink("zones/" + zone + "/instances/vm2")}}},
		want: []Probe{{Check: checkPath("tcp"), Instance: instancePath("vm2"), Target: netip.MustParseAddrPort("10.128.0.3:8080"), Source: netip.MustParseAddr("209.85.204.1"),
			Interval: 2 * time.Second, Timeout: time.Second, HealthyThreshold: 1, UnhealthyThreshold: 3}},
	}, {
		name: "a check of an internal backend service connects from a range of the internal passthrough checkers only",
		state: State{ForwardingRules: []*compute.ForwardingRule{newForwardingRule("fr", "10.128.0.50", toBackendService("bs"), internalScheme)},
			BackendServices: []*compute.BackendService{newBackendService("bs", "tcp", "ig")},
			HealthChecks:    []*compute.HealthCheck{newTCPHealthCheck("tcp", 8080)},
			InstanceGroups:  map[string][]string{groupPath("ig"): {apiLink("zones/" + zone + "/instances/vm2")}}},
		want: []Probe{{Check: checkPath("tcp"), Instance: instancePath("vm2"), Target: netip.MustParseAddrPort("10.128.0.3:8080"), Source: netip.MustParseAddr("130.211.0.1"),
			Interval: 2 * time.Second, Timeout: time.Second, HealthyThreshold: 1, UnhealthyThreshold: 3}},
	}, {
		name: "a check that names no port is not probed, and its backends count as healthy",
		state: State{ForwardingRules: []*compute.ForwardingRule{newForwardingRule("fr", "203.0.113.10", toBackendService("bs"))},
			BackendServices: []*compute.BackendService{newBackendService("bs", "tcp", "ig")},
			HealthChecks:    []*compute.HealthCheck{newTCPHealthCheck("tcp", 0)},
			InstanceGroups:  map[string][]string{groupPath("ig"): {apiLink("zones/" + zone + "/instances/vm2")}}},
	}, {
		name:  "a dual-stack external Service's backends are probed over IPv4 and, at their IPv6 address, from the external checkers' IPv6 range",
		state: dualStack(),
		want: []Probe{
			tcp("vm2", "10.128.0.3:10256", "209.85.204.1"),
			tcp("vm3", "10.128.0.4:10256", "209.85.204.1"),
			tcp("vm2", "[2600:1900:4000:1:0:2::]:10256", "2600:1901:8001::1"),
		},
	}, {
		name:  "a dual-stack internal Service's backends are probed over IPv6 from the internal checkers' IPv6 range",
		state: dualStack(internalScheme),
		want: []Probe{
			tcp("vm2", "10.128.0.3:10256", "130.211.0.1"),
			tcp("vm3", "10.128.0.4:10256", "130.211.0.1"),
			tcp("vm2", "[2600:1900:4000:1:0:2::]:10256", "2600:2d00:1:b029::1"),
		},
	}, {
		name: "a backend without an IPv6 address is not probed over IPv6",
		state: func() State {
			s := dualStack()
			s.InstanceGroups = map[string][]string{groupPath("ig"): {apiLink("zones/" + zone + "/instances/vm3")}}
			return s
		}(),
		want: []Probe{tcp("vm3", "10.128.0.4:10256", "209.85.204.1")},
	}, {
		name:  "a pool that no forwarding rule uses is not probed",
		state: State{TargetPools: []*compute.TargetPool{newTargetPool("pool", []string{"hc"}, "vm1")}, HTTPHealthChecks: []*compute.HttpHealthCheck{newHTTPHealthCheck("hc", 80, "/")}},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.state.Network, tt.state.Instances = "default", instances
			plan := Compile(tt.state)
			if diff := cmp.Diff(tt.want, plan.Probes, planOpts); diff != "" {
				t.Errorf("probes (-want +got):\n%s", diff)
			}
			for _, fr := range plan.ForwardingRules {
				if tt.want == nil && len(fr.Serving) != len(fr.Backends) {
					t.Errorf("forwarding rule %s serves %v of %v, want every unprobed backend serving", fr.Name, fr.Serving, fr.Backends)
				}
			}
		})
	}
}
