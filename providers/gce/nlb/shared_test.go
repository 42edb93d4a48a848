package nlb

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/api/compute/v1"
	v1 "k8s.io/api/core/v1"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/ownership"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/providers/gce/annotations"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/test/fakegce"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/test/fixture"
)

// sharedDeletes are the delete calls fake-gce received for the resources
// the cluster's load balancers share.
func sharedDeletes(lc *lbCloud) []string {
	var out []string
	for _, w := range writesSince(lc) {
		switch w {
		case "httpHealthChecks.delete", "regionHealthChecks.delete", "instanceGroups.delete":
			out = append(out, w)
		}
	}
	return out
}

// The cluster's kube-proxy health checks and its instance groups are
// deleted by the teardown of the last load balancer that uses them, and
// by no other: the others make no delete call on them at all (before, each
// teardown tried and counted on the API's 400 "in use").
func TestSharedResourcesGoWithTheLastLoadBalancerThatUsesThem(t *testing.T) {
	for _, tt := range []struct {
		backend    string
		lastWrites []string
	}{
		{backend: BackendTargetPool, lastWrites: []string{"httpHealthChecks.delete"}},
		{backend: BackendService, lastWrites: []string{"instanceGroups.delete", "regionHealthChecks.delete"}},
	} {
		t.Run(tt.backend, func(t *testing.T) {
			lc := newLBCloud(t, fakegce.Config{}, "node-1", "node-2")
			lc.p.DefaultBackend = tt.backend
			nodes := nodesFor("us-central1-a", "node-1", "node-2")
			web, api := newService("web"), newService("api-server", fixture.Ports("TCP", 443))
			ensure(t, lc, web, nodes)
			ensure(t, lc, api, nodes)
			shared := lc.owned()

			lc.Server.ResetCalls()
			if err := lc.lb().Delete(context.Background(), web); err != nil {
				t.Fatal(err)
			}
			if got := sharedDeletes(lc); len(got) != 0 {
				t.Errorf("the teardown of one of two load balancers deleted shared resources: %v", got)
			}
			left := lc.owned()
			for _, k := range shared {
				if (strings.Contains(k, "ealthChecks/") || strings.Contains(k, "/instanceGroups/")) &&
					!strings.Contains(k, lc.p.Owner.LoadBalancerBase(string(web.UID))) && !slices.Contains(left, k) {
					t.Errorf("a shared resource went with the first teardown: %s", k)
				}
			}

			lc.Server.ResetCalls()
			if err := lc.lb().Delete(context.Background(), api); err != nil {
				t.Fatal(err)
			}
			got := sharedDeletes(lc)
			slices.Sort(got)
			if d := cmp.Diff(tt.lastWrites, got); d != "" {
				t.Errorf("the last teardown's deletes of shared resources (-want +got):\n%s", d)
			}
			if left := lc.owned(); len(left) != 0 {
				t.Errorf("left after both teardowns: %v", left)
			}
		})
	}
}

// A Service that leaves the backend service for a target pool gives its
// backend service up; the groups and the regional check another Service
// still uses stay, and no delete is tried on them. Its way back finds them.
func TestLeavingTheBackendServiceKeepsTheGroupsOthersUse(t *testing.T) {
	lc := newLBCloud(t, fakegce.Config{}, "node-1", "node-2")
	lc.p.DefaultBackend = BackendService
	nodes := nodesFor("us-central1-a", "node-1", "node-2")
	web, api := newService("web"), newService("api-server", fixture.Ports("TCP", 443))
	ip := ensure(t, lc, web, nodes)
	ensure(t, lc, api, nodes)

	web.Annotations[annotations.Backend] = BackendTargetPool
	lc.Server.ResetCalls()
	if got := ensure(t, lc, web, nodes); got != ip {
		t.Errorf("the switch to a target pool moved the IP from %s to %s", ip, got)
	}
	if got := sharedDeletes(lc); len(got) != 0 {
		t.Errorf("the switch to a target pool deleted shared resources: %v", got)
	}
	if _, err := lc.Compute.InstanceGroups.Get(lc.Project, "us-central1-a", lc.p.Owner.InstanceGroupName("us-central1-a")).Do(); err != nil {
		t.Errorf("the shared group is gone: %v", err)
	}
	resyncMakesNoWrites(t, lc, web, nodes)

	web.Annotations[annotations.Backend] = BackendService
	if got := ensure(t, lc, web, nodes); got != ip {
		t.Errorf("the switch back moved the IP from %s to %s", ip, got)
	}
	resyncMakesNoWrites(t, lc, web, nodes)
	bs, err := lc.Compute.RegionBackendServices.Get(lc.Project, "us-central1", lc.p.Owner.LoadBalancerBase(string(web.UID))).Do()
	if err != nil || len(bs.Backends) != 1 {
		t.Errorf("the backend service after the way back = %+v, %v", bs, err)
	}
}

