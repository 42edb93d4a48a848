package lab_test

import (
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/trace"
)

// tcp is a TCP flow from src to dst (IP:PORT).
func tcp(src, dst string) trace.Flow {
	return trace.Flow{Protocol: "TCP", Src: netip.MustParseAddrPort(src), Dst: netip.MustParseAddrPort(dst)}
}

// entry is a conntrack entry: the original tuple, then the reply tuple.
func entry(orig, reply trace.Flow) ctEntry { return ctEntry{Orig: orig, Reply: reply} }

func TestConntrackEntriesAlongAFlowSayItsRewrites(t *testing.T) {
	client := "198.51.100.10:41000"
	for _, tc := range []struct {
		name     string
		tables   map[string][]ctEntry
		first    trace.Flow
		wantPath []string
		want     []rewrite
	}{
		{
			name: "a passthrough load balancer delivers to node-1, which sends it masqueraded to a pod on node-2",
			tables: map[string][]ctEntry{
				vpcAt: {
					entry(tcp(client, "203.0.113.5:80"), tcp("203.0.113.5:80", client)),
					entry(tcp("10.128.0.11:52311", "10.64.2.11:8080"), tcp("10.64.2.11:8080", "10.128.0.11:52311")),
					// another client's flow
					entry(tcp("198.51.100.20:41000", "203.0.113.5:80"), tcp("203.0.113.5:80", "198.51.100.20:41000")),
				},
				"node-1": {entry(tcp(client, "203.0.113.5:80"), tcp("10.64.2.11:8080", "10.128.0.11:52311"))},
				"node-2": {entry(tcp("10.128.0.11:52311", "10.64.2.11:8080"), tcp("10.64.2.11:8080", "10.128.0.11:52311"))},
				"node-3": {},
			},
			first:    tcp(client, "203.0.113.5:80"),
			wantPath: []string{vpcAt, "node-1", vpcAt, "node-2"},
			want: []rewrite{
				{forward, "node-1", "destination", "203.0.113.5:80", "10.64.2.11:8080"},
				{forward, "node-1", "source", client, "10.128.0.11:*"},
				{back, "node-1", "destination", "10.128.0.11:*", client},
				{back, "node-1", "source", "10.64.2.11:8080", "203.0.113.5:80"},
			},
		},
		{
			name: "the 1:1 NAT turns a natIP into node-1's address, and node-1 masquerades to its own pod with its pod gateway",
			tables: map[string][]ctEntry{
				vpcAt: {entry(tcp(client, "203.0.113.2:8086"), tcp("10.128.0.11:8086", client))},
				"node-1": {
					entry(tcp(client, "10.128.0.11:8086"), tcp("10.64.1.11:8080", "10.64.1.1:60001")),
					// kube-proxy's own health check, from the VPC's checker
					entry(tcp("209.85.204.1:40000", "10.128.0.11:10256"), tcp("10.128.0.11:10256", "209.85.204.1:40000")),
				},
			},
			first:    tcp(client, "203.0.113.2:8086"),
			wantPath: []string{vpcAt, "node-1"},
			want: []rewrite{
				{forward, vpcAt, "destination", "203.0.113.2:8086", "10.128.0.11:8086"},
				{forward, "node-1", "destination", "10.128.0.11:8086", "10.64.1.11:8080"},
				{forward, "node-1", "source", client, "10.64.1.1:*"},
				{back, "node-1", "destination", "10.64.1.1:*", client},
				{back, "node-1", "source", "10.64.1.11:8080", "10.128.0.11:8086"},
				{back, vpcAt, "source", "10.128.0.11:8086", "203.0.113.2:8086"},
			},
		},
		{
			name: "externalTrafficPolicy Local keeps the client's address and port",
			tables: map[string][]ctEntry{
				vpcAt:    {entry(tcp(client, "203.0.113.3:8087"), tcp("10.128.0.12:8087", client))},
				"node-2": {entry(tcp(client, "10.128.0.12:8087"), tcp("10.64.2.11:8080", client))},
			},
			first:    tcp(client, "203.0.113.3:8087"),
			wantPath: []string{vpcAt, "node-2"},
			want: []rewrite{
				{forward, vpcAt, "destination", "203.0.113.3:8087", "10.128.0.12:8087"},
				{forward, "node-2", "destination", "10.128.0.12:8087", "10.64.2.11:8080"},
				{back, "node-2", "source", "10.64.2.11:8080", "10.128.0.12:8087"},
				{back, vpcAt, "source", "10.128.0.12:8087", "203.0.113.3:8087"},
			},
		},
		{
			name: "a masquerade that kept the source port shows that port",
			tables: map[string][]ctEntry{
				vpcAt:    {entry(tcp(client, "10.128.0.11:80"), tcp("10.128.0.11:80", client))},
				"node-1": {entry(tcp(client, "10.128.0.11:80"), tcp("10.64.1.11:8080", "10.64.1.1:41000"))},
			},
			first:    tcp(client, "10.128.0.11:80"),
			wantPath: []string{vpcAt, "node-1"},
			want: []rewrite{
				{forward, "node-1", "destination", "10.128.0.11:80", "10.64.1.11:8080"},
				{forward, "node-1", "source", client, "10.64.1.1:41000"},
				{back, "node-1", "destination", "10.64.1.1:41000", client},
				{back, "node-1", "source", "10.64.1.11:8080", "10.128.0.11:80"},
			},
		},
		{
			name:   "a flow the VPC has no entry of has no path and no rewrites",
			tables: map[string][]ctEntry{vpcAt: {}, "node-1": {entry(tcp(client, "10.128.0.11:80"), tcp("10.128.0.11:80", client))}},
			first:  tcp(client, "10.128.0.11:80"),
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := followFlow(tc.tables, tc.first)
			var at []string
			for _, p := range path {
				at = append(at, p.At)
			}
			if diff := cmp.Diff(tc.wantPath, at); diff != "" {
				t.Errorf("the path through the tables (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.want, conntrackRewrites(path)); diff != "" {
				t.Errorf("rewrites (-want +got):\n%s", diff)
			}
		})
	}
}

