package computeclient

import (
	"context"
	"fmt"
	"net/netip"
	"strconv"

	"google.golang.org/api/compute/v1"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/ownership"
)

// Unmanaged instance groups (zonal).

// GetInstanceGroup reads an instance group.
func (c *Client) GetInstanceGroup(ctx context.Context, zone, name string) (*compute.InstanceGroup, error) {
	return Do(ctx, c, "instanceGroups.get", func(ctx context.Context) (*compute.InstanceGroup, error) {
		return c.svc.InstanceGroups.Get(c.project, zone, name).Context(ctx).Do()
	})
}

// InsertInstanceGroup creates an instance group and waits for it.
func (c *Client) InsertInstanceGroup(ctx context.Context, zone string, ig *compute.InstanceGroup) error {
	return c.Mutate(ctx, "instanceGroups.insert", func(ctx context.Context, id string) (*compute.Operation, error) {
		return c.svc.InstanceGroups.Insert(c.project, zone, ig).RequestId(id).Context(ctx).Do()
	})
}

// DeleteInstanceGroup deletes an instance group and waits for it.
func (c *Client) DeleteInstanceGroup(ctx context.Context, zone, name string) error {
	return c.Mutate(ctx, "instanceGroups.delete", func(ctx context.Context, id string) (*compute.Operation, error) {
		return c.svc.InstanceGroups.Delete(c.project, zone, name).RequestId(id).Context(ctx).Do()
	})
}

// ListInstanceGroupInstances lists the members (instance links) of a group.
func (c *Client) ListInstanceGroupInstances(ctx context.Context, zone, name string) ([]string, error) {
	req := &compute.InstanceGroupsListInstancesRequest{InstanceState: "ALL"}
	return listAll(ctx, c, "instanceGroups.listInstances",
		func(ctx context.Context, token string) (*compute.InstanceGroupsListInstances, error) {
			return c.svc.InstanceGroups.ListInstances(c.project, zone, name, req).PageToken(token).Context(ctx).Do()
		},
		func(p *compute.InstanceGroupsListInstances) ([]string, string) {
			out := make([]string, 0, len(p.Items))
			for _, it := range p.Items {
				out = append(out, it.Instance)
			}
			return out, p.NextPageToken
		})
}

// AddInstanceGroupInstances adds instances (links) to a group and waits.
func (c *Client) AddInstanceGroupInstances(ctx context.Context, zone, name string, instances []string) error {
	req := &compute.InstanceGroupsAddInstancesRequest{}
	for _, i := range instances {
		req.Instances = append(req.Instances, &compute.InstanceReference{Instance: i})
	}
	return c.Mutate(ctx, "instanceGroups.addInstances", func(ctx context.Context, id string) (*compute.Operation, error) {
		return c.svc.InstanceGroups.AddInstances(c.project, zone, name, req).RequestId(id).Context(ctx).Do()
	})
}

// RemoveInstanceGroupInstances removes instances (links) from a group and waits.
func (c *Client) RemoveInstanceGroupInstances(ctx context.Context, zone, name string, instances []string) error {
	req := &compute.InstanceGroupsRemoveInstancesRequest{}
	for _, i := range instances {
		req.Instances = append(req.Instances, &compute.InstanceReference{Instance: i})
	}
	return c.Mutate(ctx, "instanceGroups.removeInstances", func(ctx context.Context, id string) (*compute.Operation, error) {
		return c.svc.InstanceGroups.RemoveInstances(c.project, zone, name, req).RequestId(id).Context(ctx).Do()
	})
}

// Regional health checks.

// GetRegionHealthCheck reads a regional health check.
func (c *Client) GetRegionHealthCheck(ctx context.Context, region, name string) (*compute.HealthCheck, error) {
	return Do(ctx, c, "regionHealthChecks.get", func(ctx context.Context) (*compute.HealthCheck, error) {
		return c.svc.RegionHealthChecks.Get(c.project, region, name).Context(ctx).Do()
	})
}

// InsertRegionHealthCheck creates a regional health check and waits for it.
func (c *Client) InsertRegionHealthCheck(ctx context.Context, region string, hc *compute.HealthCheck) error {
	return c.Mutate(ctx, "regionHealthChecks.insert", func(ctx context.Context, id string) (*compute.Operation, error) {
		return c.svc.RegionHealthChecks.Insert(c.project, region, hc).RequestId(id).Context(ctx).Do()
	})
}

// UpdateRegionHealthCheck replaces a regional health check and waits for it.
func (c *Client) UpdateRegionHealthCheck(ctx context.Context, region string, hc *compute.HealthCheck) error {
	return c.Mutate(ctx, "regionHealthChecks.update", func(ctx context.Context, id string) (*compute.Operation, error) {
		return c.svc.RegionHealthChecks.Update(c.project, region, hc.Name, hc).RequestId(id).Context(ctx).Do()
	})
}

// DeleteRegionHealthCheck deletes a regional health check and waits for it.
func (c *Client) DeleteRegionHealthCheck(ctx context.Context, region, name string) error {
	return c.Mutate(ctx, "regionHealthChecks.delete", func(ctx context.Context, id string) (*compute.Operation, error) {
		return c.svc.RegionHealthChecks.Delete(c.project, region, name).RequestId(id).Context(ctx).Do()
	})
}

