package gce

import (
	"context"
	"strings"
	"testing"

	v1 "k8s.io/api/core/v1"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/lbcondition"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/providers/gce/cloudconfig"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/providers/gce/nlb"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/test/fakegce"
)

// The load balancer of a Service whose ranges let no client in is built,
// and the note the service controller writes (with the condition, once per
// change: servicecontroller's tests) says no client may connect.
func TestAnExternalServiceWhoseRangesLetNoClientInSaysSoOnce(t *testing.T) {
	tc := newTestCloud(t, fakegce.Config{}, func(c *cloudconfig.Config) { c.NodeTags = []string{"k8s-node"} })
	tc.addInstance(t, "us-central1-a", "node-1")
	nodes := []*v1.Node{node("node-1", "gce://fake-project/us-central1-a/node-1")}
	ctx := context.Background()
	svc := lbService(nil)
	svc.Spec.IPFamilies = []v1.IPFamily{v1.IPv4Protocol}
	svc.Spec.LoadBalancerSourceRanges = []string{"2001:db8::/32"}
	if _, err := tc.provider.EnsureLoadBalancer(ctx, cluster, svc, nodes); err != nil {
		t.Fatal(err)
	}
	note := LoadBalancerNote(svc)
	if !note.Blocking || note.Reason != nlb.ReasonNoClientSource || !strings.Contains(note.Message, "no client may connect") {
		t.Errorf("note = %+v, want a blocking %s saying no client may connect", note, nlb.ReasonNoClientSource)
	}
	// An IPv4 range: nothing more to say.
	svc.Spec.LoadBalancerSourceRanges = []string{"198.51.100.0/24"}
	if _, err := tc.provider.EnsureLoadBalancer(ctx, cluster, svc, nodes); err != nil {
		t.Fatal(err)
	}
	if note := LoadBalancerNote(svc); note != (lbcondition.Note{}) {
		t.Errorf("note = %+v, want none", note)
	}
}
