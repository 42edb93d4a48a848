package computeclient

import (
	"context"

	"google.golang.org/api/compute/v1"
)

// GetProject reads a project by id or by number: the answer's name is the
// id (kubernetes/cloud-provider-gcp providers/gce/gce.go, getProjectID,
// reads it so).
func (c *Client) GetProject(ctx context.Context, idOrNumber string) (*compute.Project, error) {
	return Do(ctx, c, "projects.get", func(ctx context.Context) (*compute.Project, error) {
		return c.svc.Projects.Get(idOrNumber).Context(ctx).Do()
	})
}

// ListInstancesNamed returns the instances of every zone whose names start
// with prefix (a compute name, so no regular-expression character), in one
// aggregated, filtered list.
func (c *Client) ListInstancesNamed(ctx context.Context, prefix string) ([]*compute.Instance, error) {
	return listAll(ctx, c, "instances.aggregatedList",
		func(ctx context.Context, token string) (*compute.InstanceAggregatedList, error) {
			return c.svc.Instances.AggregatedList(c.project).Filter("name eq " + prefix + ".*").PageToken(token).Context(ctx).Do()
		},
		func(p *compute.InstanceAggregatedList) ([]*compute.Instance, string) {
			var out []*compute.Instance
			for _, scoped := range p.Items {
				out = append(out, scoped.Instances...)
			}
			return out, p.NextPageToken
		})
}
