package trace

import (
	"fmt"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	v1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/utils/ptr"
)

// The scenarios of issue 19: the trace follows the packet as kube-proxy
// v1.37 and GCE really take it. Each case names the source it relies on;
// the packet lab cites these names for its matching tests.

// scenario is the part of a trace these cases compare: the hops, the
// outcome and drop, the backends' health ("node-1 healthy"), the rewrites
// counted, and the notes only when a case asks for them.
type scenario struct {
	Node     string
	Endpoint string
	Hops     []string
	Reply    []string
	Outcome  string
	Drop     *Drop
	Backends []string
	Rewrites Rewrites
}

func scenarioOf(t *Trace) scenario {
	s := summarize(t)
	out := scenario{Node: s.Node, Endpoint: s.Endpoint, Hops: s.Hops, Reply: s.Reply, Outcome: s.Outcome, Drop: s.Drop, Rewrites: t.Rewrites}
	for _, b := range t.Backends {
		health := "unhealthy"
		if b.Healthy {
			health = "healthy"
		}
		out.Backends = append(out.Backends, fmt.Sprintf("%s %s: %s", b.Node, health, b.Reason))
	}
	return out
}

// terminatingEndpoint is a pod being deleted that still serves: ready
// false, serving as given (nil: unset), terminating true.
func terminatingEndpoint(pod, ip, node string, serving *bool) discoveryv1.Endpoint {
	ep := podEndpoint(pod, ip, node)
	ep.Conditions = discoveryv1.EndpointConditions{Ready: ptr.To(false), Serving: serving, Terminating: ptr.To(true)}
	return ep
}

// withHealthCheckSources replaces the sources of the Service's IPv4
// health-check rule.
func withHealthCheckSources(r ...string) labOpt { return withFirewallSources(webBase+"-hc", r...) }

// withHealthCheck6Sources replaces the sources of the Service's IPv6
// health-check rule.
func withHealthCheck6Sources(r ...string) labOpt { return withFirewallSources(webBase+"-hc6", r...) }

// withFirewallSources replaces the sources of the firewall rule name.
func withFirewallSources(name string, r ...string) labOpt {
	return func(l *lab) {
		for _, fw := range l.cloud.Firewalls {
			if fw.Name == name {
				fw.SourceRanges = r
			}
		}
	}
}

// withStatusAddress replaces the Service's published address, leaving
// the forwarding rule where it is: a stale status.
func withStatusAddress(ip string, mode *v1.LoadBalancerIPMode) labOpt {
	return func(l *lab) {
		l.svc.Status.LoadBalancer.Ingress[0].IP = ip
		l.svc.Status.LoadBalancer.Ingress[0].IPMode = mode
	}
}

func runScenarios(t *testing.T, tests []struct {
	name string
	in   Input
	want scenario
}) {
	t.Helper()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Run(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, scenarioOf(got)); diff != "" {
				t.Errorf("Run (-want +got):\n%s", diff)
			}
		})
	}
}

var allHealthyCluster = []string{
	"node-1 healthy: kube-proxy answers 200 on :10256/healthz",
	"node-2 healthy: kube-proxy answers 200 on :10256/healthz",
	"node-3 healthy: kube-proxy answers 200 on :10256/healthz",
}