func TestATracesRewritesAreThoseOfItsHopsThatChangeThePacket(t *testing.T) {
	client := netip.MustParseAddrPort("198.51.100.10:41000")
	hop := func(component, at string, before, after trace.Flow) trace.Hop {
		return trace.Hop{Component: component, At: at, Before: before, After: after}
	}
	for _, tc := range []struct {
		name string
		tr   *trace.Trace
		want []rewrite
	}{
		{
			name: "the 1:1 NAT, kube-proxy's DNAT and masquerade, and their undoing on the way back",
			tr: &trace.Trace{Client: client,
				Hops: []trace.Hop{
					hop("client", "Client", tcp(client.String(), "203.0.113.2:8086"), tcp(client.String(), "203.0.113.2:8086")),
					hop("VPC NAT", vpcAt, tcp(client.String(), "203.0.113.2:8086"), tcp(client.String(), "10.128.0.11:8086")),
					hop("VPC firewall", vpcAt, tcp(client.String(), "10.128.0.11:8086"), tcp(client.String(), "10.128.0.11:8086")),
					hop("kube-proxy DNAT", "node-1", tcp(client.String(), "10.128.0.11:8086"), tcp(client.String(), "10.64.2.11:8080")),
					hop("kube-proxy SNAT (masquerade)", "node-1", tcp(client.String(), "10.64.2.11:8080"), tcp("10.128.0.11:0", "10.64.2.11:8080")),
					hop("node route", "node-1", tcp("10.128.0.11:0", "10.64.2.11:8080"), tcp("10.128.0.11:0", "10.64.2.11:8080")),
					hop("pod", "node-2", tcp("10.128.0.11:0", "10.64.2.11:8080"), tcp("10.128.0.11:0", "10.64.2.11:8080")),
				},
				Reply: []trace.Hop{
					hop("pod", "pod", tcp("10.64.2.11:8080", "10.128.0.11:0"), tcp("10.64.2.11:8080", "10.128.0.11:0")),
					hop("kube-proxy conntrack", "node-1", tcp("10.64.2.11:8080", "10.128.0.11:0"), tcp("10.128.0.11:8086", client.String())),
					hop("VPC NAT", vpcAt, tcp("10.128.0.11:8086", client.String()), tcp("203.0.113.2:8086", client.String())),
					hop("client", vpcAt, tcp("203.0.113.2:8086", client.String()), tcp("203.0.113.2:8086", client.String())),
				}},
			want: []rewrite{
				{forward, vpcAt, "destination", "203.0.113.2:8086", "10.128.0.11:8086"},
				{forward, "node-1", "destination", "10.128.0.11:8086", "10.64.2.11:8080"},
				{forward, "node-1", "source", client.String(), "10.128.0.11:*"},
				{back, "node-1", "destination", "10.128.0.11:*", client.String()},
				{back, "node-1", "source", "10.64.2.11:8080", "10.128.0.11:8086"},
				{back, vpcAt, "source", "10.128.0.11:8086", "203.0.113.2:8086"},
			},
		},
		{
			name: "a dropped packet's trace has the rewrites up to the drop and no reply",
			tr: &trace.Trace{Client: client, Outcome: trace.Dropped,
				Hops: []trace.Hop{
					hop("VPC NAT", vpcAt, tcp(client.String(), "203.0.113.2:8086"), tcp(client.String(), "10.128.0.11:8086")),
					hop("VPC firewall", "node-1", tcp(client.String(), "10.128.0.11:8086"), tcp(client.String(), "10.128.0.11:8086")),
				}},
			want: []rewrite{{forward, vpcAt, "destination", "203.0.113.2:8086", "10.128.0.11:8086"}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, traceRewrites(tc.tr)); diff != "" {
				t.Errorf("rewrites (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRewritesAreCountedForwardAndReplyApart(t *testing.T) {
	client := "198.51.100.10:41000"
	for _, tc := range []struct {
		name string
		rs   []rewrite
		want string
	}{
		{
			name: "the 1:1 NAT, kube-proxy's DNAT and masquerade are three forward rewrites, their undoing three reply ones",
			rs: []rewrite{
				{forward, vpcAt, "destination", "203.0.113.2:8086", "10.128.0.11:8086"},
				{forward, "node-1", "destination", "10.128.0.11:8086", "10.64.2.11:8080"},
				{forward, "node-1", "source", client, "10.128.0.11:*"},
				{back, "node-1", "destination", "10.128.0.11:*", client},
				{back, "node-1", "source", "10.64.2.11:8080", "10.128.0.11:8086"},
				{back, vpcAt, "source", "10.128.0.11:8086", "203.0.113.2:8086"},
			},
			want: "3 forward (client to pod), 3 reply (their undoing)",
		},
		{
			name: "externalTrafficPolicy Local has two forward rewrites",
			rs: []rewrite{
				{forward, vpcAt, "destination", "203.0.113.3:8087", "10.128.0.12:8087"},
				{forward, "node-2", "destination", "10.128.0.12:8087", "10.64.2.11:8080"},
				{back, "node-2", "source", "10.64.2.11:8080", "10.128.0.12:8087"},
				{back, vpcAt, "source", "10.128.0.12:8087", "203.0.113.3:8087"},
			},
			want: "2 forward (client to pod), 2 reply (their undoing)",
		},
		{name: "no rewrites", want: "0 forward (client to pod), 0 reply (their undoing)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := countRewrites(tc.rs).String(); got != tc.want {
				t.Errorf("counted %q, want %q", got, tc.want)
			}
		})
	}
}
