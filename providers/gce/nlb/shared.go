package nlb

import (
	"context"
	"slices"
	"strings"

	"golang.org/x/sync/errgroup"
	"google.golang.org/api/compute/v1"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/changeset"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/ownership"
)

// The resources the cluster's load balancers share (the kube-proxy health
// checks, legacy and regional, and the per-zone instance groups) go only
// when no load balancer of the cluster uses them any more, as observed:
// deleting them on every teardown and counting on the API's 400 "in use"
// spent a write per shared resource on most teardowns, and such a doomed
// delete meeting a transient fault failed the whole teardown.
//
// Who uses them is read from the cluster's target pools and regional
// backend services (one list each, by name prefix). A teardown that saw
// no other user before it deleted its own resources deletes the shared ones
// at once; one that saw others reads the users again once its own are gone,
// so that of the last Services torn down at once, the last to read sees
// none left, and the shared resources do not outlive them.

// sharedCandidates are the shared resources a load balancer leaves.
type sharedCandidates struct {
	healthCheck       string   // the legacy kube-proxy check, of target pools
	regionHealthCheck []string // regional checks of its backend service
	groups            []string // links of the groups its backend service used
}

func (c sharedCandidates) empty() bool {
	return c.healthCheck == "" && len(c.regionHealthCheck) == 0 && len(c.groups) == 0
}

// sharedUsers are the cluster's load balancers, as observed.
type sharedUsers struct {
	pools    []*compute.TargetPool
	services []*compute.BackendService
}

// unusedShared keeps the candidates no pool or backend service uses,
// leaving out those of base (the load balancer being torn down). It is
// pure.
func unusedShared(c sharedCandidates, u sharedUsers, base string) sharedCandidates {
	var used []string // links, and the health checks' names by kind
	for _, tp := range u.pools {
		if !ownership.IsServiceResource(tp.Name, base) {
			for _, hc := range tp.HealthChecks {
				used = append(used, "hc/"+ownership.LastSegment(hc))
			}
		}
	}
	for _, bs := range u.services {
		if ownership.IsServiceResource(bs.Name, base) {
			continue
		}
		for _, hc := range bs.HealthChecks {
			used = append(used, "rhc/"+ownership.LastSegment(hc))
		}
		for _, be := range bs.Backends {
			used = append(used, "ig/"+groupPath(be.Group))
		}
	}
	out := sharedCandidates{}
	if c.healthCheck != "" && !slices.Contains(used, "hc/"+c.healthCheck) {
		out.healthCheck = c.healthCheck
	}
	for _, hc := range c.regionHealthCheck {
		if !slices.Contains(used, "rhc/"+hc) {
			out.regionHealthCheck = append(out.regionHealthCheck, hc)
		}
	}
	for _, g := range c.groups {
		if !slices.Contains(used, "ig/"+groupPath(g)) {
			out.groups = append(out.groups, g)
		}
	}
	return out
}

// groupPath is a group link from its zone on ("zones/Z/instanceGroups/N"):
// the API answers full links, and this project writes them with
// ownership.LinkBase, which may be another endpoint's.
func groupPath(link string) string {
	if i := strings.Index(link, "zones/"); i >= 0 {
		return link[i:]
	}
	return link
}

// observeUsers lists the cluster's target pools and regional backend
// services, those the candidates need.
func (b *Balancer) observeUsers(ctx context.Context, c sharedCandidates) (sharedUsers, error) {
	var u sharedUsers
	var r errgroup.Group // parallel reads; the first error is the answer
	if c.healthCheck != "" {
		r.Go(func() (err error) {
			u.pools, err = b.api.ListTargetPools(ctx, b.p.Region, b.p.Owner.LoadBalancersFilter())
			return err
		})
	}
	if len(c.regionHealthCheck) > 0 || len(c.groups) > 0 {
		r.Go(func() (err error) {
			u.services, err = b.api.ListRegionBackendServices(ctx, b.p.Region, b.p.Owner.LoadBalancersFilter())
			return err
		})
	}
	return u, r.Wait()
}

// releaseSharedOp deletes the candidates no other load balancer uses. seen
// are the users observed before the teardown began (nil: not observed); a
// candidate they show in use, or all when they were not observed, is
// decided on a second look, taken when the op runs (after the teardown's own
// resources are gone).
func (b *Balancer) releaseSharedOp(step int, base string, c sharedCandidates, seen *sharedUsers) changeset.Op {
	return changeset.Op{Verb: "release", Kind: "shared resources of", Name: base, Step: step, Strict: true, Call: func(ctx context.Context) error {
		unused := c
		if seen != nil {
			unused = unusedShared(c, *seen, base)
		}
		if seen == nil || !sameCandidates(unused, c) {
			users, err := b.observeUsers(ctx, c)
			if err != nil {
				return err
			}
			unused = unusedShared(c, users, base)
		}
		plan := changeset.Plan{Parallelism: parallelism, Ops: b.deleteSharedOps(unused)}
		return plan.Err(ctx)
	}}
}

func sameCandidates(a, b sharedCandidates) bool {
	return a.healthCheck == b.healthCheck && slices.Equal(a.regionHealthCheck, b.regionHealthCheck) && slices.Equal(a.groups, b.groups)
}

// deleteSharedOps delete shared resources found unused. One taken up since
// (a Service created meanwhile) is refused as in use, and stays.
func (b *Balancer) deleteSharedOps(c sharedCandidates) []changeset.Op {
	var ops []changeset.Op
	if c.healthCheck != "" {
		ops = append(ops, b.deleteHealthCheckOp(0, c.healthCheck))
	}
	for _, hc := range c.regionHealthCheck {
		ops = append(ops, b.deleteRegionHealthCheckOp(0, hc))
	}
	for _, link := range c.groups {
		parts := strings.Split(link, "/")
		if len(parts) < 4 {
			continue
		}
		zone, name := parts[len(parts)-3], parts[len(parts)-1]
		ops = append(ops, changeset.Op{Verb: changeset.Delete, Kind: "instance group", Name: name, Shared: true, Call: func(ctx context.Context) error {
			err := b.api.DeleteInstanceGroup(ctx, zone, name)
			if err == nil {
				b.shared.forget(link)
			}
			return err
		}})
	}
	return ops
}

// backendServiceCandidates are what a Service's backend service shares
// with others: its health checks but the Service's own, and its groups.
func backendServiceCandidates(bs *compute.BackendService, base string) sharedCandidates {
	var c sharedCandidates
	for _, hc := range bs.HealthChecks {
		if name := ownership.LastSegment(hc); name != base {
			c.regionHealthCheck = append(c.regionHealthCheck, name)
		}
	}
	for _, be := range bs.Backends {
		c.groups = append(c.groups, be.Group)
	}
	return c
}

// releaseBackendServiceOps delete, once bs is gone, its own health check
// and the shared resources no other load balancer uses.
func (b *Balancer) releaseBackendServiceOps(step int, base string, bs *compute.BackendService, seen *sharedUsers) []changeset.Op {
	var ops []changeset.Op
	for _, hc := range bs.HealthChecks {
		if ownership.LastSegment(hc) == base {
			ops = append(ops, b.deleteRegionHealthCheckOp(step, base))
		}
	}
	if c := backendServiceCandidates(bs, base); !c.empty() {
		ops = append(ops, b.releaseSharedOp(step, base, c, seen))
	}
	return ops
}