func TestRunProbesAsGCEDoes(t *testing.T) {
	runScenarios(t, []struct {
		name string
		in   Input
		want scenario
	}{
		{
			// https://cloud.google.com/load-balancing/docs/health-check-concepts
			// (probe IP ranges): the IPv6 probes of external passthrough
			// Network Load Balancers come from 2600:1901:8001::/48.
			name: "ipv6 probes external backends from 2600:1901:8001::/48, which the -hc6 rule opens, without the IPv4 rule",
			in:   newLab(withDualStack(), withoutFirewall(webBase+"-hc")).input(from("[2001:db8::10]:40000")),
			want: scenario{
				Node: "node-1", Endpoint: "web-a [fd00:10:64:1::3]:8080", Outcome: Delivered,
				Hops: []string{
					"client Client->VPC: [2001:db8::10]:40000 -> [2600:1900:4000:a0e::]:80 sent",
					"forwarding rule VPC->VPC: [2001:db8::10]:40000 -> [2600:1900:4000:a0e::]:80 forwarded",
					"VPC firewall VPC->node-1: [2001:db8::10]:40000 -> [2600:1900:4000:a0e::]:80 allowed",
					"kube-proxy DNAT node-1->node-1: [2001:db8::10]:40000 -> [2600:1900:4000:a0e::]:80 => [2001:db8::10]:40000 -> [fd00:10:64:1::3]:8080 rewritten",
					"kube-proxy SNAT (masquerade) node-1->node-1: [2001:db8::10]:40000 -> [fd00:10:64:1::3]:8080 => [fd00:10:64:1::1]:* -> [fd00:10:64:1::3]:8080 rewritten",
					"pod node-1->pod: [fd00:10:64:1::1]:* -> [fd00:10:64:1::3]:8080 delivered",
				},
				Reply: []string{
					"pod pod->node-1: [fd00:10:64:1::3]:8080 -> [fd00:10:64:1::1]:* sent",
					"kube-proxy conntrack node-1->node-1: [fd00:10:64:1::3]:8080 -> [fd00:10:64:1::1]:* => [2600:1900:4000:a0e::]:80 -> [2001:db8::10]:40000 rewritten",
					"node route node-1->VPC: [2600:1900:4000:a0e::]:80 -> [2001:db8::10]:40000 routed",
					"client VPC->Client: [2600:1900:4000:a0e::]:80 -> [2001:db8::10]:40000 received",
				},
				Backends: allHealthyCluster,
				Rewrites: Rewrites{Forward: 2, Reply: 2},
			},
		},
		{
			// The same page: internal passthrough load balancers are
			// probed from 35.191.0.0/16 and 130.211.0.0/22, external ones
			// from 35.191.0.0/16, 209.85.152.0/22 and 209.85.204.0/22. A
			// rule opened to the internal kind's ranges misses part of the
			// external checkers; the trace, as the packet lab, probes each
			// kind from a range only its own checkers use.
			name: "an -hc rule that opens only the internal load balancers' IPv4 ranges keeps the external probes out",
			in:   newLab(withHealthCheckSources("35.191.0.0/16", "130.211.0.0/22")).input(toNode("node-1")),
			want: scenario{
				Node: "node-1", Endpoint: "web-a 10.64.1.3:8080", Outcome: Delivered,
				Hops: []string{
					"client Client->VPC: 198.51.100.10:40000 -> 203.0.113.10:80 sent",
					"forwarding rule VPC->VPC: 198.51.100.10:40000 -> 203.0.113.10:80 forwarded",
					"VPC firewall VPC->node-1: 198.51.100.10:40000 -> 203.0.113.10:80 allowed",
					"kube-proxy DNAT node-1->node-1: 198.51.100.10:40000 -> 203.0.113.10:80 => 198.51.100.10:40000 -> 10.64.1.3:8080 rewritten",
					"kube-proxy SNAT (masquerade) node-1->node-1: 198.51.100.10:40000 -> 10.64.1.3:8080 => 10.64.1.1:* -> 10.64.1.3:8080 rewritten",
					"pod node-1->pod: 10.64.1.1:* -> 10.64.1.3:8080 delivered",
				},
				Reply: []string{
					"pod pod->node-1: 10.64.1.3:8080 -> 10.64.1.1:* sent",
					"kube-proxy conntrack node-1->node-1: 10.64.1.3:8080 -> 10.64.1.1:* => 203.0.113.10:80 -> 198.51.100.10:40000 rewritten",
					"node route node-1->VPC: 203.0.113.10:80 -> 198.51.100.10:40000 routed",
					"client VPC->Client: 203.0.113.10:80 -> 198.51.100.10:40000 received",
				},
				Backends: []string{
					"node-1 unhealthy: the firewall blocks health checks from 209.85.204.1 on tcp:10256 (denied by the implied deny-ingress rule (priority 65535))",
					"node-2 unhealthy: the firewall blocks health checks from 209.85.204.1 on tcp:10256 (denied by the implied deny-ingress rule (priority 65535))",
					"node-3 unhealthy: the firewall blocks health checks from 209.85.204.1 on tcp:10256 (denied by the implied deny-ingress rule (priority 65535))",
				},
				Rewrites: Rewrites{Forward: 2, Reply: 2},
			},
		},
		{
			// The same page: 2600:2d00:1:b029::/64 is the range of the
			// internal passthrough load balancers' probes, not of the
			// external ones.
			name: "an -hc6 rule that opens only the internal load balancers' 2600:2d00:1:b029::/64 keeps the external IPv6 probes out",
			in: newLab(withDualStack(), withHealthCheck6Sources("2600:2d00:1:b029::/64")).input(
				from("[2001:db8::10]:40000"), to(lbIPv6), toNode("node-1")),
			want: scenario{
				Node: "node-1", Endpoint: "web-a [fd00:10:64:1::3]:8080", Outcome: Delivered,
				Hops: []string{
					"client Client->VPC: [2001:db8::10]:40000 -> [2600:1900:4000:a0e::]:80 sent",
					"forwarding rule VPC->VPC: [2001:db8::10]:40000 -> [2600:1900:4000:a0e::]:80 forwarded",
					"VPC firewall VPC->node-1: [2001:db8::10]:40000 -> [2600:1900:4000:a0e::]:80 allowed",
					"kube-proxy DNAT node-1->node-1: [2001:db8::10]:40000 -> [2600:1900:4000:a0e::]:80 => [2001:db8::10]:40000 -> [fd00:10:64:1::3]:8080 rewritten",
					"kube-proxy SNAT (masquerade) node-1->node-1: [2001:db8::10]:40000 -> [fd00:10:64:1::3]:8080 => [fd00:10:64:1::1]:* -> [fd00:10:64:1::3]:8080 rewritten",
					"pod node-1->pod: [fd00:10:64:1::1]:* -> [fd00:10:64:1::3]:8080 delivered",
				},
				Reply: []string{
					"pod pod->node-1: [fd00:10:64:1::3]:8080 -> [fd00:10:64:1::1]:* sent",
					"kube-proxy conntrack node-1->node-1: [fd00:10:64:1::3]:8080 -> [fd00:10:64:1::1]:* => [2600:1900:4000:a0e::]:80 -> [2001:db8::10]:40000 rewritten",
					"node route node-1->VPC: [2600:1900:4000:a0e::]:80 -> [2001:db8::10]:40000 routed",
					"client VPC->Client: [2600:1900:4000:a0e::]:80 -> [2001:db8::10]:40000 received",
				},
				Backends: []string{
					"node-1 unhealthy: the firewall blocks health checks from 2600:1901:8001::1 on tcp:10256 (denied by the implied deny-ingress rule (priority 65535))",
					"node-2 unhealthy: the firewall blocks health checks from 2600:1901:8001::1 on tcp:10256 (denied by the implied deny-ingress rule (priority 65535))",
					"node-3 unhealthy: the firewall blocks health checks from 2600:1901:8001::1 on tcp:10256 (denied by the implied deny-ingress rule (priority 65535))",
				},
				Rewrites: Rewrites{Forward: 2, Reply: 2},
			},
		},
	})
}

