package computeclient

import (
	"context"

	"google.golang.org/api/compute/v1"
)

// ListRoutes lists the routes that match a filter, every page.
func (c *Client) ListRoutes(ctx context.Context, filter string) ([]*compute.Route, error) {
	return listAll(ctx, c, "routes.list",
		func(ctx context.Context, token string) (*compute.RouteList, error) {
			return c.svc.Routes.List(c.networkProject).Filter(filter).PageToken(token).Context(ctx).Do()
		},
		func(p *compute.RouteList) ([]*compute.Route, string) { return p.Items, p.NextPageToken })
}

// GetRoute reads one route.
func (c *Client) GetRoute(ctx context.Context, name string) (*compute.Route, error) {
	return Do(ctx, c, "routes.get", func(ctx context.Context) (*compute.Route, error) {
		return c.svc.Routes.Get(c.networkProject, name).Context(ctx).Do()
	})
}

// InsertRoute creates a route and waits for it.
func (c *Client) InsertRoute(ctx context.Context, r *compute.Route) error {
	return c.Mutate(ctx, "routes.insert", func(ctx context.Context, id string) (*compute.Operation, error) {
		return c.svc.Routes.Insert(c.networkProject, r).RequestId(id).Context(ctx).Do()
	})
}

// DeleteRoute deletes a route and waits for it.
func (c *Client) DeleteRoute(ctx context.Context, name string) error {
	return c.Mutate(ctx, "routes.delete", func(ctx context.Context, id string) (*compute.Operation, error) {
		return c.svc.Routes.Delete(c.networkProject, name).RequestId(id).Context(ctx).Do()
	})
}
