package computeclient

import (
	"context"

	"google.golang.org/api/compute/v1"
)

// Addresses (regional).

// GetAddress reads a regional address.
func (c *Client) GetAddress(ctx context.Context, region, name string) (*compute.Address, error) {
	return Do(ctx, c, "addresses.get", func(ctx context.Context) (*compute.Address, error) {
		return c.svc.Addresses.Get(c.project, region, name).Context(ctx).Do()
	})
}

// ListAddresses lists a region's addresses that match a filter.
func (c *Client) ListAddresses(ctx context.Context, region, filter string) ([]*compute.Address, error) {
	return listAll(ctx, c, "addresses.list",
		func(ctx context.Context, token string) (*compute.AddressList, error) {
			return c.svc.Addresses.List(c.project, region).Filter(filter).PageToken(token).Context(ctx).Do()
		},
		func(p *compute.AddressList) ([]*compute.Address, string) { return p.Items, p.NextPageToken })
}

// InsertAddress reserves an address and waits for it.
func (c *Client) InsertAddress(ctx context.Context, region string, a *compute.Address) error {
	return c.Mutate(ctx, "addresses.insert", func(ctx context.Context, id string) (*compute.Operation, error) {
		return c.svc.Addresses.Insert(c.project, region, a).RequestId(id).Context(ctx).Do()
	})
}

// DeleteAddress releases an address and waits for it.
func (c *Client) DeleteAddress(ctx context.Context, region, name string) error {
	return c.Mutate(ctx, "addresses.delete", func(ctx context.Context, id string) (*compute.Operation, error) {
		return c.svc.Addresses.Delete(c.project, region, name).RequestId(id).Context(ctx).Do()
	})
}

// Legacy HTTP health checks (what target pools use).

// GetHTTPHealthCheck reads an HTTP health check.
func (c *Client) GetHTTPHealthCheck(ctx context.Context, name string) (*compute.HttpHealthCheck, error) {
	return Do(ctx, c, "httpHealthChecks.get", func(ctx context.Context) (*compute.HttpHealthCheck, error) {
		return c.svc.HttpHealthChecks.Get(c.project, name).Context(ctx).Do()
	})
}

// InsertHTTPHealthCheck creates an HTTP health check and waits for it.
func (c *Client) InsertHTTPHealthCheck(ctx context.Context, hc *compute.HttpHealthCheck) error {
	return c.Mutate(ctx, "httpHealthChecks.insert", func(ctx context.Context, id string) (*compute.Operation, error) {
		return c.svc.HttpHealthChecks.Insert(c.project, hc).RequestId(id).Context(ctx).Do()
	})
}

// UpdateHTTPHealthCheck replaces an HTTP health check and waits for it.
func (c *Client) UpdateHTTPHealthCheck(ctx context.Context, hc *compute.HttpHealthCheck) error {
	return c.Mutate(ctx, "httpHealthChecks.update", func(ctx context.Context, id string) (*compute.Operation, error) {
		return c.svc.HttpHealthChecks.Update(c.project, hc.Name, hc).RequestId(id).Context(ctx).Do()
	})
}

// DeleteHTTPHealthCheck deletes an HTTP health check and waits for it.
func (c *Client) DeleteHTTPHealthCheck(ctx context.Context, name string) error {
	return c.Mutate(ctx, "httpHealthChecks.delete", func(ctx context.Context, id string) (*compute.Operation, error) {
		return c.svc.HttpHealthChecks.Delete(c.project, name).RequestId(id).Context(ctx).Do()
	})
}

// Target pools.

// GetTargetPool reads a target pool.
func (c *Client) GetTargetPool(ctx context.Context, region, name string) (*compute.TargetPool, error) {
	return Do(ctx, c, "targetPools.get", func(ctx context.Context) (*compute.TargetPool, error) {
		return c.svc.TargetPools.Get(c.project, region, name).Context(ctx).Do()
	})
}

// InsertTargetPool creates a target pool and waits for it.
func (c *Client) InsertTargetPool(ctx context.Context, region string, tp *compute.TargetPool) error {
	return c.Mutate(ctx, "targetPools.insert", func(ctx context.Context, id string) (*compute.Operation, error) {
		return c.svc.TargetPools.Insert(c.project, region, tp).RequestId(id).Context(ctx).Do()
	})
}

// DeleteTargetPool deletes a target pool and waits for it.
func (c *Client) DeleteTargetPool(ctx context.Context, region, name string) error {
	return c.Mutate(ctx, "targetPools.delete", func(ctx context.Context, id string) (*compute.Operation, error) {
		return c.svc.TargetPools.Delete(c.project, region, name).RequestId(id).Context(ctx).Do()
	})
}

