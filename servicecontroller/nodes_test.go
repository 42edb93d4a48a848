package servicecontroller

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/test/fixture"
)

// newNode is a Ready node with a providerID in us-central1-a.
func newNode(name string, opts ...fixture.NodeOption) *v1.Node {
	return fixture.Node(name, append([]fixture.NodeOption{fixture.ProviderID("gce://fake-project/us-central1-a/" + name)}, opts...)...)
}

func withTaint(key string) fixture.NodeOption { return fixture.Taint(key, "") }
func beingDeleted() fixture.NodeOption        { return fixture.Deleting(metav1.Time{Time: time.Unix(1, 0)}) }
func withHeartbeat(t int64) fixture.NodeOption {
	return fixture.Heartbeat(metav1.Time{Time: time.Unix(t, 0)})
}

func TestEligibleNode(t *testing.T) {
	for _, tc := range []struct {
		name string
		node *v1.Node
		want bool
	}{
		{"a plain node is eligible", newNode("a"), true},
		{"a NotReady node stays eligible: the health check handles it", newNode("a", fixture.Ready(v1.ConditionFalse)), true},
		{"a node being deleted is not", newNode("a", beingDeleted()), false},
		{"a node labelled for exclusion is not", newNode("a", fixture.Label(v1.LabelNodeExcludeBalancers, "true")), false},
		{"the exclusion label set to false keeps the node", newNode("a", fixture.Label(v1.LabelNodeExcludeBalancers, "false")), true},
		{"an unparsable exclusion label excludes the node", newNode("a", fixture.Label(v1.LabelNodeExcludeBalancers, "maybe")), false},
		{"the autoscaler's deletion taint keeps the node until it is deleted", newNode("a", withTaint("ToBeDeletedByClusterAutoscaler")), true},
		{"another taint does not", newNode("a", withTaint("dedicated")), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := eligibleNode(tc.node); got != tc.want {
				t.Errorf("eligibleNode = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestEligibleNodesAreSortedAndFiltered(t *testing.T) {
	got := eligibleNodes([]*v1.Node{newNode("c"), newNode("a"), newNode("b", beingDeleted())})
	names := []string{}
	for _, n := range got {
		names = append(names, n.Name)
	}
	if diff := cmp.Diff([]string{"a", "c"}, names); diff != "" {
		t.Errorf("eligible nodes (-want +got):\n%s", diff)
	}
}

func TestNodeSetFingerprint(t *testing.T) {
	base := nodeSetFingerprint(eligibleNodes([]*v1.Node{newNode("a"), newNode("b")}))
	for _, tc := range []struct {
		name  string
		nodes []*v1.Node
		same  bool
	}{
		{"the same nodes in another order", []*v1.Node{newNode("b"), newNode("a")}, true},
		{"heartbeats and readiness do not count", []*v1.Node{newNode("a", withHeartbeat(7)), newNode("b", fixture.Ready(v1.ConditionFalse))}, true},
		{"a node more", []*v1.Node{newNode("a"), newNode("b"), newNode("c")}, false},
		{"a node less", []*v1.Node{newNode("a")}, false},
		{"a changed provider ID", []*v1.Node{newNode("a"), newNode("b", fixture.ProviderID("gce://p/z/other"))}, false},
		{"an excluded node", []*v1.Node{newNode("a"), newNode("b", fixture.Label(v1.LabelNodeExcludeBalancers, "true"))}, false},
		{"names that only concatenate alike", []*v1.Node{newNode("a", fixture.ProviderID("")), newNode("b", fixture.ProviderID(""))}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := nodeSetFingerprint(eligibleNodes(tc.nodes)) == base
			if got != tc.same {
				t.Errorf("same fingerprint = %v, want %v", got, tc.same)
			}
		})
	}
}

func TestNodeChangeMatters(t *testing.T) {
	for _, tc := range []struct {
		name     string
		old, cur *v1.Node
		want     bool
	}{
		{"a heartbeat does not", newNode("a", withHeartbeat(1)), newNode("a", withHeartbeat(2)), false},
		{"turning NotReady does not", newNode("a"), newNode("a", fixture.Ready(v1.ConditionFalse)), false},
		{"the provider ID being set does", newNode("a", fixture.ProviderID("")), newNode("a"), true},
		{"the exclusion label does", newNode("a"), newNode("a", fixture.Label(v1.LabelNodeExcludeBalancers, "true")), true},
		{"the autoscaler's taint does not", newNode("a"), newNode("a", withTaint("ToBeDeletedByClusterAutoscaler")), false},
		{"removing the autoscaler's taint does not", newNode("a", withTaint("ToBeDeletedByClusterAutoscaler")), newNode("a"), false},
		{"a deletion timestamp does", newNode("a"), newNode("a", beingDeleted()), true},
		{"an unrelated label does not", newNode("a"), newNode("a", fixture.Label("team", "web")), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := nodeChangeMatters(tc.old, tc.cur); got != tc.want {
				t.Errorf("nodeChangeMatters = %v, want %v", got, tc.want)
			}
		})
	}
}
