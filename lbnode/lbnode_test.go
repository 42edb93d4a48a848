package lbnode

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/test/fixture"
)

// newNode is a Ready node with no labels or taints; its Ready condition
// comes second, so that no predicate may assume it is first.
func newNode(opts ...fixture.NodeOption) *v1.Node {
	return fixture.Node("n", append([]fixture.NodeOption{fixture.NoReadyCondition(),
		fixture.Condition(v1.NodeMemoryPressure, v1.ConditionFalse), fixture.Condition(v1.NodeReady, v1.ConditionTrue)}, opts...)...)
}

func deleting() fixture.NodeOption { return fixture.Deleting(metav1.Time{Time: time.Unix(1, 0)}) }

func TestPredicates(t *testing.T) {
	for _, tc := range []struct {
		name string
		node *v1.Node
		pred func(*v1.Node) bool
		want bool
	}{
		{"a node with a deletion timestamp is being deleted", newNode(deleting()), BeingDeleted, true},
		{"a node without one is not", newNode(), BeingDeleted, false},
		{"the exclusion label set to true excludes", newNode(fixture.Label(v1.LabelNodeExcludeBalancers, "true")), ExcludedByLabel, true},
		{"the exclusion label set to false does not", newNode(fixture.Label(v1.LabelNodeExcludeBalancers, "false")), ExcludedByLabel, false},
		{"the exclusion label set to False (ParseBool's spelling) does not", newNode(fixture.Label(v1.LabelNodeExcludeBalancers, "False")), ExcludedByLabel, false},
		{"an empty exclusion label excludes", newNode(fixture.Label(v1.LabelNodeExcludeBalancers, "")), ExcludedByLabel, true},
		{"an exclusion label that is no boolean excludes", newNode(fixture.Label(v1.LabelNodeExcludeBalancers, "maybe")), ExcludedByLabel, true},
		{"another label does not", newNode(fixture.Label("node-role.kubernetes.io/control-plane", "")), ExcludedByLabel, false},
		{"the autoscaler's taint marks the node", newNode(fixture.Taint("ToBeDeletedByClusterAutoscaler", v1.TaintEffectNoSchedule)), ToBeDeletedByAutoscaler, true},
		{"the autoscaler's taint marks it whatever the effect", newNode(fixture.Taint("ToBeDeletedByClusterAutoscaler", v1.TaintEffectPreferNoSchedule)), ToBeDeletedByAutoscaler, true},
		{"another taint does not", newNode(fixture.Taint("dedicated", v1.TaintEffectNoSchedule)), ToBeDeletedByAutoscaler, false},
		{"a node whose Ready condition is True is Ready", newNode(), Ready, true},
		{"False is not Ready", newNode(fixture.Ready(v1.ConditionFalse)), Ready, false},
		{"Unknown is not Ready", newNode(fixture.Ready(v1.ConditionUnknown)), Ready, false},
		{"a node that never reported readiness is not Ready", newNode(fixture.NoReadyCondition()), Ready, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.pred(tc.node); got != tc.want {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestRulesProblems(t *testing.T) {
	everything := Rules{RequireReady: true, ExcludeToBeDeleted: true}
	autoscaled := fixture.Taint("ToBeDeletedByClusterAutoscaler", v1.TaintEffectNoSchedule)
	for _, tc := range []struct {
		name  string
		rules Rules
		node  *v1.Node
		want  []string
	}{
		{"a plain node has no problem under any rules", everything, newNode(), nil},
		{"every mode leaves out a node being deleted", Rules{}, newNode(deleting()), []string{ReasonBeingDeleted}},
		{"every mode leaves out a node labelled for exclusion", Rules{}, newNode(fixture.Label(v1.LabelNodeExcludeBalancers, "true")), []string{ReasonExcluded}},
		{"without RequireReady a NotReady node stays", Rules{}, newNode(fixture.Ready(v1.ConditionFalse)), nil},
		{"with RequireReady it goes", Rules{RequireReady: true}, newNode(fixture.Ready(v1.ConditionFalse)), []string{ReasonNotReady}},
		{"without ExcludeToBeDeleted the autoscaler's taint keeps the node", Rules{}, newNode(autoscaled), nil},
		{"with ExcludeToBeDeleted it goes", Rules{ExcludeToBeDeleted: true}, newNode(autoscaled), []string{ReasonToBeDeleted}},
		{"every problem is listed, in a fixed order", everything,
			newNode(fixture.Ready(v1.ConditionUnknown), autoscaled, fixture.Label(v1.LabelNodeExcludeBalancers, ""), deleting()),
			[]string{ReasonBeingDeleted, ReasonExcluded, ReasonToBeDeleted, ReasonNotReady}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.rules.Problems(tc.node)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("problems (-want +got):\n%s", diff)
			}
			var first string
			if len(tc.want) > 0 {
				first = tc.want[0]
			}
			if g := tc.rules.Ineligibility(tc.node); g != first {
				t.Errorf("Ineligibility = %q, want %q", g, first)
			}
			if g := tc.rules.Eligible(tc.node); g != (len(tc.want) == 0) {
				t.Errorf("Eligible = %v, want %v", g, len(tc.want) == 0)
			}
		})
	}
}

func TestReasonsNameTheLabelAndTheTaint(t *testing.T) {
	// Service conditions and the trace print these; they name the exact
	// key a user has to look for.
	if ReasonExcluded != "labelled node.kubernetes.io/exclude-from-external-load-balancers" {
		t.Errorf("ReasonExcluded = %q", ReasonExcluded)
	}
	if ReasonToBeDeleted != "tainted ToBeDeletedByClusterAutoscaler" {
		t.Errorf("ReasonToBeDeleted = %q", ReasonToBeDeleted)
	}
}
