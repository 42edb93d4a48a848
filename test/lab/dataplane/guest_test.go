package dataplane

import (
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestForwardedIPsAreTheRulesEachInstanceBacks(t *testing.T) {
	a := netip.MustParseAddr
	backends := func(ips ...string) []Backend {
		var out []Backend
		for _, ip := range ips {
			out = append(out, Backend{IP: a(ip)})
		}
		return out
	}
	for _, tc := range []struct {
		name string
		plan Plan
		want map[netip.Addr][]netip.Addr
	}{
		{name: "no forwarding rules, no local routes", want: map[netip.Addr][]netip.Addr{}},
		{
			name: "each backend gets the addresses of its rules, once, sorted",
			plan: Plan{ForwardingRules: []ForwardingRule{
				{Name: "web-udp", IP: a("203.0.113.9"), Backends: backends("10.128.0.2")},
				{Name: "web-tcp", IP: a("203.0.113.9"), Backends: backends("10.128.0.2", "10.128.0.3")},
				{Name: "api", IP: a("203.0.113.5"), Backends: backends("10.128.0.2")},
			}},
			want: map[netip.Addr][]netip.Addr{
				a("10.128.0.2"): {a("203.0.113.5"), a("203.0.113.9")},
				a("10.128.0.3"): {a("203.0.113.9")},
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, ForwardedIPs(tc.plan), cmp.Comparer(func(x, y netip.Addr) bool { return x == y })); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}
