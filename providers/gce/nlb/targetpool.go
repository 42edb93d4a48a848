package nlb

import (
	"context"
	"fmt"

	v1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/changeset"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/computeclient"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/firewall"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/ownership"
)

// targetPool is the target-pool backend: a legacy HTTP health check and a
// target pool of the nodes' instances per Service. Its critical path is
// three operations: the address and the health check, then the pool (the
// firewall rules alongside), then the forwarding rules.
type targetPool struct{ b *Balancer }

// The steps of its plan.
const (
	tpReplaceRules = iota // an address of the other type goes, with the rules on it
	tpReplaceAddress
	tpAddress // the address and the health check
	tpPool    // the pool and the firewall rules, now that the IP is known
	tpDeleteRules
	tpRules   // the forwarding rules, on the address, to the pool
	tpCleanup // what the rules no longer use, and a backend service of before
	tpShared  // the shared resources that backend service leaves unused
)

// observe: every read the target pool needs is the common one.
func (targetPool) observe(context.Context, *Desired, *Observed) error { return nil }

func (tp targetPool) plan(d *Desired, o *Observed) (*changes, error) {
	b := tp.b
	pl, err := planTargetPool(d, o, b.p)
	if err != nil {
		return nil, err
	}
	ch := newChanges(learnedIPs{v4: pl.IP})
	if pl.ReplaceAddress {
		// The rules and the address go first; the rest is planned as if
		// they were already gone.
		ch.Add(b.deleteOwnedRuleOps(tpReplaceRules, o)...)
		ch.Add(b.deleteAddressOp(tpReplaceAddress, d.Base))
		gone := *o
		gone.OwnedAddress, gone.Address, gone.Rules = nil, nil, nil
		if pl, err = planTargetPool(d, &gone, b.p); err != nil {
			return nil, err
		}
	}
	if pl.InsertAddress != nil {
		ch.Add(b.insertAddressOp(tpAddress, pl.InsertAddress, &ch.ips.v4))
	}
	ch.Add(tp.healthCheckOps(pl)...)
	fw, err := b.firewallOps(tpPool, d, o, pl.InsertAddress == nil, func() []firewall.Rule { return d.Firewalls(b.p, ch.ips.v4) })
	if err != nil {
		return nil, err
	}
	ch.Add(fw...)
	ch.Add(tp.poolOps(pl)...)
	ch.Add(tp.ruleOps(pl, ch.ips)...)
	ch.Add(tp.cleanupOps(pl)...)
	if bs := o.BackendService; bs != nil && b.p.Owner.Owns(bs.Name, bs.Description) {
		// A backend service this Service had before it moved to a pool.
		ch.Add(b.deleteBackendServiceOp(tpCleanup, bs.Name))
		ch.Add(b.releaseBackendServiceOps(tpShared, d.Base, bs, nil)...)
	}
	ch.status = func() *v1.LoadBalancerStatus {
		return &v1.LoadBalancerStatus{Ingress: []v1.LoadBalancerIngress{{IP: ch.ips.v4, IPMode: ptr.To(v1.LoadBalancerIPModeVIP)}}}
	}
	return ch, nil
}

func (tp targetPool) healthCheckOps(pl *poolPlan) []changeset.Op {
	api := tp.b.api
	switch {
	case pl.InsertHC != nil:
		return []changeset.Op{{Verb: changeset.Insert, Kind: "health check", Name: pl.InsertHC.Name, Step: tpAddress,
			Call: func(ctx context.Context) error { return api.InsertHTTPHealthCheck(ctx, pl.InsertHC) }}}
	case pl.UpdateHC != nil:
		return []changeset.Op{{Verb: "update", Kind: "health check", Name: pl.UpdateHC.Name, Step: tpAddress,
			Call: func(ctx context.Context) error { return api.UpdateHTTPHealthCheck(ctx, pl.UpdateHC) }}}
	}
	return nil
}

