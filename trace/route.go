package trace

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"google.golang.org/api/compute/v1"
	v1 "k8s.io/api/core/v1"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/ownership"
)

// crossNodes carries the packet from the node that received it to the
// node of its endpoint: out of the node by its default route to the VPC,
// then by the VPC route that covers the pod's address (the CCM's route of
// the node's pod CIDR), or straight to an instance that owns the address.
//
// where is the endpoint's node, "" when it is not known: then the route
// alone says where the packet goes.
func (tr *tracer) crossNodes(from *v1.Node, fromInst *compute.Instance, ep *endpoint, where string) (*compute.Instance, bool) {
	if !tr.leave(fromInst, from.Name) {
		return nil, false
	}
	dst := ep.Address.Addr()
	target := instanceOfNode(tr.in.Cloud.Instances, tr.nodes[where])
	for _, inst := range tr.in.Cloud.Instances {
		if ownsAddress(inst, dst) {
			tr.step(compRoute, atVPC, "routed", fmt.Sprintf("%s sends it to the VPC (its default route), which delivers %s to instance %s", from.Name, dst, inst.Name), tr.flow)
			return tr.onEndpointNode(inst, target, ep, where, "the VPC")
		}
	}
	r := bestRoute(tr.in.Cloud.Routes, fromInst, dst)
	hop := (*compute.Instance)(nil)
	if r != nil {
		hop = routeNextHop(tr.in.Cloud.Instances, r)
	}
	if hop == nil {
		why, fix := tr.missingPodRoute(where)
		reason := fmt.Sprintf("no VPC route covers %s: the VPC drops the packet %s sends it (%s)", dst, from.Name, why)
		if r != nil {
			reason = fmt.Sprintf("the VPC's best route for %s is %s (%s to %s), which leads out of the VPC, not to %s (%s)", dst, r.Name, r.DestRange, routeTarget(r), cmp.Or(where, "a node"), why)
		}
		tr.stopToward(atVPC, compRoute, Dropped, "no route to the pod", reason, fix)
		return nil, false
	}
	tr.step(compRoute, atVPC, "routed", fmt.Sprintf("%s sends it to the VPC (its default route); route %s sends %s to instance %s", from.Name, r.Name, r.DestRange, hop.Name), tr.flow)
	return tr.onEndpointNode(hop, target, ep, where, "route "+r.Name)
}

// missingPodRoute says why no route leads to an endpoint's node, and what
// to change.
func (tr *tracer) missingPodRoute(where string) (string, string) {
	n := tr.nodes[where]
	switch {
	case n == nil:
		return "no node's pod CIDR holds the address",
			"give the nodes pod CIDRs (kube-controller-manager --allocate-node-cidrs) and let the CCM route them (--configure-cloud-routes)"
	case len(podCIDRs(n)) == 0:
		return where + " has no pod CIDR",
			"give the nodes pod CIDRs (kube-controller-manager --allocate-node-cidrs) and let the CCM route them (--configure-cloud-routes)"
	}
	return fmt.Sprintf("%s's pod CIDR %s has no route", where, strings.Join(podCIDRs(n), ", ")),
		"the CCM's route controller creates a route for each node's pod CIDR (--configure-cloud-routes): see its logs"
}

// onEndpointNode checks that the VPC delivers to the endpoint's node.
func (tr *tracer) onEndpointNode(hop, target *compute.Instance, ep *endpoint, where, by string) (*compute.Instance, bool) {
	if target != nil && hop != target {
		tr.stopToward(hop.Name, compRoute, Dropped, "wrong node",
			fmt.Sprintf("%s delivers %s to instance %s, but endpoint %s runs on %s (instance %s)", by, ep.Address.Addr(), hop.Name, ep.name(), where, target.Name),
			"the route is stale: the CCM's route controller replaces it; check the nodes' spec.podCIDRs")
		return nil, false
	}
	return hop, true
}

// bestRoute is the route the VPC uses for a packet from the instance to
// dst: of the routes of the instance's network that apply to it (no tags,
// or one of its tags) and cover dst, the most specific, then the one of
// the lowest priority number.
func bestRoute(routes []*compute.Route, from *compute.Instance, dst netip.Addr) *compute.Route {
	nic := primaryInterface(from)
	type candidate struct {
		r    *compute.Route
		bits int
	}
	var cs []candidate
	for _, r := range routes {
		p, ok := parseRange(r.DestRange)
		if !ok || !p.Contains(dst) || (nic != nil && !ownership.SameLink(r.Network, nic.Network)) {
			continue
		}
		if len(r.Tags) > 0 && !overlaps(r.Tags, tagsOf(from)) {
			continue
		}
		cs = append(cs, candidate{r, p.Bits()})
	}
	if len(cs) == 0 {
		return nil
	}
	slices.SortFunc(cs, func(a, b candidate) int {
		if c := cmp.Compare(b.bits, a.bits); c != 0 {
			return c
		}
		if c := cmp.Compare(a.r.Priority, b.r.Priority); c != 0 {
			return c
		}
		return strings.Compare(a.r.Name, b.r.Name)
	})
	return cs[0].r
}

// routeNextHop is the instance a route sends to (nextHopInstance, or the
// instance of nextHopIp).
func routeNextHop(instances []*compute.Instance, r *compute.Route) *compute.Instance {
	if r.NextHopInstance != "" {
		return instanceByLink(instances, r.NextHopInstance)
	}
	if a, err := netip.ParseAddr(r.NextHopIp); err == nil {
		for _, inst := range instances {
			if isPrimaryAddress(inst, a) {
				return inst
			}
		}
	}
	return nil
}

func routeTarget(r *compute.Route) string {
	for _, s := range []string{r.NextHopGateway, r.NextHopIp, r.NextHopIlb, r.NextHopVpnTunnel, r.NextHopNetwork, r.NextHopPeering} {
		if s != "" {
			return ownership.LastSegment(s)
		}
	}
	return "nowhere"
}

func podCIDRs(n *v1.Node) []string {
	if len(n.Spec.PodCIDRs) > 0 {
		return n.Spec.PodCIDRs
	}
	if n.Spec.PodCIDR != "" {
		return []string{n.Spec.PodCIDR}
	}
	return nil
}
