package nlb

import (
	"context"
	"fmt"

	"google.golang.org/api/compute/v1"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/changeset"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/computeclient"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/firewall"
)

// The operations every backend shares: the address, the forwarding rules
// and the firewall rules. Building an op makes no call; its Call does.

// maxBatch is the most instances one addInstance or removeInstance call
// carries: the upstream GCE provider's maxInstancesPerTargetPoolUpdate
// (kubernetes/kubernetes#87881, kubernetes/cloud-provider-gcp
// providers/gce/gce.go), as one call of 1000 takes minutes. The API took
// 1800 in one call when #27829 was tested on 2000 nodes.
const maxBatch = 1000

func batches(items []string) [][]string {
	var out [][]string
	for len(items) > 0 {
		n := min(maxBatch, len(items))
		out = append(out, items[:n])
		items = items[n:]
	}
	return out
}

// insertAddressOp reserves an address (a 409 is a retry's: it exists) and
// learns its IP into ip.
func (b *Balancer) insertAddressOp(step int, a *compute.Address, ip *string) changeset.Op {
	return changeset.Op{Verb: changeset.Insert, Kind: "address", Name: a.Name, Step: step, Call: func(ctx context.Context) error {
		if err := b.api.InsertAddress(ctx, b.p.Region, a); err != nil && !computeclient.IsConflict(err) {
			return err
		}
		got, err := b.api.GetAddress(ctx, b.p.Region, a.Name)
		if err != nil {
			return fmt.Errorf("read it: %w", err)
		}
		if !b.p.Owner.Owns(got.Name, got.Description) {
			return collision("address", got.Name)
		}
		*ip = got.Address
		return nil
	}}
}

func (b *Balancer) deleteAddressOp(step int, name string) changeset.Op {
	return changeset.Op{Verb: changeset.Delete, Kind: "address", Name: name, Step: step,
		Call: func(ctx context.Context) error { return b.api.DeleteAddress(ctx, b.p.Region, name) }}
}

func (b *Balancer) deleteRuleOp(step int, name string) changeset.Op {
	return changeset.Op{Verb: changeset.Delete, Kind: "forwarding rule", Name: name, Step: step,
		Call: func(ctx context.Context) error { return b.api.DeleteForwardingRule(ctx, b.p.Region, name) }}
}

// insertRuleOp inserts a forwarding rule; one planned before its address
// was reserved takes the address the run learned.
func (b *Balancer) insertRuleOp(step int, fr *compute.ForwardingRule, ips *learnedIPs) changeset.Op {
	return changeset.Op{Verb: changeset.Insert, Kind: "forwarding rule", Name: fr.Name, Step: step, Call: func(ctx context.Context) error {
		r := *fr
		if r.IPAddress == "" && r.IpVersion == "IPV6" {
			r.IPAddress = ipv6RuleAddress(ips.v6)
		} else if r.IPAddress == "" {
			r.IPAddress = ips.v4
		}
		return b.api.InsertForwardingRule(ctx, b.p.Region, &r)
	}}
}

// deleteOwnedRuleOps delete every observed forwarding rule of the Service.
func (b *Balancer) deleteOwnedRuleOps(step int, o *Observed) []changeset.Op {
	var ops []changeset.Op
	for _, fr := range o.Rules {
		if b.p.Owner.Owns(fr.Name, fr.Description) {
			ops = append(ops, b.deleteRuleOp(step, fr.Name))
		}
	}
	return ops
}

// firewallOps bring the Service's firewall rules to those rules() gives.
// When the plan knows the addresses (known), the diff is made now, and a
// load balancer whose rules are as wanted has no firewall op; else it is
// made when the op runs, once the addresses are reserved.
func (b *Balancer) firewallOps(step int, d *Desired, o *Observed, known bool, rules func() []firewall.Rule) ([]changeset.Op, error) {
	diff := func() (firewall.Plan, error) {
		fw := firewall.Diff(rules(), o.Firewalls, b.p.Owner, firewall.ForService(d.UID))
		for _, c := range fw.Conflicts {
			return fw, &ServiceError{Reason: "NameCollision", Message: fmt.Sprintf("firewall rule %s: %s", c.Name, c.Reason)}
		}
		return fw, nil
	}
	op := changeset.Op{Verb: "apply", Kind: "firewall rules of", Name: d.Base, Step: step, Strict: true}
	if !known {
		op.Call = func(ctx context.Context) error {
			fw, err := diff()
			if err != nil {
				return err
			}
			return firewall.Apply(ctx, b.api, fw)
		}
		return []changeset.Op{op}, nil
	}
	fw, err := diff()
	if err != nil || fw.Empty() {
		return nil, err
	}
	op.Call = func(ctx context.Context) error { return firewall.Apply(ctx, b.api, fw) }
	return []changeset.Op{op}, nil
}

// deleteHealthCheckOp deletes a legacy health check; one still in use (the
// shared one, while other Services need it) stays.
func (b *Balancer) deleteHealthCheckOp(step int, name string) changeset.Op {
	return changeset.Op{Verb: changeset.Delete, Kind: "health check", Name: name, Step: step, Shared: true,
		Call: func(ctx context.Context) error { return b.api.DeleteHTTPHealthCheck(ctx, name) }}
}

func (b *Balancer) deleteRegionHealthCheckOp(step int, name string) changeset.Op {
	return changeset.Op{Verb: changeset.Delete, Kind: "regional health check", Name: name, Step: step, Shared: true,
		Call: func(ctx context.Context) error { return b.api.DeleteRegionHealthCheck(ctx, b.p.Region, name) }}
}

func (b *Balancer) deletePoolOp(step int, name string) changeset.Op {
	return changeset.Op{Verb: changeset.Delete, Kind: "target pool", Name: name, Step: step,
		Call: func(ctx context.Context) error { return b.api.DeleteTargetPool(ctx, b.p.Region, name) }}
}

func (b *Balancer) deleteBackendServiceOp(step int, name string) changeset.Op {
	return changeset.Op{Verb: changeset.Delete, Kind: "backend service", Name: name, Step: step,
		Call: func(ctx context.Context) error { return b.api.DeleteRegionBackendService(ctx, b.p.Region, name) }}
}

func (b *Balancer) syncGroupOp(step int, zone string, want []string) changeset.Op {
	return changeset.Op{Verb: "sync", Kind: "instance group", Name: b.p.Owner.InstanceGroupName(zone), Step: step, Strict: true,
		Call: func(ctx context.Context) error { return b.syncGroup(ctx, zone, want) }}
}
