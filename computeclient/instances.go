package computeclient

import (
	"context"
	"strconv"

	"google.golang.org/api/compute/v1"
)

// GetInstance reads one instance.
func (c *Client) GetInstance(ctx context.Context, zone, name string) (*compute.Instance, error) {
	return Do(ctx, c, "instances.get", func(ctx context.Context) (*compute.Instance, error) {
		return c.svc.Instances.Get(c.project, zone, name).Context(ctx).Do()
	})
}

// FindInstances returns the instances with this name in any zone, in one
// aggregated, filtered list (not one call per zone).
func (c *Client) FindInstances(ctx context.Context, name string) ([]*compute.Instance, error) {
	return listAll(ctx, c, "instances.aggregatedList",
		func(ctx context.Context, token string) (*compute.InstanceAggregatedList, error) {
			return c.svc.Instances.AggregatedList(c.project).Filter("name = " + strconv.Quote(name)).PageToken(token).Context(ctx).Do()
		},
		func(p *compute.InstanceAggregatedList) ([]*compute.Instance, string) {
			var out []*compute.Instance
			for _, scoped := range p.Items {
				out = append(out, scoped.Instances...)
			}
			return out, p.NextPageToken
		})
}

// GetRegion reads a region (its zones).
func (c *Client) GetRegion(ctx context.Context, region string) (*compute.Region, error) {
	return Do(ctx, c, "regions.get", func(ctx context.Context) (*compute.Region, error) {
		return c.svc.Regions.Get(c.project, region).Context(ctx).Do()
	})
}