func TestRunReadsEndpointsAsKubeProxyDoes(t *testing.T) {
	runScenarios(t, []struct {
		name string
		in   Input
		want scenario
	}{
		{
			// pkg/proxy/endpointschangetracker.go, getLocalReadyEndpointIPs:
			// "if !ep.IsReady() { continue }": the health check node port
			// counts ready endpoints only, and answers 503 on a node whose
			// endpoints all terminate (healthcheck/service_health.go,
			// ServeHTTP: "resp.WriteHeader(http.StatusServiceUnavailable)").
			name: "local, a rolling update leaves node-1 only a terminating endpoint: its health check answers 503 and GCE sends to node-2",
			in: newLab(withLocal(), withEndpoints(
				terminatingEndpoint("web-a", "10.64.1.3", "node-1", ptr.To(true)),
				podEndpoint("web-b", "10.64.2.5", "node-2"))).input(),
			want: scenario{
				Node: "node-2", Endpoint: "web-b 10.64.2.5:8080", Outcome: Delivered,
				Hops: []string{
					"client Client->VPC: 198.51.100.10:40000 -> 203.0.113.10:80 sent",
					"forwarding rule VPC->VPC: 198.51.100.10:40000 -> 203.0.113.10:80 forwarded",
					"VPC firewall VPC->node-2: 198.51.100.10:40000 -> 203.0.113.10:80 allowed",
					"kube-proxy DNAT node-2->node-2: 198.51.100.10:40000 -> 203.0.113.10:80 => 198.51.100.10:40000 -> 10.64.2.5:8080 rewritten",
					"pod node-2->pod: 198.51.100.10:40000 -> 10.64.2.5:8080 delivered",
				},
				Reply: []string{
					"pod pod->node-2: 10.64.2.5:8080 -> 198.51.100.10:40000 sent",
					"kube-proxy conntrack node-2->node-2: 10.64.2.5:8080 -> 198.51.100.10:40000 => 203.0.113.10:80 -> 198.51.100.10:40000 rewritten",
					"node route node-2->VPC: 203.0.113.10:80 -> 198.51.100.10:40000 routed",
					"client VPC->Client: 203.0.113.10:80 -> 198.51.100.10:40000 received",
				},
				Backends: []string{
					"node-1 unhealthy: node-1 has only terminating endpoints (web-a): kube-proxy answers 503 on :31234/healthz, which counts ready endpoints only (externalTrafficPolicy Local)",
					"node-2 healthy: kube-proxy answers 200 on :31234/healthz: 1 ready endpoint on node-2",
					"node-3 unhealthy: no ready endpoint on node-3: kube-proxy answers 503 on :31234/healthz (externalTrafficPolicy Local)",
				},
				Rewrites: Rewrites{Forward: 1, Reply: 1},
			},
		},
		{
			// pkg/proxy/endpointslicecache.go, addEndpoints: "serving :=
			// endpoint.Conditions.Serving == nil || *endpoint.Conditions.Serving";
			// topology.go, CategorizeEndpoints falls back to the serving
			// terminating endpoints when none is ready.
			name: "an unset serving condition is serving: with no ready endpoint, kube-proxy sends to the terminating one",
			in:   newLab(withEndpoints(terminatingEndpoint("web-a", "10.64.1.3", "node-1", nil))).input(),
			want: scenario{
				Node: "node-1", Endpoint: "web-a 10.64.1.3:8080", Outcome: Delivered,
				Hops:     sameNodeHops,
				Reply:    sameNodeReply,
				Backends: allHealthyCluster,
				Rewrites: Rewrites{Forward: 2, Reply: 2},
			},
		},
		{
			// pkg/proxy/iptables/proxier.go: the masquerade is "-j
			// MASQUERADE" in KUBE-POSTROUTING, hooked in nat POSTROUTING,
			// which a packet delivered to the node itself (nat PREROUTING,
			// then INPUT) never passes.
			name: "cluster, a host-network endpoint on the node the load balancer chose: delivered to the node itself, never masqueraded",
			in: newLab(withEndpoints(discoveryv1.Endpoint{Addresses: []string{"10.128.0.2"}, NodeName: ptr.To("node-1"),
				Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)}})).input(toNode("node-1")),
			want: scenario{
				Node: "node-1", Endpoint: " 10.128.0.2:8080", Outcome: Delivered,
				Hops: []string{
					"client Client->VPC: 198.51.100.10:40000 -> 203.0.113.10:80 sent",
					"forwarding rule VPC->VPC: 198.51.100.10:40000 -> 203.0.113.10:80 forwarded",
					"VPC firewall VPC->node-1: 198.51.100.10:40000 -> 203.0.113.10:80 allowed",
					"kube-proxy DNAT node-1->node-1: 198.51.100.10:40000 -> 203.0.113.10:80 => 198.51.100.10:40000 -> 10.128.0.2:8080 rewritten",
					"pod node-1->pod: 198.51.100.10:40000 -> 10.128.0.2:8080 delivered",
				},
				Reply: []string{
					"pod pod->node-1: 10.128.0.2:8080 -> 198.51.100.10:40000 sent",
					"kube-proxy conntrack node-1->node-1: 10.128.0.2:8080 -> 198.51.100.10:40000 => 203.0.113.10:80 -> 198.51.100.10:40000 rewritten",
					"node route node-1->VPC: 203.0.113.10:80 -> 198.51.100.10:40000 routed",
					"client VPC->Client: 203.0.113.10:80 -> 198.51.100.10:40000 received",
				},
				Backends: allHealthyCluster,
				Rewrites: Rewrites{Forward: 1, Reply: 1},
			},
		},
	})
}

