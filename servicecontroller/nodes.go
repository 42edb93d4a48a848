package servicecontroller

import (
	"hash/fnv"
	"slices"
	"strings"

	v1 "k8s.io/api/core/v1"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/lbnode"
)

// eligibleNode says whether a node belongs in every load balancer's node
// set: lbnode's rules of every mode, and no more. As upstream since
// KEP-3458, readiness is not part of it (the load balancer's health check
// handles that, and dropping NotReady nodes would cut their connections);
// nodes being deleted or labelled
// node.kubernetes.io/exclude-from-external-load-balancers are left out.
//
// The cluster autoscaler's ToBeDeletedByClusterAutoscaler taint is not
// part of it either: a tainted node stays until its Node is deleted.
// Upstream's service controller does not resync on that taint
// (shouldSyncUpdatedNode in k8s.io/cloud-provider
// controllers/service/controller.go looks only at the exclusion label and
// the provider ID) but still filters it (nodeUnTaintedPredicate in
// stableNodeSetPredicates) whenever something else causes a sync, which
// its own comment calls "not perfect": the node is then pulled out while
// its connections still flow. Here one node set serves every Service, so
// such a filter would pull the node out of every load balancer at the next
// unrelated node change. Draining is the health check's job: kube-proxy's
// /healthz, which the shared health check probes, fails on a node with
// that taint or being deleted (NodeEligible in k8s.io/kubernetes
// pkg/proxy/healthcheck/proxy_health.go), so new connections stop while
// established ones finish.
func eligibleNode(n *v1.Node) bool {
	return lbnode.Rules{
		RequireReady:       false, // the health check's job (KEP-3458)
		ExcludeToBeDeleted: false, // the health check's job too, see above
	}.Eligible(n)
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
// eligibility or its provider ID changed, as upstream's
// shouldSyncUpdatedNode (plus a deletion timestamp, which upstream's set
// filters too). Heartbeats, addresses, conditions and taints do not.
func nodeChangeMatters(old, cur *v1.Node) bool {
	return eligibleNode(old) != eligibleNode(cur) || old.Spec.ProviderID != cur.Spec.ProviderID
}
