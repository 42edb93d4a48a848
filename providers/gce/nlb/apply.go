package nlb

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"google.golang.org/api/compute/v1"
	v1 "k8s.io/api/core/v1"
	"k8s.io/klog/v2"
	"k8s.io/utils/ptr"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/firewall"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/providers/gce/annotations"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/providers/gce/computeclient"
)

// linkBase is computeclient.LinkBase, short for the links built here.
const linkBase = computeclient.LinkBase

// maxBatch is the most instances one addInstance or removeInstance call
// carries: the upstream GCE provider's maxInstancesPerTargetPoolUpdate
// (kubernetes/kubernetes#87881, kubernetes/cloud-provider-gcp
// providers/gce/gce.go), as one call of 1000 takes minutes. The API took
// 1800 in one call when #27829 was tested on 2000 nodes.
const maxBatch = 1000

// Ensure brings a Service's load balancer to its desired state and returns
// its status. The critical path is three operations: the address and the
// health check, then the pool (the firewall rules alongside), then the
// forwarding rules.
func Ensure(ctx context.Context, api *computeclient.Client, p Params, svc *v1.Service, nodes []*v1.Node) (*v1.LoadBalancerStatus, error) {
	d, err := Desire(svc, nodes, p)
	if err != nil {
		return nil, err
	}
	// Whatever this ensure ends with, UpdateNodes may take a shortcut only
	// after it succeeded with a backend service (ensureBackendService).
	forgetBuilt(api, d.Base)
	o, err := observe(ctx, api, p.Region, d)
	if err != nil {
		return nil, err
	}
	if !d.BackendChosen && d.Backend == BackendService && d.Scheme != "INTERNAL" && hasOwnedPool(p, d, o) {
		// The default backend is for new Services: an existing one keeps its
		// target pool until it asks for a backend service.
		d.Backend = BackendTargetPool
		if d.serves(v1.IPv6Protocol) {
			// A target pool carries IPv4 only: a silent IPv4-only balancer
			// would break the Service's IPv6 clients.
			return nil, &ServiceError{Reason: "IPv6NeedsBackendService", Message: "this Service keeps the target pool it was created on, which carries IPv4 only: annotate it with " +
				annotations.Backend + ": backend-service (its IPv4 address stays) or remove IPv6 from spec.ipFamilies"}
		}
	}
	pl, err := plan(d, o, p)
	if err != nil {
		return nil, err
	}
	if d.Backend == BackendService {
		return ensureBackendService(ctx, api, p, d, o)
	}
	log := klog.FromContext(ctx).WithValues("service", d.Service)
	if pl.ReplaceAddress {
		if err := replaceAddress(ctx, api, p, d, o); err != nil {
			return nil, err
		}
		if pl, err = plan(d, o, p); err != nil {
			return nil, err
		}
	}
	// 1. The address and the health check.
	err = parallel(
		func() error { return insertAddress(ctx, api, p, pl) },
		func() error {
			switch {
			case pl.InsertHC != nil:
				if err := api.InsertHTTPHealthCheck(ctx, pl.InsertHC); err != nil && !computeclient.IsConflict(err) {
					return fmt.Errorf("insert health check %s: %w", pl.InsertHC.Name, err)
				}
			case pl.UpdateHC != nil:
				if err := api.UpdateHTTPHealthCheck(ctx, pl.UpdateHC); err != nil {
					return fmt.Errorf("update health check %s: %w", pl.UpdateHC.Name, err)
				}
			}
			return nil
		})
	if err != nil {
		return nil, err
	}
	// 2. The firewall rules (now that the IP is known) and the pool.
	fwPlan := firewall.Diff(d.Firewalls(p, pl.IP), o.Firewalls, p.Owner, firewall.ForService(d.UID))
	for _, c := range fwPlan.Conflicts {
		return nil, &ServiceError{Reason: "NameCollision", Message: fmt.Sprintf("firewall rule %s: %s", c.Name, c.Reason)}
	}
	err = parallel(
		func() error { return firewall.Apply(ctx, api, fwPlan) },
		func() error { return applyPool(ctx, api, p, pl) },
	)
	if err != nil {
		return nil, err
	}
	// 3. The forwarding rules, on the address, to the pool.
	if err := applyRules(ctx, api, p, pl); err != nil {
		return nil, err
	}
	// 4. What the rules no longer use, and a backend service this Service
	// had before it moved to a target pool.
	if err := cleanup(ctx, api, p, pl); err != nil {
		return nil, err
	}
	if bs := o.BackendService; bs != nil && p.Owner.Owns(bs.Name, bs.Description) {
		if err := deleteBackendService(ctx, api, p, d.Base, bs); err != nil {
			return nil, err
		}
	}
	if !pl.Empty() || !fwPlan.Empty() {
		log.V(2).Info("Load balancer reconciled", "ip", pl.IP, "firewallChanges", !fwPlan.Empty())
	}
	return &v1.LoadBalancerStatus{Ingress: []v1.LoadBalancerIngress{{IP: pl.IP, IPMode: ptr.To(v1.LoadBalancerIPModeVIP)}}}, nil
}