func TestRunRejectsAtANodeWithoutAKubeProxyRule(t *testing.T) {
	// GoogleCloudPlatform/guest-agent, google_guest_agent/addresses.go,
	// addLocalRoute: "route add to local %s scope host dev %s proto 66"
	// for each of the instance's forwarded IPs: the node owns the address
	// of every forwarding rule it backs, and its own stack answers a
	// connection nothing listens for with a reset.
	staleHops := []string{
		"client Client->VPC: 198.51.100.10:40000 -> 203.0.113.10:80 sent",
		"forwarding rule VPC->VPC: 198.51.100.10:40000 -> 203.0.113.10:80 forwarded",
		"VPC firewall VPC->node-1: 198.51.100.10:40000 -> 203.0.113.10:80 allowed",
		"kube-proxy DNAT node-1->node-1: 198.51.100.10:40000 -> 203.0.113.10:80 rejected",
	}
	runScenarios(t, []struct {
		name string
		in   Input
		want scenario
	}{
		{
			name: "ipmode proxy: kube-proxy leaves the address alone, and the node the forwarding rule delivers to answers with a reset",
			in:   newLab(withStatusAddress(lbIP, ptr.To(v1.LoadBalancerIPModeProxy))).input(toNode("node-1")),
			want: scenario{
				Node: "node-1", Outcome: Rejected, Hops: staleHops,
				Drop: &Drop{Hop: 4, Component: compDNAT, At: "node-1",
					Reason: "203.0.113.10 is in status.loadBalancer.ingress with ipMode Proxy: kube-proxy has no rule for it. The guest environment made it a local address of node-1 (a forwarding rule's address), so node-1 itself receives the packet (a TCP reset, unless a process on node-1 listens on port 80)",
					Fix:    []string{"drop ipMode Proxy from the Service's status: a passthrough load balancer keeps the destination, so kube-proxy must serve it (ipMode VIP)"}},
				Backends: allHealthyCluster,
			},
		},
		{
			name: "a stale status: kube-proxy has rules for the old address only, and the node the forwarding rule delivers to answers with a reset",
			in:   newLab(withStatusAddress("203.0.113.99", ptr.To(v1.LoadBalancerIPModeVIP))).input(to(lbIP), toNode("node-1")),
			want: scenario{
				Node: "node-1", Outcome: Rejected, Hops: staleHops,
				Drop: &Drop{Hop: 4, Component: compDNAT, At: "node-1",
					Reason: "kube-proxy has no rule for 203.0.113.10:80: it is not in the Service's status.loadBalancer.ingress (203.0.113.99). The guest environment made it a local address of node-1 (a forwarding rule's address), so node-1 itself receives the packet (a TCP reset, unless a process on node-1 listens on port 80)",
					Fix:    []string{"wait for the CCM to write the load balancer's address into the Service's status; see its events"}},
				Backends: allHealthyCluster,
			},
		},
	})
}

