package nlb

import (
	"context"
	"maps"
	"slices"
	"strings"

	v1 "k8s.io/api/core/v1"
	"k8s.io/klog/v2"
	"k8s.io/utils/ptr"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/changeset"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/computeclient"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/ownership"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/providers/gce/annotations"
)

// parallelism bounds the calls one reconcile has in flight.
const parallelism = 8

// Balancer is the external mode of one cluster: its compute client, its
// Params, and what it remembers of the resources its load balancers share
// (the per-zone instance groups). Hold one per cluster and client: two
// Balancers of one cluster would each make the shared groups' changes.
type Balancer struct {
	api    *computeclient.Client
	p      Params
	shared *sharedGroups
}

// New is the Balancer of the cluster p names, calling the cloud through api.
func New(api *computeclient.Client, p Params) *Balancer {
	return &Balancer{api: api, p: p, shared: &sharedGroups{}}
}

// Params are the Balancer's.
func (b *Balancer) Params() Params { return b.p }

// WithSubnetwork is the Balancer with the cluster's subnetwork set (found
// when the cloud config names none); it shares what b knows of the shared
// resources.
func (b *Balancer) WithSubnetwork(url string) *Balancer { return b.with(b.withSubnetwork(url)) }

func (b *Balancer) withSubnetwork(url string) Params {
	p := b.p
	p.SubnetworkURL = url
	return p
}

// with is the Balancer with other Params and the same shared state.
func (b *Balancer) with(p Params) *Balancer { return &Balancer{api: b.api, p: p, shared: b.shared} }

// backend is how one kind of load balancer (a target pool, an external
// backend service, an internal load balancer) reads what it needs beyond
// what all share, and plans its changes. plan is pure: every read is
// observe's.
type backend interface {
	observe(ctx context.Context, d *Desired, o *Observed) error
	plan(d *Desired, o *Observed) (*changes, error)
}

// changes are a reconcile's plan and what it learns when it runs.
type changes struct {
	changeset.Plan
	ips *learnedIPs
	// status is the load balancer's, once the plan ran.
	status func() *v1.LoadBalancerStatus
	// succeeded and failed are told how the run ended (the shared groups'
	// record); nil when the backend keeps none.
	succeeded, failed func()
}

// learnedIPs are the load balancer's addresses: observed, or learned by
// the op that reserves them. Ops of later steps read what ops of earlier
// ones wrote (the runner finishes a step before it starts the next).
type learnedIPs struct{ v4, v6 string }

func newChanges(ips learnedIPs) *changes {
	return &changes{Plan: changeset.Plan{Parallelism: parallelism}, ips: &ips}
}

// Ensure brings a Service's load balancer to its desired state and returns
// its status: observe, plan (pure), run the plan.
func (b *Balancer) Ensure(ctx context.Context, svc *v1.Service, nodes []*v1.Node) (*v1.LoadBalancerStatus, error) {
	d, err := Desire(svc, nodes, b.p)
	if err != nil {
		return nil, err
	}
	// Whatever this ensure ends with, UpdateNodes may take a shortcut only
	// after it succeeded with a backend service.
	b.shared.forgetBuilt(d.Base)
	o, err := b.observe(ctx, d)
	if err != nil {
		return nil, err
	}
	if err := b.keepPool(d, o); err != nil {
		return nil, err
	}
	be := b.backendOf(d)
	if err := be.observe(ctx, d, o); err != nil {
		return nil, err
	}
	ch, err := be.plan(d, o)
	if err != nil {
		return nil, err
	}
	if err := ch.Err(ctx); err != nil {
		if ch.failed != nil {
			ch.failed()
		}
		return nil, err
	}
	if ch.succeeded != nil {
		ch.succeeded()
	}
	if !ch.Empty() {
		klog.FromContext(ctx).V(2).Info("Load balancer reconciled", "service", d.Service, "ip", ch.ips.v4, "changes", len(ch.Ops))
	}
	return ch.status(), nil
}

