package gce

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/api/compute/v1"
	"google.golang.org/api/googleapi"
	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/firewall/firewallgc"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/ownership"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/providers/gce/cloudconfig"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/test/fakegce"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/test/fakegce/fakegcetest"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/test/fixture"
)

func TestFirewallRulesOfVanishedServicesAreCollected(t *testing.T) {
	tc := newTestCloud(t, fakegce.Config{}, func(c *cloudconfig.Config) { c.NodeTags = []string{"k8s-node"} })
	ctx := context.Background()
	live := lbService(nil)
	gone := lbService(nil)
	gone.Name, gone.UID = "gone", "0d0d0d0d-1111-4222-8333-444455556666"
	for _, svc := range []*v1.Service{live, gone} {
		if _, err := tc.provider.EnsureLoadBalancer(ctx, cluster, svc, nil); err != nil {
			t.Fatal(err)
		}
	}
	name := ownership.NodeIPFirewallName(tc.provider.owner.LoadBalancerBase(string(gone.UID)))
	base := name[:len(name)-len("-nip")]
	// Both rules exist before the collector runs, so their absence after is
	// its doing.
	for _, rule := range []string{base + "-fw", base + "-hc"} {
		if _, err := tc.Compute.Firewalls.Get(tc.Project, rule).Do(); err != nil {
			t.Fatalf("before the collector runs: get %s: %v", rule, err)
		}
	}
	// The controller as the command runs it: on a Service informer, with
	// its own client for what the cache does not know.
	client := fake.NewClientset(live)
	factory := informers.NewSharedInformerFactory(client, 0)
	gc := firewallgc.New(tc.provider.CollectFirewallGarbage, client, factory.Core().V1().Services())
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	factory.Start(runCtx.Done())
	go gc.Run(runCtx)
	// gone reports whether a rule is gone: a 404, and no other error.
	gone404 := func(rule string) bool {
		_, err := tc.Compute.Firewalls.Get(tc.Project, rule).Do()
		var apiErr *googleapi.Error
		if errors.As(err, &apiErr) && apiErr.Code == http.StatusNotFound {
			return true
		}
		if err != nil {
			t.Fatalf("get %s: %v, want the rule or a 404", rule, err)
		}
		return false
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if gone404(base+"-fw") && gone404(base+"-hc") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the vanished Service's firewall rules are still there")
		}
		time.Sleep(20 * time.Millisecond)
	}
	liveBase := ownership.NodeIPFirewallName(tc.provider.owner.LoadBalancerBase(string(live.UID)))
	liveBase = liveBase[:len(liveBase)-len("-nip")]
	if _, err := tc.Compute.Firewalls.Get(tc.Project, liveBase+"-fw").Do(); err != nil {
		t.Errorf("the live Service's rule was collected: %v", err)
	}
}