func TestRunCountsRewritesForwardAndReply(t *testing.T) {
	// The lab counts each changed address (test/lab/rewrites_test.go,
	// rewritesOf): a hop that rewrites source and destination counts two.
	tests := []struct {
		name string
		in   Input
		want Rewrites
	}{
		{"external, Cluster: DNAT and masquerade, both undone by conntrack", newLab().input(toNode("node-3")), Rewrites{Forward: 2, Reply: 2}},
		{"external, Local: DNAT alone", newLab(withLocal()).input(), Rewrites{Forward: 1, Reply: 1}},
		{"nodeip from outside, Local: the 1:1 NAT and DNAT", newLab(withLocal(), withNodeIP(v1.NodeInternalIP, 1, 2)).input(), Rewrites{Forward: 2, Reply: 2}},
		{"nodeip from outside, Cluster across nodes: NAT, DNAT, masquerade", newLab(withNodeIP(v1.NodeInternalIP, 1, 2)).input(toNode("node-2")), Rewrites{Forward: 3, Reply: 3}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Run(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got.Rewrites); diff != "" {
				t.Errorf("Rewrites (-want +got):\n%s", diff)
			}
		})
	}
}

// withKubeProxyMode: kube-proxy's mode, as read from its ConfigMap.
func withKubeProxyMode(mode string) func(*Input) {
	return func(in *Input) {
		in.Settings.KubeProxyMode, in.Settings.KubeProxyModeSource = mode, "ConfigMap kube-system/kube-proxy"
	}
}

