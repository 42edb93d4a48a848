package lbnode

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

type nodeOpt func(*v1.Node)

// newNode is a Ready node with no labels or taints.
func newNode(opts ...nodeOpt) *v1.Node {
	n := &v1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n", Labels: map[string]string{}},
		Status: v1.NodeStatus{Conditions: []v1.NodeCondition{
			{Type: v1.NodeMemoryPressure, Status: v1.ConditionFalse},
			{Type: v1.NodeReady, Status: v1.ConditionTrue},
		}}}
	for _, o := range opts {
		o(n)
	}
	return n
}

func label(k, v string) nodeOpt { return func(n *v1.Node) { n.Labels[k] = v } }
func taint(key string, effect v1.TaintEffect) nodeOpt {
	return func(n *v1.Node) { n.Spec.Taints = append(n.Spec.Taints, v1.Taint{Key: key, Effect: effect}) }
}
func readiness(s v1.ConditionStatus) nodeOpt {
	return func(n *v1.Node) { n.Status.Conditions[1].Status = s }
}
func noReadyCondition() nodeOpt {
	return func(n *v1.Node) { n.Status.Conditions = n.Status.Conditions[:1] }
}
func deleting() nodeOpt {
	return func(n *v1.Node) { n.DeletionTimestamp = &metav1.Time{Time: time.Unix(1, 0)} }
}

func TestPredicates(t *testing.T) {
	for _, tc := range []struct {
		name string
		node *v1.Node
		pred func(*v1.Node) bool
		want bool
	}{
		{"a node with a deletion timestamp is being deleted", newNode(deleting()), BeingDeleted, true},
		{"a node without one is not", newNode(), BeingDeleted, false},
		{"the exclusion label set to true excludes", newNode(label(v1.LabelNodeExcludeBalancers, "true")), ExcludedByLabel, true},
		{"the exclusion label set to false does not", newNode(label(v1.LabelNodeExcludeBalancers, "false")), ExcludedByLabel, false},
		{"the exclusion label set to False (ParseBool's spelling) does not", newNode(label(v1.LabelNodeExcludeBalancers, "False")), ExcludedByLabel, false},
		{"an empty exclusion label excludes", newNode(label(v1.LabelNodeExcludeBalancers, "")), ExcludedByLabel, true},
		{"an exclusion label that is no boolean excludes", newNode(label(v1.LabelNodeExcludeBalancers, "maybe")), ExcludedByLabel, true},
		{"another label does not", newNode(label("node-role.kubernetes.io/control-plane", "")), ExcludedByLabel, false},
		{"the autoscaler's taint marks the node", newNode(taint("ToBeDeletedByClusterAutoscaler", v1.TaintEffectNoSchedule)), ToBeDeletedByAutoscaler, true},
		{"the autoscaler's taint marks it whatever the effect", newNode(taint("ToBeDeletedByClusterAutoscaler", v1.TaintEffectPreferNoSchedule)), ToBeDeletedByAutoscaler, true},
		{"another taint does not", newNode(taint("dedicated", v1.TaintEffectNoSchedule)), ToBeDeletedByAutoscaler, false},
		{"a node whose Ready condition is True is Ready", newNode(), Ready, true},
		{"False is not Ready", newNode(readiness(v1.ConditionFalse)), Ready, false},
		{"Unknown is not Ready", newNode(readiness(v1.ConditionUnknown)), Ready, false},
		{"a node that never reported readiness is not Ready", newNode(noReadyCondition()), Ready, false},
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
	autoscaled := taint("ToBeDeletedByClusterAutoscaler", v1.TaintEffectNoSchedule)
	for _, tc := range []struct {
		name  string
		rules Rules
		node  *v1.Node
		want  []string
	}{
		{"a plain node has no problem under any rules", everything, newNode(), nil},
		{"every mode leaves out a node being deleted", Rules{}, newNode(deleting()), []string{ReasonBeingDeleted}},
		{"every mode leaves out a node labelled for exclusion", Rules{}, newNode(label(v1.LabelNodeExcludeBalancers, "true")), []string{ReasonExcluded}},
		{"without RequireReady a NotReady node stays", Rules{}, newNode(readiness(v1.ConditionFalse)), nil},
		{"with RequireReady it goes", Rules{RequireReady: true}, newNode(readiness(v1.ConditionFalse)), []string{ReasonNotReady}},
		{"without ExcludeToBeDeleted the autoscaler's taint keeps the node", Rules{}, newNode(autoscaled), nil},
		{"with ExcludeToBeDeleted it goes", Rules{ExcludeToBeDeleted: true}, newNode(autoscaled), []string{ReasonToBeDeleted}},
		{"every problem is listed, in a fixed order", everything,
			newNode(readiness(v1.ConditionUnknown), autoscaled, label(v1.LabelNodeExcludeBalancers, ""), deleting()),
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
