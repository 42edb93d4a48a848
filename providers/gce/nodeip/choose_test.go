package nodeip

import (
	"fmt"
	"net/netip"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/test/fixture"
)

func TestIngressOrder(t *testing.T) {
	nodes := []*v1.Node{
		newNode("b", fixture.InternalIP("10.0.0.20"), fixture.InternalIP("fd00::20")),
		newNode("a", fixture.InternalIP("fd00::3"), fixture.InternalIP("10.0.0.3")),
		newNode("c", fixture.InternalIP("10.0.0.100")),
	}
	tests := []struct {
		name     string
		families []v1.IPFamily
		want     []string
	}{
		{"a single-stack IPv4 Service gets the IPv4 addresses, sorted numerically",
			[]v1.IPFamily{v1.IPv4Protocol}, []string{"10.0.0.3", "10.0.0.20", "10.0.0.100"}},
		{"a single-stack IPv6 Service gets the IPv6 addresses of the nodes that have one",
			[]v1.IPFamily{v1.IPv6Protocol}, []string{"fd00::3", "fd00::20"}},
		{"a dual-stack Service preferring IPv4 lists IPv4 first",
			[]v1.IPFamily{v1.IPv4Protocol, v1.IPv6Protocol}, []string{"10.0.0.3", "10.0.0.20", "10.0.0.100", "fd00::3", "fd00::20"}},
		{"a dual-stack Service preferring IPv6 lists IPv6 first",
			[]v1.IPFamily{v1.IPv6Protocol, v1.IPv4Protocol}, []string{"fd00::3", "fd00::20", "10.0.0.3", "10.0.0.20", "10.0.0.100"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := settings{selector: labels.Everything(), addressType: v1.NodeInternalIP, families: tt.families}
			got := ingressOf(candidateTargets(nodeInfosOf(nodes), s, nil), tt.families)
			if diff := cmp.Diff(tt.want, ips(got)); diff != "" {
				t.Errorf("ingress (-want +got):\n%s", diff)
			}
			for _, e := range got {
				if e.IPMode == nil || *e.IPMode != v1.LoadBalancerIPModeVIP {
					t.Errorf("entry %s has ipMode %v, want VIP written explicitly", e.IP, e.IPMode)
				}
			}
		})
	}
}

func TestFamiliesOf(t *testing.T) {
	tests := []struct {
		name string
		svc  *v1.Service
		want []v1.IPFamily
	}{
		{"spec.ipFamilies is followed as it is", newService("s", fixture.Families(v1.IPv6Protocol, v1.IPv4Protocol)), []v1.IPFamily{v1.IPv6Protocol, v1.IPv4Protocol}},
		{"without ipFamilies, an IPv6 cluster IP means IPv6", newService("s", fixture.Families(), func(s *v1.Service) { s.Spec.ClusterIP = "fd00:10::1" }), []v1.IPFamily{v1.IPv6Protocol}},
		{"without ipFamilies or a cluster IP, IPv4", newService("s", fixture.Families()), []v1.IPFamily{v1.IPv4Protocol}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, familiesOf(tt.svc)); diff != "" {
				t.Errorf("families (-want +got):\n%s", diff)
			}
		})
	}
}

// targetsNamed are targets for nodes n0..n(count-1).
func targetsNamed(names ...string) []target {
	var out []target
	for i, n := range names {
		a := netip.AddrFrom4([4]byte{10, 0, byte(i / 250), byte(i%250 + 1)})
		out = append(out, target{Node: n, Addresses: []netip.Addr{a}, Internal: []netip.Addr{a}})
	}
	return out
}

func nodeNames(ts []target) []string {
	var out []string
	for _, t := range ts {
		out = append(out, t.Node)
	}
	return out
}

func TestCapTargets(t *testing.T) {
	var names []string
	for i := range 20 {
		names = append(names, fmt.Sprintf("node-%02d", i))
	}
	const uid = "3f1c0b7e-2a8d-4c55-9e01-77aa12bc34de"
	chosen := nodeNames(capTargets(uid, targetsNamed(names...), 3))
	others := slices.DeleteFunc(slices.Clone(names), func(n string) bool { return slices.Contains(chosen, n) })

	t.Run("no cap publishes every target", func(t *testing.T) {
		if got := capTargets(uid, targetsNamed(names...), 0); len(got) != len(names) {
			t.Errorf("got %d targets, want %d", len(got), len(names))
		}
	})
	t.Run("a cap above the count publishes every target", func(t *testing.T) {
		if got := capTargets(uid, targetsNamed(names[:2]...), 3); len(got) != 2 {
			t.Errorf("got %d targets, want 2", len(got))
		}
	})
	t.Run("the cap keeps that many, sorted by node name", func(t *testing.T) {
		if len(chosen) != 3 || !slices.IsSorted(chosen) {
			t.Errorf("chosen = %v, want 3 names in order", chosen)
		}
	})
	t.Run("the subset does not depend on the order nodes are listed in", func(t *testing.T) {
		reversed := slices.Clone(names)
		slices.Reverse(reversed)
		if diff := cmp.Diff(chosen, nodeNames(capTargets(uid, targetsNamed(reversed...), 3))); diff != "" {
			t.Errorf("(-first +reversed):\n%s", diff)
		}
	})
	t.Run("unrelated nodes leaving do not change the subset", func(t *testing.T) {
		remaining := append(slices.Clone(chosen), others[:5]...)
		if diff := cmp.Diff(chosen, nodeNames(capTargets(uid, targetsNamed(remaining...), 3))); diff != "" {
			t.Errorf("(-before +after):\n%s", diff)
		}
	})
	t.Run("new nodes joining change the subset at most by the nodes that joined", func(t *testing.T) {
		more := slices.Clone(names)
		for i := range 20 {
			more = append(more, fmt.Sprintf("new-%02d", i))
		}
		after := nodeNames(capTargets(uid, targetsNamed(more...), 3))
		for _, n := range after {
			if !slices.Contains(chosen, n) && slices.Contains(names, n) {
				t.Errorf("old node %s entered the subset %v when only new nodes joined (was %v)", n, after, chosen)
			}
		}
	})
	t.Run("a chosen node leaving is replaced, the others stay", func(t *testing.T) {
		without := slices.DeleteFunc(slices.Clone(names), func(n string) bool { return n == chosen[0] })
		after := nodeNames(capTargets(uid, targetsNamed(without...), 3))
		for _, n := range chosen[1:] {
			if !slices.Contains(after, n) {
				t.Errorf("%s left the subset %v when %s left", n, after, chosen[0])
			}
		}
		if len(after) != 3 {
			t.Errorf("subset %v, want 3 nodes", after)
		}
	})
	t.Run("different Services spread over different nodes", func(t *testing.T) {
		seen := map[string]bool{}
		for i := range 10 {
			for _, n := range nodeNames(capTargets(fmt.Sprintf("uid-%d", i), targetsNamed(names...), 2)) {
				seen[n] = true
			}
		}
		if len(seen) < 6 {
			t.Errorf("10 Services capped at 2 use only %d of 20 nodes; rendezvous hashing should spread them", len(seen))
		}
	})
}