func (b *Balancer) backendOf(d *Desired) backend {
	switch {
	case d.Scheme == "INTERNAL":
		return internalLB{backendService{b}}
	case d.Backend == BackendService:
		return backendService{b}
	}
	return targetPool{b}
}

// keepPool: the default backend is for new Services; an existing one
// keeps its target pool until it asks for a backend service.
func (b *Balancer) keepPool(d *Desired, o *Observed) error {
	if d.BackendChosen || d.Backend != BackendService || d.Scheme == "INTERNAL" || !hasOwnedPool(b.p, d, o) {
		return nil
	}
	d.Backend = BackendTargetPool
	if d.serves(v1.IPv6Protocol) {
		// A target pool carries IPv4 only: a silent IPv4-only balancer
		// would break the Service's IPv6 clients.
		return &ServiceError{Reason: "IPv6NeedsBackendService", Message: "this Service keeps the target pool it was created on, which carries IPv4 only: annotate it with " +
			annotations.Backend + ": backend-service (its IPv4 address stays) or remove IPv6 from spec.ipFamilies"}
	}
	return nil
}

func hasOwnedPool(p Params, d *Desired, o *Observed) bool {
	for _, tp := range o.Pools {
		if ownership.IsServiceResource(tp.Name, d.Base) && p.Owner.Owns(tp.Name, tp.Description) {
			return true
		}
	}
	return false
}

// UpdateNodes follows a node change on a Service whose backend-service load
// balancer this Balancer built: each zone's shared group is brought to the
// nodes (no call when the group is known to be in sync). It answers false,
// and does nothing, when it cannot do the job alone: a Service it has not
// built, a target pool, or a change of the zones that have nodes (the
// backend service's backends change); the caller then ensures the whole
// load balancer.
//
// A node change touches a backend-service load balancer in two places only:
// the members of the shared groups, and the backend service's zones.
// Nothing else (address, health check, forwarding rules, firewall rules by
// target tag) depends on the nodes: with 1,000 Services, one node added
// costs one addInstances, not 1,000 full reconciles.
func (b *Balancer) UpdateNodes(ctx context.Context, svc *v1.Service, nodes []*v1.Node) (bool, error) {
	d, err := Desire(svc, nodes, b.p)
	if err != nil {
		return false, nil // Ensure reports it
	}
	zones := sortedZones(d.Groups)
	if !b.shared.builtWith(d.Base, zones) {
		return false, nil
	}
	ops := changeset.Plan{Parallelism: parallelism}
	for _, zone := range zones {
		if !b.shared.inSync(b.igLink(zone), d.Groups[zone]) {
			ops.Add(b.syncGroupOp(0, zone, d.Groups[zone]))
		}
	}
	if err := ops.Err(ctx); err != nil {
		// The next try ensures the whole load balancer.
		b.shared.forgetBuilt(d.Base)
		return true, err
	}
	return true, nil
}

// Status reads a Service's load balancer status from its forwarding rules
// (one list call); exists is false when it has none.
func (b *Balancer) Status(ctx context.Context, svc *v1.Service) (*v1.LoadBalancerStatus, bool, error) {
	base := b.p.Owner.LoadBalancerBase(string(svc.UID))
	rules, err := b.api.ListForwardingRules(ctx, b.p.Region, ownership.ServiceResourcesFilter(base))
	if err != nil {
		return nil, false, err
	}
	for _, fr := range rules {
		if b.p.Owner.Owns(fr.Name, fr.Description) {
			// An external IPv6 rule answers its address as ADDRESS/96.
			ip, _, _ := strings.Cut(fr.IPAddress, "/")
			return &v1.LoadBalancerStatus{Ingress: []v1.LoadBalancerIngress{{IP: ip, IPMode: ptr.To(v1.LoadBalancerIPModeVIP)}}}, true, nil
		}
	}
	return nil, false, nil
}

// sortedZones are the zones of a group map, sorted.
func sortedZones(m map[string][]string) []string { return slices.Sorted(maps.Keys(m)) }