// poolOps: the pool's insert, then its health check swapped, then the
// instances the insert could not carry and the member changes.
func (tp targetPool) poolOps(pl *poolPlan) []changeset.Op {
	api, region, name := tp.b.api, tp.b.p.Region, pl.PoolName
	var ops []changeset.Op
	var after []string
	add := func(op changeset.Op) {
		op.Step, op.After = tpPool, after
		ops = append(ops, op)
	}
	if pl.InsertPool != nil {
		add(changeset.Op{Verb: changeset.Insert, Kind: "target pool", Name: name, Strict: true, Call: func(ctx context.Context) error {
			err := api.InsertTargetPool(ctx, region, pl.InsertPool)
			if computeclient.IsConflict(err) {
				// A retried insert found the pool: converge it on the next reconcile.
				return fmt.Errorf("it exists already; the next reconcile updates it")
			}
			return err
		}})
		after = []string{ops[0].Key()}
	}
	for _, hc := range pl.RemovePoolHC {
		add(changeset.Op{Verb: "remove health check from", Kind: "target pool", Name: name,
			Call: func(ctx context.Context) error { return api.RemoveTargetPoolHealthCheck(ctx, region, name, hc) }})
	}
	if len(pl.RemovePoolHC) > 0 {
		after = append(after, ops[len(ops)-1].Key())
	}
	if pl.AddPoolHC != "" {
		add(changeset.Op{Verb: "add health check to", Kind: "target pool", Name: name,
			Call: func(ctx context.Context) error { return api.AddTargetPoolHealthCheck(ctx, region, name, pl.AddPoolHC) }})
		after = append(after, ops[len(ops)-1].Key())
	}
	for _, batch := range batches(pl.AddInstances) {
		add(changeset.Op{Verb: fmt.Sprintf("add %d instances to", len(batch)), Kind: "target pool", Name: name,
			Call: func(ctx context.Context) error { return api.AddTargetPoolInstances(ctx, region, name, batch) }})
	}
	for _, batch := range batches(pl.RemoveInstances) {
		add(changeset.Op{Verb: fmt.Sprintf("remove %d instances from", len(batch)), Kind: "target pool", Name: name,
			Call: func(ctx context.Context) error { return api.RemoveTargetPoolInstances(ctx, region, name, batch) }})
	}
	return ops
}

// ruleOps: the rules to recreate go before any insert, so that a rule
// whose ports or protocol changed comes back on the same address.
func (tp targetPool) ruleOps(pl *poolPlan, ips *learnedIPs) []changeset.Op {
	b := tp.b
	target := ownership.InProject(b.p.Project).TargetPool(b.p.Region, pl.PoolName)
	var ops []changeset.Op
	for _, name := range pl.DeleteRules {
		ops = append(ops, b.deleteRuleOp(tpDeleteRules, name))
	}
	for _, fr := range pl.InsertRules {
		ops = append(ops, b.insertRuleOp(tpRules, fr, ips))
	}
	for _, name := range pl.SetTarget {
		ops = append(ops, changeset.Op{Verb: "set target of", Kind: "forwarding rule", Name: name, Step: tpRules,
			Call: func(ctx context.Context) error { return b.api.SetForwardingRuleTarget(ctx, b.p.Region, name, target) }})
	}
	return ops
}

func (tp targetPool) cleanupOps(pl *poolPlan) []changeset.Op {
	b := tp.b
	var ops []changeset.Op
	for _, name := range pl.DeletePools {
		ops = append(ops, b.deletePoolOp(tpCleanup, name))
	}
	if pl.DeleteHC != "" {
		ops = append(ops, b.deleteHealthCheckOp(tpCleanup, pl.DeleteHC))
	}
	if pl.DeleteAddress != "" {
		ops = append(ops, b.deleteAddressOp(tpCleanup, pl.DeleteAddress))
	}
	return ops
}