// Two service projects of one Shared VPC host each run a cluster of the same
// name: both write their firewall rules into the host project, on the same
// network. Each cluster's garbage collector knows only its own Services, so
// it must collect only its own rules, and the two clusters' rules must not
// share names.
func TestClustersOfOneNameInTwoServiceProjectsKeepEachOthersFirewallRules(t *testing.T) {
	const host = "host-project"
	projects := []string{"team-a", "team-b"}
	fc := fakegcetest.Start(t, fakegce.Config{Projects: append([]string{host}, projects...)})
	waitOp := must(t, fc)
	hostNet := ownership.LinkBase + "projects/" + host + "/global/networks/shared"
	fixture.InsertNetwork(t, fc, host, fixture.CustomNetwork("shared"))
	fixture.InsertSubnetwork(t, fc, host, "us-central1", &compute.Subnetwork{Name: "nodes", Network: hostNet, IpCidrRange: "10.0.0.0/24"})

	type teamCluster struct {
		p       *Cloud
		svc     *v1.Service
		ruleFor func(suffix string) string
	}
	ctx := context.Background()
	var clusters []teamCluster
	for i, project := range projects {
		waitOp(fc.Compute.Instances.Insert(project, "us-central1-a", &compute.Instance{
			Name: "node-1", MachineType: "zones/us-central1-a/machineTypes/e2-standard-4",
			Disks: []*compute.AttachedDisk{{Boot: true, AutoDelete: true,
				InitializeParams: &compute.AttachedDiskInitializeParams{SourceImage: "projects/debian-cloud/global/images/family/debian-12"}}},
			NetworkInterfaces: []*compute.NetworkInterface{{Subnetwork: ownership.LinkBase + "projects/" + host + "/regions/us-central1/subnetworks/nodes",
				AccessConfigs: []*compute.AccessConfig{{}}}},
			Tags: &compute.Tags{Items: []string{"k8s-node"}},
		}).Do())
		cfg := &cloudconfig.Config{ProjectID: project, NetworkProjectID: host, NetworkName: "shared", LocalZone: "us-central1-a",
			NodeTags: []string{"k8s-node"}, APIEndpoint: fc.Endpoint, NoAuthentication: true, API: cloudconfig.APIConfig{QPS: 1000, Burst: 1000, MaxRetries: 1}}
		p, err := New(ctx, cfg, Options{ClusterName: cluster})
		if err != nil {
			t.Fatal(err)
		}
		svc := lbService(nil)
		svc.UID = types.UID(fmt.Sprintf("6a1d6c1e-1111-4222-8333-44445555666%d", i))
		if _, err := p.EnsureLoadBalancer(ctx, cluster, svc, []*v1.Node{node("node-1", "gce://"+project+"/us-central1-a/node-1")}); err != nil {
			t.Fatalf("%s: EnsureLoadBalancer: %v", project, err)
		}
		base := strings.TrimSuffix(ownership.NodeIPFirewallName(p.owner.LoadBalancerBase(string(svc.UID))), "-nip")
		clusters = append(clusters, teamCluster{p: p, svc: svc, ruleFor: func(suffix string) string { return base + suffix }})
	}
	a, b := clusters[0], clusters[1]
	if a.p.owner.Prefix() == b.p.owner.Prefix() {
		t.Errorf("both clusters name their resources with the prefix %s: their shared rules (health checks) are one rule", a.p.owner.Prefix())
	}

	// Each collector runs with its own cluster's Services only.
	for _, c := range clusters {
		deleted, err := collectOnce(t, c.p, []*v1.Service{c.svc}, c.svc)
		if err != nil || len(deleted) != 0 {
			t.Errorf("%s: collector deleted %v (%v); want nothing: every rule it owns has a live Service", c.p.project, deleted, err)
		}
	}
	for _, c := range clusters {
		for _, rule := range []string{c.ruleFor("-fw"), c.ruleFor("-hc")} {
			if _, err := fc.Compute.Firewalls.Get(host, rule).Do(); err != nil {
				t.Errorf("%s's rule %s after both collectors ran: %v", c.p.project, rule, err)
			}
		}
		st, exists, err := c.p.GetLoadBalancer(ctx, cluster, c.svc)
		if err != nil || !exists || len(st.Ingress) == 0 {
			t.Errorf("%s's load balancer after both collectors ran: %+v, exists %v, %v", c.p.project, st, exists, err)
		}
	}
}

// collectOnce runs one pass of the firewall-gc controller over p's rules,
// with cached in its informer's cache and stored in the API server its own
// client asks.
func collectOnce(t *testing.T, p *Cloud, cached []*v1.Service, stored ...*v1.Service) ([]string, error) {
	t.Helper()
	objects := func(svcs []*v1.Service) []runtime.Object {
		var out []runtime.Object
		for _, s := range svcs {
			out = append(out, s.DeepCopy())
		}
		return out
	}
	factory := informers.NewSharedInformerFactory(fake.NewClientset(objects(cached)...), 0)
	gc := firewallgc.New(p.CollectFirewallGarbage, fake.NewClientset(objects(stored)...), factory.Core().V1().Services())
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	factory.Start(ctx.Done())
	for typ, ok := range factory.WaitForCacheSync(ctx.Done()) {
		if !ok {
			t.Fatalf("the %v cache did not sync", typ)
		}
	}
	return gc.CollectOnce(ctx)
}

// The informer's cache may not have seen a Service yet whose rule exists
// (a previous leader still running made it): the API server, asked for the
// Service the rule names, keeps it. A Service of that name with another
// UID is a new one, and the rule of the old one goes.
func TestARuleOfAServiceTheCacheHasNotSeenIsKeptIfTheAPIServerHasIt(t *testing.T) {
	tc := newTestCloud(t, fakegce.Config{}, func(c *cloudconfig.Config) { c.NodeTags = []string{"k8s-node"} })
	svc := lbService(nil)
	if _, err := tc.provider.EnsureLoadBalancer(context.Background(), cluster, svc, nil); err != nil {
		t.Fatal(err)
	}
	if deleted, err := collectOnce(t, tc.provider, nil, svc); err != nil || len(deleted) != 0 {
		t.Errorf("with the Service in the API server only: deleted %v (%v), want nothing", deleted, err)
	}
	renamed := svc.DeepCopy()
	renamed.UID = "7b7b7b7b-1111-4222-8333-444455556666"
	deleted, err := collectOnce(t, tc.provider, nil, renamed)
	base := strings.TrimSuffix(ownership.NodeIPFirewallName(tc.provider.owner.LoadBalancerBase(string(svc.UID))), "-nip")
	if want := []string{base + "-fw", base + "-hc"}; err != nil || !slices.Equal(deleted, want) {
		t.Errorf("with a new Service of the same name: deleted %v (%v), want %v", deleted, err, want)
	}
}