func TestRunFollowsKubeProxysMode(t *testing.T) {
	// A client outside spec.loadBalancerSourceRanges, let in by a rule of
	// the cluster's owner, to a Service without endpoints:
	//   - iptables (pkg/proxy/iptables/proxier.go, syncProxyRules):
	//     "usesFWChain := hasEndpoints && ..." builds no firewall chain
	//     without endpoints, and KUBE-EXTERNAL-SERVICES (filter INPUT and
	//     FORWARD) rejects: `"%s has no endpoints"` ... "REJECT";
	//   - nftables (pkg/proxy/nftables/proxier.go, syncProxyRules):
	//     "usesFWChain := len(svcInfo.LoadBalancerVIPs()) > 0 &&
	//     len(svcInfo.LoadBalancerSourceRanges()) > 0" whatever the
	//     endpoints, and its firewall-check chain runs in
	//     filter-prerouting-pre-dnat, before the no-endpoint reject of the
	//     filter input and forward hooks: the source check drops.
	outside := newLab(withEndpoints(), withSourceRanges("10.0.0.0/8"), withFirewall(newFirewall("allow-web", allow("tcp", "80"))))
	hops := []string{
		"client Client->VPC: 198.51.100.10:40000 -> 203.0.113.10:80 sent",
		"forwarding rule VPC->VPC: 198.51.100.10:40000 -> 203.0.113.10:80 forwarded",
		"VPC firewall VPC->node-1: 198.51.100.10:40000 -> 203.0.113.10:80 allowed",
	}
	tests := []struct {
		name     string
		in       Input
		wantMode string
		wantHop  string
		wantDrop string
		wantFrom string
	}{
		{
			name:     "iptables, read from the ConfigMap: no endpoints and a client outside the source ranges is rejected",
			in:       outside.input(withKubeProxyMode("iptables"), toNode("node-1")),
			wantMode: "iptables",
			wantHop:  "kube-proxy DNAT node-1->node-1: 198.51.100.10:40000 -> 203.0.113.10:80 rejected",
			wantDrop: "the Service has no ready endpoint for port http (80): kube-proxy on node-1 rejects new connections (ICMP port unreachable); in iptables mode the source ranges are checked only for a Service with endpoints",
			wantFrom: "ConfigMap kube-system/kube-proxy",
		},
		{
			name:     "nftables, read from the ConfigMap: the same packet is dropped by the source check, before the no-endpoint reject",
			in:       outside.input(withKubeProxyMode("nftables"), toNode("node-1")),
			wantMode: "nftables",
			wantHop:  "kube-proxy DNAT node-1->node-1: 198.51.100.10:40000 -> 203.0.113.10:80 dropped",
			wantDrop: "kube-proxy on node-1 drops it: 198.51.100.10 is not in spec.loadBalancerSourceRanges (10.0.0.0/8)",
			wantFrom: "ConfigMap kube-system/kube-proxy",
		},
		{
			name:     "no mode read: the trace assumes iptables, kube-proxy's default on Linux, and says so",
			in:       outside.input(toNode("node-1")),
			wantMode: "iptables",
			wantHop:  "kube-proxy DNAT node-1->node-1: 198.51.100.10:40000 -> 203.0.113.10:80 rejected",
			wantDrop: "the Service has no ready endpoint for port http (80): kube-proxy on node-1 rejects new connections (ICMP port unreachable); in iptables mode the source ranges are checked only for a Service with endpoints",
			// cmd/kube-proxy/app/server_linux.go, platformApplyDefaults:
			// `if config.Mode == "" { config.Mode = kubeproxyconfig.ProxyModeIPTables`.
			wantFrom: "assumed: kube-proxy's default on Linux",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Run(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(append(slices.Clone(hops), tc.wantHop), summarize(got).Hops); diff != "" {
				t.Errorf("hops (-want +got):\n%s", diff)
			}
			if got.KubeProxyMode != tc.wantMode || got.KubeProxyModeSource != tc.wantFrom || got.Drop == nil || got.Drop.Reason != tc.wantDrop {
				t.Errorf("Run = mode %q (%s), drop %+v;\nwant mode %q (%s), drop %q", got.KubeProxyMode, got.KubeProxyModeSource, got.Drop, tc.wantMode, tc.wantFrom, tc.wantDrop)
			}
		})
	}
}

// withPodsFirewall: a rule of the cluster's owner that lets the pods
// reach each other across nodes (their addresses are no instance's
// primary address, so source tags do not match them).
func withPodsFirewall() labOpt {
	return withFirewall(newFirewall("lab-pods-to-pods", sources("10.64.0.0/16"), targetTags("k8s-node"), allow("all")))
}