// insertAddress reserves the Service's address when the plan says so and
// learns its IP.
func insertAddress(ctx context.Context, api *computeclient.Client, p Params, pl *Plan) error {
	if pl.InsertAddress == nil {
		return nil
	}
	if err := api.InsertAddress(ctx, p.Region, pl.InsertAddress); err != nil && !computeclient.IsConflict(err) {
		return fmt.Errorf("reserve address %s: %w", pl.InsertAddress.Name, err)
	}
	a, err := api.GetAddress(ctx, p.Region, pl.InsertAddress.Name)
	if err != nil {
		return fmt.Errorf("read address %s: %w", pl.InsertAddress.Name, err)
	}
	if !p.Owner.Owns(a.Name, a.Description) {
		return collision("address", a.Name)
	}
	pl.IP = a.Address
	return nil
}

func applyPool(ctx context.Context, api *computeclient.Client, p Params, pl *Plan) error {
	if pl.InsertPool != nil {
		err := api.InsertTargetPool(ctx, p.Region, pl.InsertPool)
		if err != nil && !computeclient.IsConflict(err) {
			return fmt.Errorf("insert target pool %s: %w", pl.InsertPool.Name, err)
		}
		if err != nil {
			// A retried insert found the pool: converge it on the next reconcile.
			return fmt.Errorf("insert target pool %s: it exists already; the next reconcile updates it", pl.InsertPool.Name)
		}
		// The nodes the insert could not carry are added below.
	}
	if len(pl.RemovePoolHC) > 0 {
		for _, hc := range pl.RemovePoolHC {
			if err := api.RemoveTargetPoolHealthCheck(ctx, p.Region, pl.PoolName, hc); err != nil {
				return fmt.Errorf("remove health check from target pool %s: %w", pl.PoolName, err)
			}
		}
	}
	if pl.AddPoolHC != "" {
		if err := api.AddTargetPoolHealthCheck(ctx, p.Region, pl.PoolName, pl.AddPoolHC); err != nil {
			return fmt.Errorf("add health check to target pool %s: %w", pl.PoolName, err)
		}
	}
	var errs []error
	for _, batch := range batches(pl.AddInstances) {
		if err := api.AddTargetPoolInstances(ctx, p.Region, pl.PoolName, batch); err != nil {
			errs = append(errs, fmt.Errorf("add %d instances to target pool %s: %w", len(batch), pl.PoolName, err))
		}
	}
	for _, batch := range batches(pl.RemoveInstances) {
		if err := api.RemoveTargetPoolInstances(ctx, p.Region, pl.PoolName, batch); err != nil {
			errs = append(errs, fmt.Errorf("remove %d instances from target pool %s: %w", len(batch), pl.PoolName, err))
		}
	}
	return errors.Join(errs...)
}

func batches(items []string) [][]string {
	var out [][]string
	for len(items) > 0 {
		n := min(maxBatch, len(items))
		out = append(out, items[:n])
		items = items[n:]
	}
	return out
}

func applyRules(ctx context.Context, api *computeclient.Client, p Params, pl *Plan) error {
	var fns []func() error
	for _, name := range pl.DeleteRules {
		fns = append(fns, func() error {
			if err := api.DeleteForwardingRule(ctx, p.Region, name); err != nil && !computeclient.IsNotFound(err) {
				return fmt.Errorf("delete forwarding rule %s: %w", name, err)
			}
			return nil
		})
	}
	if err := parallel(fns...); err != nil {
		return err
	}
	fns = nil
	target := linkBase + "projects/" + p.Project + "/regions/" + p.Region + "/targetPools/" + pl.PoolName
	for _, fr := range pl.InsertRules {
		if fr.IPAddress == "" {
			fr.IPAddress = pl.IP
		}
		fns = append(fns, func() error {
			if err := api.InsertForwardingRule(ctx, p.Region, fr); err != nil && !computeclient.IsConflict(err) {
				return fmt.Errorf("insert forwarding rule %s: %w", fr.Name, err)
			}
			return nil
		})
	}
	for _, name := range pl.SetTarget {
		fns = append(fns, func() error {
			if err := api.SetForwardingRuleTarget(ctx, p.Region, name, target); err != nil {
				return fmt.Errorf("set target of forwarding rule %s: %w", name, err)
			}
			return nil
		})
	}
	return parallel(fns...)
}

func cleanup(ctx context.Context, api *computeclient.Client, p Params, pl *Plan) error {
	var fns []func() error
	for _, name := range pl.DeletePools {
		fns = append(fns, func() error {
			if err := api.DeleteTargetPool(ctx, p.Region, name); err != nil && !computeclient.IsNotFound(err) {
				return fmt.Errorf("delete target pool %s: %w", name, err)
			}
			return nil
		})
	}
	if pl.DeleteHC != "" {
		fns = append(fns, func() error { return deleteHealthCheck(ctx, api, pl.DeleteHC) })
	}
	if pl.DeleteAddress != "" {
		fns = append(fns, func() error {
			if err := api.DeleteAddress(ctx, p.Region, pl.DeleteAddress); err != nil && !computeclient.IsNotFound(err) {
				return fmt.Errorf("release address %s: %w", pl.DeleteAddress, err)
			}
			return nil
		})
	}
	return parallel(fns...)
}