// AddTargetPoolInstances adds instances (links) to a pool and waits.
func (c *Client) AddTargetPoolInstances(ctx context.Context, region, name string, instances []string) error {
	req := &compute.TargetPoolsAddInstanceRequest{}
	for _, i := range instances {
		req.Instances = append(req.Instances, &compute.InstanceReference{Instance: i})
	}
	return c.Mutate(ctx, "targetPools.addInstance", func(ctx context.Context, id string) (*compute.Operation, error) {
		return c.svc.TargetPools.AddInstance(c.project, region, name, req).RequestId(id).Context(ctx).Do()
	})
}

// RemoveTargetPoolInstances removes instances (links) from a pool and waits.
func (c *Client) RemoveTargetPoolInstances(ctx context.Context, region, name string, instances []string) error {
	req := &compute.TargetPoolsRemoveInstanceRequest{}
	for _, i := range instances {
		req.Instances = append(req.Instances, &compute.InstanceReference{Instance: i})
	}
	return c.Mutate(ctx, "targetPools.removeInstance", func(ctx context.Context, id string) (*compute.Operation, error) {
		return c.svc.TargetPools.RemoveInstance(c.project, region, name, req).RequestId(id).Context(ctx).Do()
	})
}

// AddTargetPoolHealthCheck attaches a health check (link) to a pool.
func (c *Client) AddTargetPoolHealthCheck(ctx context.Context, region, name, hc string) error {
	req := &compute.TargetPoolsAddHealthCheckRequest{HealthChecks: []*compute.HealthCheckReference{{HealthCheck: hc}}}
	return c.Mutate(ctx, "targetPools.addHealthCheck", func(ctx context.Context, id string) (*compute.Operation, error) {
		return c.svc.TargetPools.AddHealthCheck(c.project, region, name, req).RequestId(id).Context(ctx).Do()
	})
}

// RemoveTargetPoolHealthCheck detaches a health check (link) from a pool.
func (c *Client) RemoveTargetPoolHealthCheck(ctx context.Context, region, name, hc string) error {
	req := &compute.TargetPoolsRemoveHealthCheckRequest{HealthChecks: []*compute.HealthCheckReference{{HealthCheck: hc}}}
	return c.Mutate(ctx, "targetPools.removeHealthCheck", func(ctx context.Context, id string) (*compute.Operation, error) {
		return c.svc.TargetPools.RemoveHealthCheck(c.project, region, name, req).RequestId(id).Context(ctx).Do()
	})
}

// Forwarding rules (regional).

// ListForwardingRules lists a region's forwarding rules that match a filter.
func (c *Client) ListForwardingRules(ctx context.Context, region, filter string) ([]*compute.ForwardingRule, error) {
	return listAll(ctx, c, "forwardingRules.list",
		func(ctx context.Context, token string) (*compute.ForwardingRuleList, error) {
			return c.svc.ForwardingRules.List(c.project, region).Filter(filter).PageToken(token).Context(ctx).Do()
		},
		func(p *compute.ForwardingRuleList) ([]*compute.ForwardingRule, string) {
			return p.Items, p.NextPageToken
		})
}

// InsertForwardingRule creates a forwarding rule and waits for it.
func (c *Client) InsertForwardingRule(ctx context.Context, region string, fr *compute.ForwardingRule) error {
	return c.Mutate(ctx, "forwardingRules.insert", func(ctx context.Context, id string) (*compute.Operation, error) {
		return c.svc.ForwardingRules.Insert(c.project, region, fr).RequestId(id).Context(ctx).Do()
	})
}

// DeleteForwardingRule deletes a forwarding rule and waits for it.
func (c *Client) DeleteForwardingRule(ctx context.Context, region, name string) error {
	return c.Mutate(ctx, "forwardingRules.delete", func(ctx context.Context, id string) (*compute.Operation, error) {
		return c.svc.ForwardingRules.Delete(c.project, region, name).RequestId(id).Context(ctx).Do()
	})
}

// SetForwardingRuleTarget points a forwarding rule at another target.
func (c *Client) SetForwardingRuleTarget(ctx context.Context, region, name, target string) error {
	req := &compute.TargetReference{Target: target}
	return c.Mutate(ctx, "forwardingRules.setTarget", func(ctx context.Context, id string) (*compute.Operation, error) {
		return c.svc.ForwardingRules.SetTarget(c.project, region, name, req).RequestId(id).Context(ctx).Do()
	})
}

// ListTargetPools lists a region's target pools that match a filter.
func (c *Client) ListTargetPools(ctx context.Context, region, filter string) ([]*compute.TargetPool, error) {
	return listAll(ctx, c, "targetPools.list",
		func(ctx context.Context, token string) (*compute.TargetPoolList, error) {
			return c.svc.TargetPools.List(c.project, region).Filter(filter).PageToken(token).Context(ctx).Do()
		},
		func(p *compute.TargetPoolList) ([]*compute.TargetPool, string) { return p.Items, p.NextPageToken })
}