func TestRunTracesClientsInsideTheClusterThroughTheirOwnNode(t *testing.T) {
	// kube-proxy hooks KUBE-SERVICES into nat OUTPUT and PREROUTING
	// (pkg/proxy/iptables/proxier.go, iptablesJumpChains; nftables:
	// nftablesJumpChains, {servicesChain, natOutputChain} and
	// {servicesChain, natPreroutingChain}) with a rule for each load
	// balancer address ("%s loadbalancer IP"): a node's or a pod's packet
	// to it is DNATed on its own node and never reaches the forwarding
	// rule, the VPC firewall of a backend or the backend. With
	// externalTrafficPolicy Local, the external chain sends pod traffic
	// ("pod traffic for %s external destinations") and the node's own
	// ("route LOCAL traffic for %s external destinations") to the cluster
	// policy chain, and masquerades the node's ("masquerade LOCAL traffic
	// for %s external destinations").
	runScenarios(t, []struct {
		name string
		in   Input
		want scenario
	}{
		{
			name: "a pod on node-2 connects to the load balancer: kube-proxy on node-2 takes it, Cluster masquerades, no forwarding rule",
			in:   newLab().input(from("10.64.2.7:40000")),
			want: scenario{
				Node: "node-2", Endpoint: "web-a 10.64.1.3:8080", Outcome: Delivered,
				Hops: []string{
					"client Client->node-2: 10.64.2.7:40000 -> 203.0.113.10:80 sent",
					"kube-proxy DNAT node-2->node-2: 10.64.2.7:40000 -> 203.0.113.10:80 => 10.64.2.7:40000 -> 10.64.1.3:8080 rewritten",
					"kube-proxy SNAT (masquerade) node-2->node-2: 10.64.2.7:40000 -> 10.64.1.3:8080 => 10.128.0.3:* -> 10.64.1.3:8080 rewritten",
					"node route node-2->VPC: 10.128.0.3:* -> 10.64.1.3:8080 routed",
					"VPC firewall VPC->node-1: 10.128.0.3:* -> 10.64.1.3:8080 allowed",
					"pod node-1->pod: 10.128.0.3:* -> 10.64.1.3:8080 delivered",
				},
				Reply: []string{
					"pod pod->node-1: 10.64.1.3:8080 -> 10.128.0.3:* sent",
					"node route node-1->VPC: 10.64.1.3:8080 -> 10.128.0.3:* routed",
					"VPC firewall VPC->node-2: 10.64.1.3:8080 -> 10.128.0.3:* allowed",
					"kube-proxy conntrack node-2->node-2: 10.64.1.3:8080 -> 10.128.0.3:* => 203.0.113.10:80 -> 10.64.2.7:40000 rewritten",
					"client node-2->Client: 203.0.113.10:80 -> 10.64.2.7:40000 received",
				},
				Rewrites: Rewrites{Forward: 2, Reply: 2},
			},
		},
		{
			name: "local, a pod on node-3, which has no endpoint: kube-proxy sends it to any endpoint and keeps the pod's address",
			in:   newLab(withLocal(), withPodsFirewall()).input(from("10.64.3.7:40000")),
			want: scenario{
				Node: "node-3", Endpoint: "web-a 10.64.1.3:8080", Outcome: Delivered,
				Hops: []string{
					"client Client->node-3: 10.64.3.7:40000 -> 203.0.113.10:80 sent",
					"kube-proxy DNAT node-3->node-3: 10.64.3.7:40000 -> 203.0.113.10:80 => 10.64.3.7:40000 -> 10.64.1.3:8080 rewritten",
					"node route node-3->VPC: 10.64.3.7:40000 -> 10.64.1.3:8080 routed",
					"VPC firewall VPC->node-1: 10.64.3.7:40000 -> 10.64.1.3:8080 allowed",
					"pod node-1->pod: 10.64.3.7:40000 -> 10.64.1.3:8080 delivered",
				},
				Reply: []string{
					"pod pod->node-1: 10.64.1.3:8080 -> 10.64.3.7:40000 sent",
					"node route node-1->VPC: 10.64.1.3:8080 -> 10.64.3.7:40000 routed",
					"VPC firewall VPC->node-3: 10.64.1.3:8080 -> 10.64.3.7:40000 allowed",
					"kube-proxy conntrack node-3->node-3: 10.64.1.3:8080 -> 10.64.3.7:40000 => 203.0.113.10:80 -> 10.64.3.7:40000 rewritten",
					"client node-3->Client: 203.0.113.10:80 -> 10.64.3.7:40000 received",
				},
				Rewrites: Rewrites{Forward: 1, Reply: 1},
			},
		},
		{
			name: "local, node-3 itself: kube-proxy sends it to any endpoint and masquerades it",
			in:   newLab(withLocal()).input(from("10.128.0.4:40000")),
			want: scenario{
				Node: "node-3", Endpoint: "web-a 10.64.1.3:8080", Outcome: Delivered,
				Hops: []string{
					"client Client->node-3: 10.128.0.4:40000 -> 203.0.113.10:80 sent",
					"kube-proxy DNAT node-3->node-3: 10.128.0.4:40000 -> 203.0.113.10:80 => 10.128.0.4:40000 -> 10.64.1.3:8080 rewritten",
					"kube-proxy SNAT (masquerade) node-3->node-3: 10.128.0.4:40000 -> 10.64.1.3:8080 => 10.128.0.4:* -> 10.64.1.3:8080 rewritten",
					"node route node-3->VPC: 10.128.0.4:* -> 10.64.1.3:8080 routed",
					"VPC firewall VPC->node-1: 10.128.0.4:* -> 10.64.1.3:8080 allowed",
					"pod node-1->pod: 10.128.0.4:* -> 10.64.1.3:8080 delivered",
				},
				Reply: []string{
					"pod pod->node-1: 10.64.1.3:8080 -> 10.128.0.4:* sent",
					"node route node-1->VPC: 10.64.1.3:8080 -> 10.128.0.4:* routed",
					"VPC firewall VPC->node-3: 10.64.1.3:8080 -> 10.128.0.4:* allowed",
					"kube-proxy conntrack node-3->node-3: 10.64.1.3:8080 -> 10.128.0.4:* => 203.0.113.10:80 -> 10.128.0.4:40000 rewritten",
					"client node-3->Client: 203.0.113.10:80 -> 10.128.0.4:40000 received",
				},
				Rewrites: Rewrites{Forward: 2, Reply: 2},
			},
		},
		{
			name: "a pod whose packet kube-proxy sends to itself is masqueraded (hairpin)",
			in:   newLab(withLocal()).input(from("10.64.1.3:40000")),
			want: scenario{
				Node: "node-1", Endpoint: "web-a 10.64.1.3:8080", Outcome: Delivered,
				Hops: []string{
					"client Client->node-1: 10.64.1.3:40000 -> 203.0.113.10:80 sent",
					"kube-proxy DNAT node-1->node-1: 10.64.1.3:40000 -> 203.0.113.10:80 => 10.64.1.3:40000 -> 10.64.1.3:8080 rewritten",
					"kube-proxy SNAT (masquerade) node-1->node-1: 10.64.1.3:40000 -> 10.64.1.3:8080 => 10.64.1.1:* -> 10.64.1.3:8080 rewritten",
					"pod node-1->pod: 10.64.1.1:* -> 10.64.1.3:8080 delivered",
				},
				Reply: []string{
					"pod pod->node-1: 10.64.1.3:8080 -> 10.64.1.1:* sent",
					"kube-proxy conntrack node-1->node-1: 10.64.1.3:8080 -> 10.64.1.1:* => 203.0.113.10:80 -> 10.64.1.3:40000 rewritten",
					"client node-1->Client: 203.0.113.10:80 -> 10.64.1.3:40000 received",
				},
				Rewrites: Rewrites{Forward: 2, Reply: 2},
			},
		},
	})
}

