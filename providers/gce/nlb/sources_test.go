package nlb

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/api/compute/v1"
	v1 "k8s.io/api/core/v1"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/providers/gce/annotations"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/test/fakegce"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/test/fixture"
)

// dualStackCloud is fake-gce with a dual-stack subnetwork the load
// balancers take their IPv6 address from.
func dualStackCloud(t *testing.T) *lbCloud {
	t.Helper()
	lc := newLBCloud(t, fakegce.Config{}, "node-1", "node-2")
	fixture.InsertSubnetwork(t, lc.Cloud, lc.Project, "us-central1", &compute.Subnetwork{Name: "ds", Network: "global/networks/default",
		IpCidrRange: "10.200.0.0/24", StackType: "IPV4_IPV6", Ipv6AccessType: "EXTERNAL"})
	lc.p.SubnetworkURL = "https://www.googleapis.com/compute/v1/projects/fake-project/regions/us-central1/subnetworks/ds"
	return lc
}

// clientSources are the source ranges of the Service's client rules, by
// rule name; a missing rule is absent.
func clientSources(t *testing.T, lc *lbCloud, base string) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for _, name := range []string{base + "-fw", base + "-fw6"} {
		fw, err := lc.Compute.Firewalls.Get(lc.Project, name).Do()
		if err == nil {
			out[name] = fw.SourceRanges
		}
	}
	return out
}

func TestADualStackServiceWithTheRangesOfOneFamilyKeepsTheOtherClosed(t *testing.T) {
	lc := dualStackCloud(t)
	nodes := nodesFor("us-central1-a", "node-1", "node-2")
	svc := newService("web", fixture.Annotation(annotations.Backend, BackendService))
	svc.Spec.IPFamilies = []v1.IPFamily{v1.IPv4Protocol, v1.IPv6Protocol}
	base := lc.p.Owner.LoadBalancerBase(string(svc.UID))

	steps := []struct {
		name   string
		ranges []string
		want   map[string][]string
	}{
		{name: "a Service that names no range is open to everyone in both families",
			want: map[string][]string{base + "-fw": {"0.0.0.0/0"}, base + "-fw6": {"::/0"}}},
		{name: "a Service that names IPv4 ranges only gets no IPv6 client rule, and the one it had goes",
			ranges: []string{"198.51.100.0/24"},
			want:   map[string][]string{base + "-fw": {"198.51.100.0/24"}}},
		{name: "a Service that names IPv6 ranges only gets no IPv4 client rule",
			ranges: []string{"2001:db8::/32"},
			want:   map[string][]string{base + "-fw6": {"2001:db8::/32"}}},
		{name: "a Service that names ranges of both families gets both rules",
			ranges: []string{"198.51.100.0/24", "2001:db8::/32"},
			want:   map[string][]string{base + "-fw": {"198.51.100.0/24"}, base + "-fw6": {"2001:db8::/32"}}},
	}
	for _, step := range steps {
		t.Run(step.name, func(t *testing.T) {
			svc.Spec.LoadBalancerSourceRanges = step.ranges
			ensure(t, lc, svc, nodes)
			if diff := cmp.Diff(step.want, clientSources(t, lc, base)); diff != "" {
				t.Errorf("client rules' source ranges (-want +got):\n%s", diff)
			}
			for _, hc := range []string{base + "-hc", base + "-hc6"} {
				if _, err := lc.Compute.Firewalls.Get(lc.Project, hc).Do(); err != nil {
					t.Errorf("health-check rule %s: %v (the health checkers come in whatever the clients' ranges)", hc, err)
				}
			}
			resyncMakesNoWrites(t, lc, svc, nodes)
		})
	}
	if err := lc.lb().Delete(context.Background(), svc); err != nil {
		t.Fatal(err)
	}
	if left := lc.owned(); len(left) != 0 {
		t.Errorf("left after delete: %v", left)
	}
}

func TestAnIPv4ServiceWithIPv6RangesOnlyIsOpenToNoOne(t *testing.T) {
	lc := newLBCloud(t, fakegce.Config{}, "node-1")
	nodes := nodesFor("us-central1-a", "node-1")
	svc := newService("web")
	base := lc.p.Owner.LoadBalancerBase(string(svc.UID))
	ensure(t, lc, svc, nodes)
	svc.Spec.LoadBalancerSourceRanges = []string{"2001:db8::/32"}
	ensure(t, lc, svc, nodes)
	if got := clientSources(t, lc, base); len(got) != 0 {
		t.Errorf("client rules = %v, want none: the Service names no IPv4 range, and the API would read a rule without sources as 0.0.0.0/0", got)
	}
	if note := SourcesNoteOf(svc); !note.Blocking || note.Reason == "" {
		t.Errorf("note = %+v, want one that says no client can connect", note)
	}
}
