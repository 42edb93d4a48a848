package nodeip

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	v1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/test/fixture"
)

func TestNodeEligibility(t *testing.T) {
	tests := []struct {
		name string
		node *v1.Node
		want string
	}{
		{"a Ready node carries traffic", newNode("n"), ""},
		{"a node that is not Ready does not", newNode("n", fixture.NotReady()), "not Ready"},
		{"a node whose readiness is Unknown does not", newNode("n", fixture.Ready(v1.ConditionUnknown)), "not Ready"},
		{"a node that never reported readiness does not", newNode("n", fixture.NoReadyCondition()), "not Ready"},
		{"a node being deleted does not, even if Ready", newNode("n", nodeDeleting()), "being deleted"},
		{"a node labelled to be excluded from load balancers does not",
			newNode("n", fixture.Label(v1.LabelNodeExcludeBalancers, "true")), "labelled node.kubernetes.io/exclude-from-external-load-balancers"},
		{"an exclusion label with a value that is no boolean excludes too, as upstream reads it",
			newNode("n", fixture.Label(v1.LabelNodeExcludeBalancers, "")), "labelled node.kubernetes.io/exclude-from-external-load-balancers"},
		{"an exclusion label set to false does not exclude, as upstream reads it",
			newNode("n", fixture.Label(v1.LabelNodeExcludeBalancers, "false")), ""},
		{"a node the cluster autoscaler is about to remove does not",
			newNode("n", taint("ToBeDeletedByClusterAutoscaler")), "tainted ToBeDeletedByClusterAutoscaler"},
		{"another taint does not matter", newNode("n", taint("dedicated")), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ineligibility(tt.node); got != tt.want {
				t.Errorf("ineligibility = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestCandidateTargets(t *testing.T) {
	nodes := []*v1.Node{
		newNode("c", fixture.InternalIP("10.0.0.3"), fixture.ExternalIP("203.0.113.3"), fixture.Label("pool", "edge")),
		newNode("a", fixture.InternalIP("10.0.0.1"), fixture.ExternalIP("203.0.113.1"), fixture.Label("pool", "edge")),
		newNode("b", fixture.InternalIP("10.0.0.2"), fixture.Label("pool", "batch")),
		newNode("down", fixture.InternalIP("10.0.0.4"), fixture.NotReady()),
		newNode("no-address"),
	}
	everything := labels.Everything()
	tests := []struct {
		name      string
		settings  settings
		endpoints map[string]bool
		want      []string // node: addresses
	}{
		{
			name:     "every eligible node with an internal address is a target, by name",
			settings: settings{selector: everything, addressType: v1.NodeInternalIP, families: []v1.IPFamily{v1.IPv4Protocol}},
			want:     []string{"a 10.0.0.1", "b 10.0.0.2", "c 10.0.0.3"},
		},
		{
			name:     "the node selector narrows the targets",
			settings: settings{selector: labels.SelectorFromSet(labels.Set{"pool": "edge"}), addressType: v1.NodeInternalIP, families: []v1.IPFamily{v1.IPv4Protocol}},
			want:     []string{"a 10.0.0.1", "c 10.0.0.3"},
		},
		{
			name:     "with ExternalIP, nodes without an external address are left out",
			settings: settings{selector: everything, addressType: v1.NodeExternalIP, families: []v1.IPFamily{v1.IPv4Protocol}},
			want:     []string{"a 203.0.113.1", "c 203.0.113.3"},
		},
		{
			name:      "with externalTrafficPolicy Local, only nodes with a ready endpoint are targets",
			settings:  settings{selector: everything, addressType: v1.NodeInternalIP, families: []v1.IPFamily{v1.IPv4Protocol}, local: true},
			endpoints: map[string]bool{"b": true, "down": true},
			want:      []string{"b 10.0.0.2"},
		},
		{
			name:     "an IPv6 Service has no target among IPv4-only nodes",
			settings: settings{selector: everything, addressType: v1.NodeInternalIP, families: []v1.IPFamily{v1.IPv6Protocol}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, tg := range candidateTargets(nodeInfosOf(nodes), tt.settings, tt.endpoints) {
				for _, a := range tg.Addresses {
					got = append(got, tg.Node+" "+a.String())
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("targets (-want +got):\n%s", diff)
			}
		})
	}
}

func TestReadyEndpointNodes(t *testing.T) {
	yes, no := true, false
	node := func(s string) *string { return &s }
	slices := []*discoveryv1.EndpointSlice{
		{Endpoints: []discoveryv1.Endpoint{
			{NodeName: node("ready"), Conditions: discoveryv1.EndpointConditions{Ready: &yes}},
			{NodeName: node("unready"), Conditions: discoveryv1.EndpointConditions{Ready: &no}},
			{NodeName: node("unknown")},
			{Conditions: discoveryv1.EndpointConditions{Ready: &yes}},
		}},
		{Endpoints: []discoveryv1.Endpoint{
			{NodeName: node("other-slice"), Conditions: discoveryv1.EndpointConditions{Ready: &yes}},
			{NodeName: node("unready"), Conditions: discoveryv1.EndpointConditions{Ready: &no}},
		}},
	}
	want := map[string]bool{"ready": true, "unknown": true, "other-slice": true}
	if diff := cmp.Diff(want, readyEndpointNodes(slices)); diff != "" {
		t.Errorf("nodes with a ready endpoint (-want +got):\n%s\n(an endpoint without a ready condition counts as ready, one without a node is left out)", diff)
	}
}