func TestRunCountsPodsInsideTheVPC(t *testing.T) {
	// A pod's address is in its node's pod CIDR, which the VPC routes
	// (the CCM's routes): it reaches internal addresses as the nodes do.
	in := newLab(withNodeIP(v1.NodeInternalIP, 1), withPodsFirewall()).input(from("10.64.2.7:40000"), to("10.128.0.4"))
	got, err := Run(in)
	if err != nil {
		t.Fatal(err)
	}
	if got.Drop == nil || got.Drop.Component != compDNAT || got.Outcome != Rejected {
		t.Errorf("Run = %s, %+v; want node-3's own stack to reject it (kube-proxy has no rule for an unpublished address)", got.Outcome, got.Drop)
	}
}

func TestRunExplainsAPodsUnmasqueradedPacketTheFirewallDrops(t *testing.T) {
	// Source tags match an instance's primary address only
	// (EvaluateIngress): the nodes' rule does not let a pod's own address
	// across nodes.
	got, err := Run(newLab(withLocal()).input(from("10.64.3.7:40000")))
	if err != nil {
		t.Fatal(err)
	}
	want := &Drop{Hop: 4, Component: compFirewall, At: "node-1",
		Reason: "no firewall rule allows tcp:8080 from 10.64.3.7 to pod address 10.64.1.3 on node-1 (10.128.0.2, tags k8s-node): the packet keeps the client pod's address, which no source tag matches (externalTrafficPolicy Local does not masquerade a pod's packet)",
		Fix: []string{
			"let the pods reach each other: a firewall rule from the pod CIDRs (10.64.1.0/24, 10.64.2.0/24, 10.64.3.0/24) to the nodes on tcp:8080",
			"or set externalTrafficPolicy: Cluster, which masquerades the packet to the node's address",
		}}
	if diff := cmp.Diff(want, got.Drop); diff != "" {
		t.Errorf("drop (-want +got):\n%s", diff)
	}
}

func TestRunTakesANodesExternalAddressForAClientOutside(t *testing.T) {
	// A node's own packets leave with its internal address; its external
	// address as a source is a client on the internet (or the node through
	// its 1:1 NAT, after the VPC), which meets the forwarding rule.
	got, err := Run(newLab().input(from("203.0.113.4:40000")))
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Hops) < 2 || got.Hops[0].Next != atVPC || got.Hops[1].Component != compForwarding {
		t.Errorf("hops %v; want the client's packet to the VPC and the forwarding rule", summarize(got).Hops)
	}
}
