package computeclient

import (
	"context"

	"google.golang.org/api/compute/v1"
)

// ListFirewalls lists the firewall rules that match a filter, every page.
func (c *Client) ListFirewalls(ctx context.Context, filter string) ([]*compute.Firewall, error) {
	return listAll(ctx, c, "firewalls.list",
		func(ctx context.Context, token string) (*compute.FirewallList, error) {
			return c.svc.Firewalls.List(c.networkProject).Filter(filter).PageToken(token).Context(ctx).Do()
		},
		func(p *compute.FirewallList) ([]*compute.Firewall, string) { return p.Items, p.NextPageToken })
}

// GetFirewall reads one firewall rule.
func (c *Client) GetFirewall(ctx context.Context, name string) (*compute.Firewall, error) {
	return Do(ctx, c, "firewalls.get", func(ctx context.Context) (*compute.Firewall, error) {
		return c.svc.Firewalls.Get(c.networkProject, name).Context(ctx).Do()
	})
}

// InsertFirewall creates a firewall rule and waits for it.
func (c *Client) InsertFirewall(ctx context.Context, fw *compute.Firewall) error {
	return c.Mutate(ctx, "firewalls.insert", func(ctx context.Context, id string) (*compute.Operation, error) {
		return c.svc.Firewalls.Insert(c.networkProject, fw).RequestId(id).Context(ctx).Do()
	})
}

// PatchFirewall changes the fields of a firewall rule that fw sets (JSON
// merge patch: a field left out keeps its value; list it in ForceSendFields
// to clear it) and waits for it.
func (c *Client) PatchFirewall(ctx context.Context, name string, fw *compute.Firewall) error {
	return c.Mutate(ctx, "firewalls.patch", func(ctx context.Context, id string) (*compute.Operation, error) {
		return c.svc.Firewalls.Patch(c.networkProject, name, fw).RequestId(id).Context(ctx).Do()
	})
}

// DeleteFirewall deletes a firewall rule and waits for it.
func (c *Client) DeleteFirewall(ctx context.Context, name string) error {
	return c.Mutate(ctx, "firewalls.delete", func(ctx context.Context, id string) (*compute.Operation, error) {
		return c.svc.Firewalls.Delete(c.networkProject, name).RequestId(id).Context(ctx).Do()
	})
}
