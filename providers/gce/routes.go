package gce

import (
	"context"
	"fmt"

	"google.golang.org/api/compute/v1"
	"k8s.io/apimachinery/pkg/types"
	cloudprovider "k8s.io/cloud-provider"
	"k8s.io/klog/v2"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/ownership"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/providers/gce/computeclient"
)

// routePriority is the priority of pod-CIDR routes (the API's default).
const routePriority = 1000

// ListRoutes lists the cluster's pod-CIDR routes: those with its name prefix
// and ownership marker, on its network.
func (c *Cloud) ListRoutes(ctx context.Context, clusterName string) ([]*cloudprovider.Route, error) {
	owner := ownership.ForCluster(clusterName)
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
	if !owner.Owns(r.Name, r.Description) || r.Network != c.networkURL || r.NextHopInstance == "" {
		return nil
	}
	keys, _ := ownership.Parse(r.Description)
	node := keys[ownership.NodeKey]
	if node == "" {
		node = lastSegment(r.NextHopInstance)
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

// CreateRoute creates a route to the node's instance for its pod CIDR. A
// route of the same name that is already there counts as created.
func (c *Cloud) CreateRoute(ctx context.Context, clusterName, nameHint string, route *cloudprovider.Route) error {
	owner := ownership.ForCluster(clusterName)
	inst, err := c.findInstanceByName(ctx, string(route.TargetNode))
	if err != nil {
		return fmt.Errorf("create route for node %s: %w", route.TargetNode, err)
	}
	r := &compute.Route{
		Name:            owner.ResourceName("r", nameHint),
		Network:         c.networkURL,
		DestRange:       route.DestinationCIDR,
		NextHopInstance: inst.SelfLink,
		Priority:        routePriority,
		Description:     owner.Description(map[string]string{ownership.NodeKey: string(route.TargetNode)}),
	}
	err = c.api.InsertRoute(ctx, r)
	if computeclient.IsConflict(err) {
		klog.FromContext(ctx).V(2).Info("Route already exists", "route", r.Name, "node", route.TargetNode)
		return nil
	}
	if err != nil {
		return fmt.Errorf("insert route %s: %w", r.Name, err)
	}
	return nil
}

// DeleteRoute deletes one of the cluster's routes; it refuses a route that
// does not carry the cluster's marker.
func (c *Cloud) DeleteRoute(ctx context.Context, clusterName string, route *cloudprovider.Route) error {
	owner := ownership.ForCluster(clusterName)
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
