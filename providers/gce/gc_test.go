package gce

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"google.golang.org/api/googleapi"

	v1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/test/fakegce"
)

func TestFirewallRulesOfVanishedServicesAreCollected(t *testing.T) {
	tc := newTestCloud(t, fakegce.Config{}, func(c *Config) { c.NodeTags = []string{"k8s-node"} })
	ctx := context.Background()
	live := lbService(nil)
	gone := lbService(nil)
	gone.Name, gone.UID = "gone", "0d0d0d0d-1111-4222-8333-444455556666"
	for _, svc := range []*v1.Service{live, gone} {
		if _, err := tc.provider.EnsureLoadBalancer(ctx, cluster, svc, nil); err != nil {
			t.Fatal(err)
		}
	}
	name := NodeIPFirewallName(tc.provider.owner, string(gone.UID))
	base := name[:len(name)-len("-nip")]
	// Both rules exist before the collector runs, so their absence after is
	// its doing.
	for _, rule := range []string{base + "-fw", base + "-hc"} {
		if _, err := tc.Compute.Firewalls.Get(tc.Project, rule).Do(); err != nil {
			t.Fatalf("before the collector runs: get %s: %v", rule, err)
		}
	}
	client := fake.NewSimpleClientset(live)
	stop := make(chan struct{})
	go tc.provider.collectFirewallGarbage(client, stop)
	defer close(stop)
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
	liveBase := NodeIPFirewallName(tc.provider.owner, string(live.UID))
	liveBase = liveBase[:len(liveBase)-len("-nip")]
	if _, err := tc.Compute.Firewalls.Get(tc.Project, liveBase+"-fw").Do(); err != nil {
		t.Errorf("the live Service's rule was collected: %v", err)
	}
}