// Regional backend services.

// GetRegionBackendService reads a regional backend service.
func (c *Client) GetRegionBackendService(ctx context.Context, region, name string) (*compute.BackendService, error) {
	return Do(ctx, c, "regionBackendServices.get", func(ctx context.Context) (*compute.BackendService, error) {
		return c.svc.RegionBackendServices.Get(c.project, region, name).Context(ctx).Do()
	})
}

// ListRegionBackendServices lists the regional backend services that match
// a filter.
func (c *Client) ListRegionBackendServices(ctx context.Context, region, filter string) ([]*compute.BackendService, error) {
	return listAll(ctx, c, "regionBackendServices.list",
		func(ctx context.Context, token string) (*compute.BackendServiceList, error) {
			return c.svc.RegionBackendServices.List(c.project, region).Filter(filter).PageToken(token).Context(ctx).Do()
		},
		func(p *compute.BackendServiceList) ([]*compute.BackendService, string) {
			return p.Items, p.NextPageToken
		})
}

// InsertRegionBackendService creates a regional backend service and waits for it.
func (c *Client) InsertRegionBackendService(ctx context.Context, region string, bs *compute.BackendService) error {
	return c.Mutate(ctx, "regionBackendServices.insert", func(ctx context.Context, id string) (*compute.Operation, error) {
		return c.svc.RegionBackendServices.Insert(c.project, region, bs).RequestId(id).Context(ctx).Do()
	})
}

// PatchRegionBackendService patches a regional backend service (with its
// fingerprint, so a concurrent change fails with 412) and waits for it.
func (c *Client) PatchRegionBackendService(ctx context.Context, region string, bs *compute.BackendService) error {
	return c.Mutate(ctx, "regionBackendServices.patch", func(ctx context.Context, id string) (*compute.Operation, error) {
		return c.svc.RegionBackendServices.Patch(c.project, region, bs.Name, bs).RequestId(id).Context(ctx).Do()
	})
}

// DeleteRegionBackendService deletes a regional backend service and waits for it.
func (c *Client) DeleteRegionBackendService(ctx context.Context, region, name string) error {
	return c.Mutate(ctx, "regionBackendServices.delete", func(ctx context.Context, id string) (*compute.Operation, error) {
		return c.svc.RegionBackendServices.Delete(c.project, region, name).RequestId(id).Context(ctx).Do()
	})
}

// NetworkRanges lists the primary and secondary ranges of every subnetwork
// of a network, in one aggregated list.
func (c *Client) NetworkRanges(ctx context.Context, networkURL string) ([]netip.Prefix, error) {
	subnets, err := listAll(ctx, c, "subnetworks.aggregatedList",
		func(ctx context.Context, token string) (*compute.SubnetworkAggregatedList, error) {
			return c.svc.Subnetworks.AggregatedList(projectOf(networkURL, c.networkProject)).Filter("network = " + strconv.Quote(networkURL)).PageToken(token).Context(ctx).Do()
		},
		func(p *compute.SubnetworkAggregatedList) ([]*compute.Subnetwork, string) {
			var out []*compute.Subnetwork
			for _, scoped := range p.Items {
				out = append(out, scoped.Subnetworks...)
			}
			return out, p.NextPageToken
		})
	if err != nil {
		return nil, err
	}
	var out []netip.Prefix
	for _, s := range subnets {
		ranges := []string{s.IpCidrRange}
		for _, r := range s.SecondaryIpRanges {
			ranges = append(ranges, r.IpCidrRange)
		}
		for _, r := range ranges {
			if p, err := netip.ParsePrefix(r); err == nil {
				out = append(out, p.Masked())
			}
		}
	}
	return out, nil
}

// ListSubnetworks lists the subnetworks of a network in one region.
func (c *Client) ListSubnetworks(ctx context.Context, region, networkURL string) ([]*compute.Subnetwork, error) {
	return listAll(ctx, c, "subnetworks.list",
		func(ctx context.Context, token string) (*compute.SubnetworkList, error) {
			return c.svc.Subnetworks.List(projectOf(networkURL, c.networkProject), region).Filter("network = " + strconv.Quote(networkURL)).PageToken(token).Context(ctx).Do()
		},
		func(p *compute.SubnetworkList) ([]*compute.Subnetwork, string) { return p.Items, p.NextPageToken })
}

// GetSubnetwork reads a subnetwork by its link.
func (c *Client) GetSubnetwork(ctx context.Context, link string) (*compute.Subnetwork, error) {
	region, name := ownership.RegionOf(link), ownership.LastSegment(link)
	if region == "" {
		return nil, fmt.Errorf("subnetwork %q is not a link", link)
	}
	return Do(ctx, c, "subnetworks.get", func(ctx context.Context) (*compute.Subnetwork, error) {
		return c.svc.Subnetworks.Get(projectOf(link, c.networkProject), region, name).Context(ctx).Do()
	})
}
