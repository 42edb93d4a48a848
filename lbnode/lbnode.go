// Package lbnode says which Kubernetes nodes may carry a load balancer's
// traffic. Both load balancer modes read a node through it: the service
// controller when it builds the node set of every external load balancer,
// the nodeip controller when it chooses the addresses it publishes, and the
// trace when it explains either.
//
// Two rules hold in every mode, as in upstream's service controller
// (KEP-3458's stable node set): a node being deleted, or labelled
// node.kubernetes.io/exclude-from-external-load-balancers, carries none.
// Two more depend on what drains a node in the mode, so the caller names
// them in Rules: readiness and the cluster autoscaler's deletion taint.
//
// It only reads the Node objects it is given; it never talks to the API
// server or the cloud.
package lbnode

import (
	"slices"
	"strconv"

	v1 "k8s.io/api/core/v1"
	upstreamservice "k8s.io/cloud-provider/controllers/service"
)

// The reasons a node may not carry traffic, in the words that Service
// conditions and the trace print.
const (
	ReasonBeingDeleted = "being deleted"
	ReasonExcluded     = "labelled " + v1.LabelNodeExcludeBalancers
	ReasonToBeDeleted  = "tainted " + upstreamservice.ToBeDeletedTaint
	ReasonNotReady     = "not Ready"
)

// Rules are the checks of one mode beyond the two every mode makes. The
// zero value makes only those two.
type Rules struct {
	// RequireReady leaves out a node whose Ready condition is not True
	// (False, Unknown, or never reported).
	RequireReady bool
	// ExcludeToBeDeleted leaves out a node with the cluster autoscaler's
	// ToBeDeletedByClusterAutoscaler taint, whatever its effect.
	ExcludeToBeDeleted bool
}

// Problems are every reason the rules leave the node out, in a fixed order
// (deletion, label, taint, readiness); none when it may carry traffic.
func (r Rules) Problems(n *v1.Node) []string {
	var out []string
	if BeingDeleted(n) {
		out = append(out, ReasonBeingDeleted)
	}
	if ExcludedByLabel(n) {
		out = append(out, ReasonExcluded)
	}
	if r.ExcludeToBeDeleted && ToBeDeletedByAutoscaler(n) {
		out = append(out, ReasonToBeDeleted)
	}
	if r.RequireReady && !Ready(n) {
		out = append(out, ReasonNotReady)
	}
	return out
}

// Ineligibility is the first of Problems, or "" when there is none.
func (r Rules) Ineligibility(n *v1.Node) string {
	if p := r.Problems(n); len(p) > 0 {
		return p[0]
	}
	return ""
}

// Eligible says whether the node may carry traffic under the rules.
func (r Rules) Eligible(n *v1.Node) bool { return len(r.Problems(n)) == 0 }

// BeingDeleted: the node has a deletion timestamp.
func BeingDeleted(n *v1.Node) bool { return n.DeletionTimestamp != nil }

// ExcludedByLabel reads node.kubernetes.io/exclude-from-external-load-balancers
// as upstream's service controller does (nodeIncludedPredicate): any value
// but one that parses as false, the empty value included, excludes the node.
func ExcludedByLabel(n *v1.Node) bool {
	v, ok := n.Labels[v1.LabelNodeExcludeBalancers]
	if !ok {
		return false
	}
	excluded, err := strconv.ParseBool(v)
	return err != nil || excluded
}

// ToBeDeletedByAutoscaler: the node carries the taint the cluster
// autoscaler sets on a node it is about to remove.
func ToBeDeletedByAutoscaler(n *v1.Node) bool {
	return slices.ContainsFunc(n.Spec.Taints, func(t v1.Taint) bool { return t.Key == upstreamservice.ToBeDeletedTaint })
}

// Ready: the node's Ready condition is True. A node that never reported
// one is not Ready.
func Ready(n *v1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == v1.NodeReady {
			return c.Status == v1.ConditionTrue
		}
	}
	return false
}
