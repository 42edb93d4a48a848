package nlb

import (
	"context"
	"slices"

	"golang.org/x/sync/errgroup"
	"google.golang.org/api/compute/v1"
	v1 "k8s.io/api/core/v1"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/changeset"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/firewall"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/ownership"
)

// A teardown observes the Service's resources by its base name, plans their
// removal (pure) and runs it, in dependency order, tolerating what is
// already gone: the forwarding rules, then the pools and the backend
// service, then the health checks, the addresses (never the user's), the
// firewall rules, and the shared resources no other load balancer uses.

// observedTeardown is what a Service's teardown reads.
type observedTeardown struct {
	base         string
	uid          string
	address      *compute.Address // the one named after the Service
	ipv6Address  *compute.Address
	healthCheck  *compute.HttpHealthCheck // the Service's own (Local)
	sharedHC     *compute.HttpHealthCheck // the cluster's kube-proxy check
	service      *compute.BackendService
	regionHC     *compute.HealthCheck // the Service's own, read when it has no backend service
	rules        []*compute.ForwardingRule
	firewalls    []*compute.Firewall
	clusterPools []*compute.TargetPool // the cluster's: the Service's and the shared check's users
	clusterBSs   []*compute.BackendService
}

// Delete removes everything a Service's load balancer owns.
func (b *Balancer) Delete(ctx context.Context, svc *v1.Service) error {
	base := b.p.Owner.LoadBalancerBase(string(svc.UID))
	b.shared.forgetBuilt(base)
	o, err := b.observeTeardown(ctx, base, string(svc.UID))
	if err != nil {
		return err
	}
	p := b.planTeardown(o)
	return p.Err(ctx)
}

func (b *Balancer) observeTeardown(ctx context.Context, base, uid string) (*observedTeardown, error) {
	api, region := b.api, b.p.Region
	o := &observedTeardown{base: base, uid: uid}
	var r errgroup.Group // parallel reads; the first error is the answer
	r.Go(func() (err error) { o.address, err = api.GetAddress(ctx, region, base); return notFoundIsNil(err) })
	r.Go(func() (err error) {
		o.ipv6Address, err = api.GetAddress(ctx, region, ownership.IPv6AddressName(base))
		return notFoundIsNil(err)
	})
	r.Go(func() (err error) { o.healthCheck, err = api.GetHTTPHealthCheck(ctx, base); return notFoundIsNil(err) })
	r.Go(func() (err error) {
		o.sharedHC, err = api.GetHTTPHealthCheck(ctx, b.p.Owner.SharedHealthCheckName())
		return notFoundIsNil(err)
	})
	r.Go(func() (err error) {
		o.clusterPools, err = api.ListTargetPools(ctx, region, b.p.Owner.LoadBalancersFilter())
		return err
	})
	r.Go(func() (err error) {
		o.clusterBSs, err = api.ListRegionBackendServices(ctx, region, b.p.Owner.LoadBalancersFilter())
		return err
	})
	r.Go(func() (err error) {
		o.rules, err = api.ListForwardingRules(ctx, region, ownership.ServiceResourcesFilter(base))
		return err
	})
	r.Go(func() (err error) {
		o.firewalls, err = api.ListFirewalls(ctx, ownership.ServiceResourcesFilter(base))
		return err
	})
	if err := r.Wait(); err != nil {
		return nil, err
	}
	for _, bs := range o.clusterBSs {
		if bs.Name == base {
			o.service = bs
		}
	}
	if o.service == nil {
		// A health check left by a crash before the backend service existed.
		hc, err := api.GetRegionHealthCheck(ctx, region, base)
		if err = notFoundIsNil(err); err != nil {
			return nil, err
		}
		o.regionHC = hc
	}
	return o, nil
}

// The steps of a teardown.
const (
	tdRules = iota
	tdBackends
	tdRest
)

// planTeardown plans the removal of what o holds that the cluster owns.
// It is pure.
func (b *Balancer) planTeardown(o *observedTeardown) *changeset.Plan {
	owns := func(name, description string) bool { return b.p.Owner.Owns(name, description) }
	p := &changeset.Plan{Parallelism: parallelism}
	for _, fr := range o.rules {
		if owns(fr.Name, fr.Description) {
			p.Add(b.deleteRuleOp(tdRules, fr.Name))
		}
	}
	for _, tp := range o.clusterPools {
		if ownership.IsServiceResource(tp.Name, o.base) && owns(tp.Name, tp.Description) {
			p.Add(b.deletePoolOp(tdBackends, tp.Name))
		}
	}
	seen := &sharedUsers{pools: o.clusterPools, services: o.clusterBSs}
	if bs := o.service; bs != nil && owns(bs.Name, bs.Description) {
		p.Add(b.deleteBackendServiceOp(tdBackends, bs.Name))
		p.Add(b.releaseBackendServiceOps(tdRest, o.base, bs, seen)...)
	}
	if hc := o.regionHC; hc != nil && owns(hc.Name, hc.Description) {
		p.Add(b.deleteRegionHealthCheckOp(tdBackends, hc.Name))
	}
	p.Add(changeset.Op{Verb: changeset.Delete, Kind: "firewall rules of", Name: o.base, Step: tdRest, Strict: true,
		Call: func(ctx context.Context) error {
			return firewall.Apply(ctx, b.api, firewall.Diff(nil, o.firewalls, b.p.Owner, firewall.ForService(o.uid)))
		}})
	if hc := o.healthCheck; hc != nil && owns(hc.Name, hc.Description) {
		p.Add(b.deleteHealthCheckOp(tdRest, hc.Name))
	}
	if hc := o.sharedHC; hc != nil && owns(hc.Name, hc.Description) && (o.poolsUse(hc.Name) || unusedBy(hc.Name, seen, o.base)) {
		// A Service whose pools never used the shared check (a nodeip
		// Service's release, say) leaves it to its users, unless none is left.
		p.Add(b.releaseSharedOp(tdRest, o.base, sharedCandidates{healthCheck: hc.Name}, seen))
	}
	for _, a := range []*compute.Address{o.address, o.ipv6Address} {
		if a != nil && owns(a.Name, a.Description) {
			p.Add(b.deleteAddressOp(tdRest, a.Name))
		}
	}
	return p
}

// poolsUse reports whether the Service's own pools use the health check.
func (o *observedTeardown) poolsUse(hc string) bool {
	for _, tp := range o.clusterPools {
		if ownership.IsServiceResource(tp.Name, o.base) && slices.ContainsFunc(tp.HealthChecks, func(l string) bool { return ownership.LastSegment(l) == hc }) {
			return true
		}
	}
	return false
}

// unusedBy reports whether no load balancer but base's uses the health check.
func unusedBy(hc string, u *sharedUsers, base string) bool {
	return unusedShared(sharedCandidates{healthCheck: hc}, *u, base).healthCheck != ""
}
