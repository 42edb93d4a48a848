package servicecontroller

import (
	"hash/fnv"
	"slices"
	"strconv"
	"strings"

	v1 "k8s.io/api/core/v1"
	upstreamservice "k8s.io/cloud-provider/controllers/service"
)

// eligibleNode says whether a node belongs in every load balancer's node
// set. As upstream since KEP-3458, readiness is not part of it (the load
// balancer's health check handles that, and dropping NotReady nodes would
// cut their connections); nodes being deleted, labelled
// node.kubernetes.io/exclude-from-external-load-balancers, or tainted by
// the cluster autoscaler for deletion are left out.
func eligibleNode(n *v1.Node) bool {
	if n.DeletionTimestamp != nil {
		return false
	}
	if v, ok := n.Labels[v1.LabelNodeExcludeBalancers]; ok {
		excluded, err := strconv.ParseBool(v)
		if err != nil || excluded {
			// An unparsable value excludes the node, as upstream does.
			return false
		}
	}
	for _, t := range n.Spec.Taints {
		if t.Key == upstreamservice.ToBeDeletedTaint {
			return false
		}
	}
	return true
}

// eligibleNodes returns the eligible nodes sorted by name, so that the
// fingerprint and the providers' inputs do not depend on cache order.
func eligibleNodes(all []*v1.Node) []*v1.Node {
	out := make([]*v1.Node, 0, len(all))
	for _, n := range all {
		if eligibleNode(n) {
			out = append(out, n)
		}
	}
	slices.SortFunc(out, func(a, b *v1.Node) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// nodeSetFingerprint summarises what a load balancer depends on in a node
// set: the nodes' names and provider IDs (upstream's nodesSufficientlyEqual
// compares the same). Two sets with the same fingerprint need no update.
func nodeSetFingerprint(sorted []*v1.Node) uint64 {
	h := fnv.New64a()
	for _, n := range sorted {
		h.Write([]byte(n.Name))
		h.Write([]byte{0})
		h.Write([]byte(n.Spec.ProviderID))
		h.Write([]byte{0})
	}
	return h.Sum64()
}

// nodeChangeMatters says whether a node update can change the node set: its
// eligibility or its provider ID changed. Heartbeats, addresses and
// conditions do not.
func nodeChangeMatters(old, cur *v1.Node) bool {
	return eligibleNode(old) != eligibleNode(cur) || old.Spec.ProviderID != cur.Spec.ProviderID
}
