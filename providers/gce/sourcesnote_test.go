package gce

import (
	"context"
	"strings"
	"testing"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/providers/gce/nlb"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/test/fakegce"
)

func TestAnExternalServiceWhoseRangesLetNoClientInSaysSoOnce(t *testing.T) {
	tc := newTestCloud(t, fakegce.Config{}, func(c *Config) { c.NodeTags = []string{"k8s-node"} })
	tc.addInstance(t, "us-central1-a", "node-1")
	nodes := []*v1.Node{node("node-1", "gce://fake-project/us-central1-a/node-1")}
	ctx := context.Background()
	svc := lbService(nil)
	svc.Spec.IPFamilies = []v1.IPFamily{v1.IPv4Protocol}
	svc.Spec.LoadBalancerSourceRanges = []string{"2001:db8::/32"}
	client, rec := withReporter(tc, svc)
	if _, err := tc.provider.EnsureLoadBalancer(ctx, cluster, svc, nodes); err != nil {
		t.Fatal(err)
	}
	got, _ := client.CoreV1().Services("default").Get(ctx, "web", metav1.GetOptions{})
	c := meta.FindStatusCondition(got.Status.Conditions, ConditionLoadBalancerReady)
	if c == nil || c.Status != metav1.ConditionFalse || c.Reason != nlb.ReasonNoClientSource || !strings.Contains(c.Message, "no client may connect") {
		t.Errorf("condition = %+v, want False %s saying no client may connect", c, nlb.ReasonNoClientSource)
	}
	select {
	case e := <-rec.Events:
		if !strings.HasPrefix(e, "Warning "+nlb.ReasonNoClientSource+" ") {
			t.Errorf("event = %q", e)
		}
	default:
		t.Errorf("no Warning event")
	}
	// The same answer again: no new condition, no new event.
	client.ClearActions()
	if _, err := tc.provider.EnsureLoadBalancer(ctx, cluster, got, nodes); err != nil {
		t.Fatal(err)
	}
	for _, a := range client.Actions() {
		if a.GetVerb() == "patch" {
			t.Errorf("the unchanged condition was patched again")
		}
	}
	select {
	case e := <-rec.Events:
		t.Errorf("a second event for the same note: %q", e)
	default:
	}
	// An IPv4 range: the condition is True again, with no note.
	got.Spec.LoadBalancerSourceRanges = []string{"198.51.100.0/24"}
	if _, err := tc.provider.EnsureLoadBalancer(ctx, cluster, got, nodes); err != nil {
		t.Fatal(err)
	}
	got, _ = client.CoreV1().Services("default").Get(ctx, "web", metav1.GetOptions{})
	if c := meta.FindStatusCondition(got.Status.Conditions, ConditionLoadBalancerReady); c == nil || c.Status != metav1.ConditionTrue || c.Reason != "Provisioned" {
		t.Errorf("condition = %+v, want True Provisioned", c)
	}
}