// deleteHealthCheck deletes a health check unless a pool still uses it
// (the shared one, while other Services need it).
func deleteHealthCheck(ctx context.Context, api *computeclient.Client, name string) error {
	err := api.DeleteHTTPHealthCheck(ctx, name)
	if err == nil || computeclient.IsNotFound(err) || computeclient.IsInUse(err) {
		return nil
	}
	return fmt.Errorf("delete health check %s: %w", name, err)
}

// parallel runs fns at once and joins their errors.
func parallel(fns ...func() error) error {
	errs := make([]error, len(fns))
	var wg sync.WaitGroup
	for i, f := range fns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = f()
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// Delete removes everything a Service's load balancer owns, in dependency
// order, tolerating what is already gone: the forwarding rules, then the
// pools, then the health checks, the address (unless the user's) and the
// firewall rules.
func Delete(ctx context.Context, api *computeclient.Client, p Params, svc *v1.Service) error {
	base := BaseName(p.Owner, string(svc.UID))
	forgetBuilt(api, base)
	d := &Desired{Base: base, UID: string(svc.UID), HealthCheck: HealthCheck{Name: SharedHealthCheckName(p.Owner), Shared: true},
		Address: Address{Name: base}}
	o, err := observe(ctx, api, p.Region, d)
	if err != nil {
		return err
	}
	if err := deleteRules(ctx, api, p, o); err != nil {
		return err
	}
	var fns []func() error
	for _, tp := range o.Pools {
		if hasPrefixName(tp.Name, base) && p.Owner.Owns(tp.Name, tp.Description) {
			fns = append(fns, func() error {
				if err := api.DeleteTargetPool(ctx, p.Region, tp.Name); err != nil && !computeclient.IsNotFound(err) {
					return fmt.Errorf("delete target pool %s: %w", tp.Name, err)
				}
				return nil
			})
		}
	}
	fns = append(fns, func() error { return deleteBackendService(ctx, api, p, base, o.BackendService) })
	if err := parallel(fns...); err != nil {
		return err
	}
	fns = []func() error{func() error {
		return firewall.Apply(ctx, api, firewall.Diff(nil, o.Firewalls, p.Owner, firewall.ForService(d.UID)))
	}}
	for _, hc := range []*compute.HttpHealthCheck{o.OwnHealthCheck, o.HealthCheck} {
		if hc != nil && p.Owner.Owns(hc.Name, hc.Description) {
			fns = append(fns, func() error { return deleteHealthCheck(ctx, api, hc.Name) })
		}
	}
	fns = append(fns, func() error {
		// The IPv6 address of a dual-stack Service.
		a, err := api.GetAddress(ctx, p.Region, IPv6AddressName(base))
		if computeclient.IsNotFound(err) || (err == nil && !p.Owner.Owns(a.Name, a.Description)) {
			return nil
		}
		if err == nil {
			err = api.DeleteAddress(ctx, p.Region, a.Name)
		}
		if err != nil && !computeclient.IsNotFound(err) {
			return fmt.Errorf("release address %s: %w", IPv6AddressName(base), err)
		}
		return nil
	})
	if a := o.OwnedAddress; a != nil && p.Owner.Owns(a.Name, a.Description) {
		fns = append(fns, func() error {
			if err := api.DeleteAddress(ctx, p.Region, a.Name); err != nil && !computeclient.IsNotFound(err) {
				return fmt.Errorf("release address %s: %w", a.Name, err)
			}
			return nil
		})
	}
	return parallel(fns...)
}

// Status reads a Service's load balancer status from its forwarding rules
// (one list call); exists is false when it has none.
func Status(ctx context.Context, api *computeclient.Client, p Params, svc *v1.Service) (*v1.LoadBalancerStatus, bool, error) {
	base := BaseName(p.Owner, string(svc.UID))
	rules, err := api.ListForwardingRules(ctx, p.Region, "name eq "+base+"-.*")
	if err != nil {
		return nil, false, err
	}
	for _, fr := range rules {
		if p.Owner.Owns(fr.Name, fr.Description) {
			// An external IPv6 rule answers its address as ADDRESS/96.
			ip, _, _ := strings.Cut(fr.IPAddress, "/")
			return &v1.LoadBalancerStatus{Ingress: []v1.LoadBalancerIngress{{IP: ip, IPMode: ptr.To(v1.LoadBalancerIPModeVIP)}}}, true, nil
		}
	}
	return nil, false, nil
}

func hasOwnedPool(p Params, d *Desired, o *Observed) bool {
	for _, tp := range o.Pools {
		if hasPrefixName(tp.Name, d.Base) && p.Owner.Owns(tp.Name, tp.Description) {
			return true
		}
	}
	return false
}
