package gce

import (
	"context"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/firewall"
)

// CollectFirewallGarbage is one pass of the firewall garbage collector
// (firewall/firewallgc, a controller of the command) over this cluster's
// rules: it deletes those whose Service live says is gone, and returns
// their names. It considers only the rules c.owner owns (name prefix and
// marker, with the service project on a Shared VPC) on the cluster's
// network: another cluster's Services are not in this cluster's API server,
// so its rules would all look dead.
func (c *Cloud) CollectFirewallGarbage(ctx context.Context, live func(firewall.RuleService) bool) ([]string, error) {
	return firewall.CollectGarbage(ctx, c.api, c.owner, c.networkURL, live)
}