func TestUnusedShared(t *testing.T) {
	const base = "k8s-test-lb-web"
	hcOf := func(name string) string { return ownership.LinkBase + "projects/p/global/httpHealthChecks/" + name }
	groupA := ownership.LinkBase + "projects/p/zones/us-central1-a/instanceGroups/k8s-test-ig-us-central1-a"
	groupB := ownership.LinkBase + "projects/p/zones/us-central1-b/instanceGroups/k8s-test-ig-us-central1-b"
	candidates := sharedCandidates{healthCheck: "k8s-test-hc-kube-proxy", regionHealthCheck: []string{"k8s-test-hc-kube-proxy"}, groups: []string{groupA, groupB}}
	tests := []struct {
		name  string
		users sharedUsers
		want  sharedCandidates
	}{
		{name: "with no other load balancer, all are unused", want: candidates},
		{name: "the teardown's own pool and backend service do not count",
			users: sharedUsers{pools: []*compute.TargetPool{{Name: base, HealthChecks: []string{hcOf("k8s-test-hc-kube-proxy")}}},
				services: []*compute.BackendService{{Name: base, Backends: []*compute.Backend{{Group: groupA}}}}},
			want: candidates},
		{name: "another pool on the check keeps the check only",
			users: sharedUsers{pools: []*compute.TargetPool{{Name: "k8s-test-lb-api", HealthChecks: []string{hcOf("k8s-test-hc-kube-proxy")}}}},
			want:  sharedCandidates{regionHealthCheck: candidates.regionHealthCheck, groups: candidates.groups}},
		{name: "another backend service keeps its check and its zones' groups, written from another endpoint",
			users: sharedUsers{services: []*compute.BackendService{{Name: "k8s-test-lb-api",
				HealthChecks: []string{"https://compute.example/compute/v1/projects/p/regions/r/healthChecks/k8s-test-hc-kube-proxy"},
				Backends:     []*compute.Backend{{Group: "https://compute.example/compute/v1/projects/p/zones/us-central1-b/instanceGroups/k8s-test-ig-us-central1-b"}}}}},
			want: sharedCandidates{healthCheck: candidates.healthCheck, groups: []string{groupA}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := unusedShared(candidates, tt.users, base)
			if d := cmp.Diff(tt.want, got, cmp.AllowUnexported(sharedCandidates{})); d != "" {
				t.Errorf("unusedShared (-want +got):\n%s", d)
			}
		})
	}
}

// The last Services of a cluster torn down at once: each may see the
// others' load balancers before it deletes its own, but the shared
// resources still go with the last of them.
func TestTheLastTeardownsAtOnceLeaveNoSharedResource(t *testing.T) {
	for _, backend := range []string{BackendTargetPool, BackendService} {
		t.Run(backend, func(t *testing.T) {
			lc := newLBCloud(t, fakegce.Config{}, "node-1")
			lc.p.DefaultBackend = backend
			nodes := nodesFor("us-central1-a", "node-1")
			var svcs []*v1.Service
			for _, name := range []string{"web", "api-server", "dns-server-a"} {
				svc := newService(name)
				ensure(t, lc, svc, nodes)
				svcs = append(svcs, svc)
			}
			var wg sync.WaitGroup
			errs := make(chan error, len(svcs))
			for _, svc := range svcs {
				wg.Go(func() { errs <- lc.lb().Delete(context.Background(), svc) })
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				if err != nil {
					t.Fatal(err)
				}
			}
			if left := lc.owned(); len(left) != 0 {
				t.Errorf("left after the teardowns: %v", left)
			}
		})
	}
}

// The release of a Service that has no load balancer (a nodeip Service's,
// say) makes no write while another load balancer uses the shared check.
func TestATeardownWithNothingToRemoveWritesNothing(t *testing.T) {
	lc := newLBCloud(t, fakegce.Config{}, "node-1")
	lc.p.DefaultBackend = BackendTargetPool
	ensure(t, lc, newService("web"), nodesFor("us-central1-a", "node-1"))
	lc.Server.ResetCalls()
	if err := lc.lb().Delete(context.Background(), newService("nothing-here")); err != nil {
		t.Fatal(err)
	}
	if w := writesSince(lc); len(w) != 0 {
		t.Errorf("writes %v, want none", w)
	}
	if n := lc.calls(); n.reads != 9 {
		t.Errorf("made %s, want 9 reads", n)
	}
}
