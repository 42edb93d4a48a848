package gce

import (
	"context"
	"fmt"
	"net/netip"

	"google.golang.org/api/compute/v1"
	"k8s.io/apimachinery/pkg/types"
	cloudprovider "k8s.io/cloud-provider"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/computeclient"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/ownership"
)

// routePriority is the priority of pod-CIDR routes (the API's default).
const routePriority = 1000

// ListRoutes lists the cluster's pod-CIDR routes: those with its name prefix
// and ownership marker, on its network.
func (c *Cloud) ListRoutes(ctx context.Context, clusterName string) ([]*cloudprovider.Route, error) {
	owner := c.cfg.Owner(clusterName)
	routes, err := c.api.ListRoutes(ctx, owner.NamePattern())
	if err != nil {
		return nil, fmt.Errorf("list routes: %w", err)
	}
	var out []*cloudprovider.Route
	for _, r := range routes {
		if cr := c.clusterRoute(owner, r); cr != nil {
			out = append(out, cr)
		}
	}
	return out, nil
}

// clusterRoute maps a cloud route to the cloud-provider's, or nil when the
// route is not this cluster's.
func (c *Cloud) clusterRoute(owner ownership.Cluster, r *compute.Route) *cloudprovider.Route {
	if !owner.Owns(r.Name, r.Description) || r.Network != c.networkURL || (r.NextHopInstance == "" && r.NextHopIp == "") {
		return nil
	}
	keys, _ := ownership.Parse(r.Description)
	node := keys[ownership.NodeKey]
	if node == "" && r.NextHopInstance != "" {
		node = ownership.LastSegment(r.NextHopInstance)
	}
	if node == "" {
		return nil
	}
	cr := &cloudprovider.Route{Name: r.Name, TargetNode: types.NodeName(node), DestinationCIDR: r.DestRange}
	for _, w := range r.Warnings {
		// The API flags a route whose next-hop instance is gone; the route
		// controller deletes such blackhole routes.
		if w.Code == "NEXT_HOP_INSTANCE_NOT_FOUND" {
			cr.Blackhole = true
		}
	}
	return cr
}

// CreateRoute creates a route to the node's instance for one of its pod
// CIDRs. A route of the same name to the same CIDR that is already there
// counts as created; one to another CIDR is an error, never a success.
func (c *Cloud) CreateRoute(ctx context.Context, clusterName, nameHint string, route *cloudprovider.Route) error {
	owner := c.cfg.Owner(clusterName)
	inst, err := c.findInstanceByName(ctx, string(route.TargetNode))
	if err != nil {
		return fmt.Errorf("create route for node %s: %w", route.TargetNode, err)
	}
	r, err := desiredRoute(owner, nameHint, route, inst, c.networkURL, c.cfg.NetworkProject() != c.project)
	if err != nil {
		return fmt.Errorf("create route for node %s: %w", route.TargetNode, err)
	}
	err = c.api.InsertRoute(ctx, r)
	if computeclient.IsConflict(err) {
		return c.confirmExistingRoute(ctx, r)
	}
	if err != nil {
		return fmt.Errorf("insert route %s: %w", r.Name, err)
	}
	return nil
}

// confirmExistingRoute accepts a route that is already there (a resync after
// a crash) only when it routes the same CIDR: a 409 alone says nothing about
// what the route carries.
func (c *Cloud) confirmExistingRoute(ctx context.Context, want *compute.Route) error {
	got, err := c.api.GetRoute(ctx, want.Name)
	if err != nil {
		return fmt.Errorf("read route %s after a conflict: %w", want.Name, err)
	}
	if !sameCIDR(got.DestRange, want.DestRange) {
		return fmt.Errorf("insert route %s for %s: a route of that name already routes %s", want.Name, want.DestRange, got.DestRange)
	}
	return nil
}

// desiredRoute is the route for one pod CIDR of a node.
//
// Names: ownership.RouteName and RouteNameIPv6, as the route controller
// gives a node's pod CIDRs one name hint.
//
// Next hop: a next-hop instance must be in the route's project; another
// project's VM (a Shared VPC service project's node, the route being in the
// host project) is named by its address, the primary internal IPv4 address
// or an IPv6 address of its interface
// (https://docs.cloud.google.com/vpc/docs/static-routes, "Next hops and
// features").
func desiredRoute(owner ownership.Cluster, nameHint string, route *cloudprovider.Route, inst *compute.Instance, networkURL string, crossProject bool) (*compute.Route, error) {
	prefix, err := netip.ParsePrefix(route.DestinationCIDR)
	if err != nil {
		return nil, fmt.Errorf("pod CIDR %q: %w", route.DestinationCIDR, err)
	}
	r := &compute.Route{
		Name:        owner.RouteName(nameHint),
		Network:     networkURL,
		DestRange:   prefix.Masked().String(),
		Priority:    routePriority,
		Description: owner.Description(map[string]string{ownership.NodeKey: string(route.TargetNode)}),
	}
	var nic *compute.NetworkInterface
	if len(inst.NetworkInterfaces) > 0 {
		nic = inst.NetworkInterfaces[0]
	}
	if prefix.Addr().Is6() {
		r.Name = owner.RouteNameIPv6(nameHint)
		v6 := instanceIPv6(nic)
		if v6 == "" {
			return nil, fmt.Errorf("IPv6 pod CIDR %s: instance %s has no IPv6 address on its first interface; give its subnetwork and interface the stack type IPV4_IPV6, or give the node no IPv6 pod CIDR", route.DestinationCIDR, inst.Name)
		}
		if crossProject {
			r.NextHopIp = v6
			return r, nil
		}
	}
	if !crossProject {
		r.NextHopInstance = inst.SelfLink
		return r, nil
	}
	if nic == nil || nic.NetworkIP == "" {
		return nil, fmt.Errorf("instance %s has no internal IPv4 address to route %s to", inst.Name, route.DestinationCIDR)
	}
	r.NextHopIp = nic.NetworkIP
	return r, nil
}

// instanceIPv6 is the interface's internal IPv6 address, else its external
// one, else "".
func instanceIPv6(nic *compute.NetworkInterface) string {
	if nic == nil {
		return ""
	}
	if nic.Ipv6Address != "" {
		return nic.Ipv6Address
	}
	for _, ac := range nic.Ipv6AccessConfigs {
		if ac.ExternalIpv6 != "" {
			return ac.ExternalIpv6
		}
	}
	return ""
}

func sameCIDR(a, b string) bool {
	pa, errA := netip.ParsePrefix(a)
	pb, errB := netip.ParsePrefix(b)
	if errA != nil || errB != nil {
		return a == b
	}
	return pa.Masked() == pb.Masked()
}

// DeleteRoute deletes one of the cluster's routes; it refuses a route that
// does not carry the cluster's marker.
func (c *Cloud) DeleteRoute(ctx context.Context, clusterName string, route *cloudprovider.Route) error {
	owner := c.cfg.Owner(clusterName)
	existing, err := c.api.GetRoute(ctx, route.Name)
	if computeclient.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read route %s: %w", route.Name, err)
	}
	if !owner.Owns(existing.Name, existing.Description) {
		return fmt.Errorf("route %s does not carry cluster %s's ownership marker: not deleting it", route.Name, clusterName)
	}
	if err := c.api.DeleteRoute(ctx, route.Name); err != nil && !computeclient.IsNotFound(err) {
		return fmt.Errorf("delete route %s: %w", route.Name, err)
	}
	return nil
}
