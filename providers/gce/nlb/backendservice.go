package nlb

import (
	"context"
	"slices"
	"strings"
	"sync"

	"golang.org/x/sync/errgroup"
	"google.golang.org/api/compute/v1"
	v1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/changeset"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/firewall"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/ownership"
)

// backendService is the backend-service backend of an external load
// balancer: a regional backend service (EXTERNAL scheme) with a regional
// health check, on the per-zone instance groups every load balancer of the
// cluster shares, and IPv6 besides IPv4.
type backendService struct{ b *Balancer }

// The steps of its plan.
const (
	bsReplaceRules = iota // before an address or a backend service is replaced
	bsReplace
	bsFirst      // the addresses, the health check, the missing groups
	bsService    // the firewall rules, the groups' members, the backend service
	bsDeleteRule // the forwarding rules, on the addresses, to the backend service
	bsInsertRules
	bsCleanup // what this backend replaced: target pools, legacy checks
)

// observe reads the regional health checks, the shared groups (those the
// Balancer does not know to be in sync) and the IPv6 address.
func (s backendService) observe(ctx context.Context, d *Desired, o *Observed) error {
	b := s.b
	var r errgroup.Group // parallel reads; the first error is the answer
	r.Go(func() (err error) {
		o.RegionHC, err = b.api.GetRegionHealthCheck(ctx, b.p.Region, d.HealthCheck.Name)
		return notFoundIsNil(err)
	})
	if d.HealthCheck.Shared {
		r.Go(func() (err error) {
			o.OwnRegionHC, err = b.api.GetRegionHealthCheck(ctx, b.p.Region, d.Base)
			return notFoundIsNil(err)
		})
	}
	r.Go(func() (err error) { o.IPv6, err = b.observeIPv6(ctx, d); return err })
	o.Groups = map[string]*group{}
	var mu sync.Mutex
	for _, zone := range groupZones(b.p, sortedZones(d.Groups), o.BackendService) {
		if b.shared.inSync(b.igLink(zone), d.Groups[zone]) {
			o.Groups[zone] = &group{zone: zone, members: d.Groups[zone], cached: true}
			continue
		}
		r.Go(func() error {
			g, err := b.observeGroup(ctx, zone, d.Groups[zone])
			mu.Lock()
			o.Groups[zone] = g
			mu.Unlock()
			return err
		})
	}
	return r.Wait()
}

// observeGroup reads a zone's shared group and its members (nil when it
// does not exist), and remembers a group found in sync.
func (b *Balancer) observeGroup(ctx context.Context, zone string, want []string) (*group, error) {
	name := b.p.Owner.InstanceGroupName(zone)
	ig, err := b.api.GetInstanceGroup(ctx, zone, name)
	if err != nil {
		return nil, notFoundIsNil(err)
	}
	members, err := b.api.ListInstanceGroupInstances(ctx, zone, name)
	if err != nil {
		return nil, err
	}
	if b.p.Owner.Owns(ig.Name, ig.Description) && membersKey(members) == membersKey(want) {
		b.shared.remember(b.igLink(zone), members)
	}
	return &group{zone: zone, ig: ig, members: members}, nil
}

// groupZones are the zones whose shared group the reconcile reads: those
// with nodes, and those the backend service still uses. A zone whose last
// node left (or was excluded) has a group that must be emptied and dropped
// from the backends, and only the backend service remembers it.
func groupZones(p Params, zones []string, bs *compute.BackendService) []string {
	out := slices.Clone(zones)
	if bs == nil {
		return out
	}
	for _, be := range bs.Backends {
		parts := strings.Split(be.Group, "/")
		if len(parts) < 4 {
			continue
		}
		zone := parts[len(parts)-3]
		if be.Group == igLinkOf(p, zone) && !slices.Contains(out, zone) {
			out = append(out, zone)
		}
	}
	return out
}

// bsPlan is what the backend service's plan is made from.
type bsPlan struct {
	d  *Desired
	o  *Observed
	pl *poolPlan
	pb *planBS
	v6 *ipv6State
	// v4: the load balancer has an IPv4 address (every internal one does).
	v4 bool
}

// plan turns what was observed into the changes. It makes no call.
func (s backendService) plan(d *Desired, o *Observed) (*changes, error) {
	b := s.b
	if d.Scheme == "INTERNAL" {
		d = withInternalClients(d, o)
	}
	bp := &bsPlan{d: d, o: o, pl: &poolPlan{}, v4: d.serves(v1.IPv4Protocol) || d.Scheme == "INTERNAL"}
	var err error
	if err = planAddress(d, o, b.p, bp.pl); err != nil {
		return nil, err
	}
	if bp.pb, err = planBackendService(d, o, b.p); err != nil {
		return nil, err
	}
	if bp.v6, err = planIPv6(d, o.IPv6, b.p); err != nil {
		return nil, err
	}
	if !bp.v4 {
		bp.pl.InsertAddress = nil
	}
	ch := newChanges(learnedIPs{v4: bp.pl.IP, v6: bp.v6.ip})
	ch.Add(s.replaceOps(bp)...)
	ch.Add(s.firstOps(bp, ch.ips)...)
	ops, err := s.serviceOps(bp, ch.ips)
	if err != nil {
		return nil, err
	}
	ch.Add(ops...)
	ch.ruleOps(b, bp)
	ch.Add(s.cleanupOps(bp)...)
	zones := sortedZones(d.Groups)
	ch.succeeded = func() { b.shared.rememberBuilt(d.Base, zones) }
	// What the Balancer remembered of the groups is forgotten, so the next
	// reconcile reads them (a group deleted by hand is found and recreated).
	ch.failed = func() {
		for _, zone := range zones {
			b.shared.forget(b.igLink(zone))
		}
	}
	ch.status = func() *v1.LoadBalancerStatus { return bsStatus(d, ch.ips, bp.v4) }
	return ch, nil
}

// replaceOps: an address or a backend service of the other type goes, with
// the rules on it, before the new one is made.
func (s backendService) replaceOps(bp *bsPlan) []changeset.Op {
	b := s.b
	var ops []changeset.Op
	if bp.pl.ReplaceAddress || bp.pb.ReplaceBS {
		ops = append(ops, b.deleteOwnedRuleOps(bsReplaceRules, bp.o)...)
	}
	if bp.pl.ReplaceAddress {
		ops = append(ops, b.deleteAddressOp(bsReplace, bp.d.Base))
	}
	if bp.pb.ReplaceBS {
		ops = append(ops, b.deleteBackendServiceOp(bsReplace, bp.d.Base))
	}
	return ops
}

func (s backendService) firstOps(bp *bsPlan, ips *learnedIPs) []changeset.Op {
	b, pb := s.b, bp.pb
	var ops []changeset.Op
	if bp.pl.InsertAddress != nil {
		ops = append(ops, b.insertAddressOp(bsFirst, bp.pl.InsertAddress, &ips.v4))
	}
	if bp.v6.insert != nil {
		ops = append(ops, b.insertAddressOp(bsFirst, bp.v6.insert, &ips.v6))
	}
	switch {
	case pb.InsertHC != nil:
		ops = append(ops, changeset.Op{Verb: changeset.Insert, Kind: "regional health check", Name: pb.InsertHC.Name, Step: bsFirst,
			Call: func(ctx context.Context) error { return b.api.InsertRegionHealthCheck(ctx, b.p.Region, pb.InsertHC) }})
	case pb.UpdateHC != nil:
		ops = append(ops, changeset.Op{Verb: "update", Kind: "regional health check", Name: pb.UpdateHC.Name, Step: bsFirst,
			Call: func(ctx context.Context) error { return b.api.UpdateRegionHealthCheck(ctx, b.p.Region, pb.UpdateHC) }})
	}
	for _, ig := range pb.InsertIGs {
		zone, g := ig.Zone, *ig
		g.Zone = ""
		ops = append(ops, changeset.Op{Verb: changeset.Insert, Kind: "instance group", Name: ig.Name, Step: bsFirst,
			Call: func(ctx context.Context) error { return b.api.InsertInstanceGroup(ctx, zone, &g) }})
	}
	return ops
}

// serviceOps: the firewall rules (the addresses known now), the groups'
// members, and the backend service. A change of its protocol needs the
// rules gone first: the API refuses a protocol that does not fit a rule
// that uses it (kubernetes/cloud-provider-gcp
// providers/gce/gce_loadbalancer_internal.go deletes the forwarding rule
// first for the same reason); they come back in the rules' step.
func (s backendService) serviceOps(bp *bsPlan, ips *learnedIPs) ([]changeset.Op, error) {
	b, d, pb := s.b, bp.d, bp.pb
	known := bp.pl.InsertAddress == nil && bp.v6.insert == nil
	ops, err := b.firewallOps(bsService, d, bp.o, known, func() []firewall.Rule {
		var rules []firewall.Rule
		if bp.v4 {
			rules = d.Firewalls(b.p, ips.v4)
		}
		if ips.v6 != "" {
			rules = append(rules, d.FirewallsIPv6(b.p, ips.v6)...)
		}
		return rules
	})
	if err != nil {
		return nil, err
	}
	for _, zone := range sortedZones(mergeKeys(pb.Add, pb.Remove)) {
		ops = append(ops, b.syncGroupOp(bsService, zone, d.Groups[zone]))
	}
	switch {
	case pb.InsertBS != nil:
		ops = append(ops, changeset.Op{Verb: changeset.Insert, Kind: "backend service", Name: pb.InsertBS.Name, Step: bsService,
			Call: func(ctx context.Context) error { return b.api.InsertRegionBackendService(ctx, b.p.Region, pb.InsertBS) }})
	case pb.PatchBS != nil:
		patch := changeset.Op{Verb: "patch", Kind: "backend service", Name: pb.PatchBS.Name, Step: bsService,
			Call: func(ctx context.Context) error { return b.api.PatchRegionBackendService(ctx, b.p.Region, pb.PatchBS) }}
		if pb.RecreateRules {
			for _, del := range b.deleteOwnedRuleOps(bsService, bp.o) {
				ops = append(ops, del)
				patch.After = append(patch.After, del.Key())
			}
		}
		ops = append(ops, patch)
	}
	return ops, nil
}

// rulesGone: the plan deletes every rule before the rules' step.
func (bp *bsPlan) rulesGone() bool {
	return bp.pl.ReplaceAddress || bp.pb.ReplaceBS || (bp.pb.PatchBS != nil && bp.pb.RecreateRules)
}

// ruleOps compares the wanted rules with the observed ones; a rule planned
// before its address is known takes the address the run learns.
func (ch *changes) ruleOps(b *Balancer, bp *bsPlan) {
	observed := bp.o.Rules
	if bp.rulesGone() {
		observed = nil
	}
	del, ins := planBSRules(bsRules(bp.d, b.p, bp.pb.BSLink, ch.ips.v4, ch.ips.v6), observed, b.p)
	for _, name := range del {
		ch.Add(b.deleteRuleOp(bsDeleteRule, name))
	}
	for _, fr := range ins {
		ch.Add(b.insertRuleOp(bsInsertRules, fr, ch.ips))
	}
}

func (s backendService) cleanupOps(bp *bsPlan) []changeset.Op {
	b, d, o := s.b, bp.d, bp.o
	var ops []changeset.Op
	for _, tp := range o.Pools {
		if ownership.IsServiceResource(tp.Name, d.Base) && b.p.Owner.Owns(tp.Name, tp.Description) {
			ops = append(ops, b.deletePoolOp(bsCleanup, tp.Name))
		}
	}
	if hc := o.OwnHealthCheck; hc != nil && b.p.Owner.Owns(hc.Name, hc.Description) {
		ops = append(ops, b.deleteHealthCheckOp(bsCleanup, hc.Name))
	}
	if bp.pb.DeleteOwnRegionHC != "" {
		ops = append(ops, b.deleteRegionHealthCheckOp(bsCleanup, bp.pb.DeleteOwnRegionHC))
	}
	if bp.v6.release != "" {
		ops = append(ops, b.deleteAddressOp(bsCleanup, bp.v6.release))
	}
	a := o.OwnedAddress
	if (!bp.v4 || bp.pl.AddressName != d.Base) && !bp.pl.ReplaceAddress && a != nil && b.p.Owner.Owns(a.Name, a.Description) {
		ops = append(ops, b.deleteAddressOp(bsCleanup, a.Name))
	}
	return ops
}

// bsStatus is an ingress per IP family the load balancer serves, in the
// Service's order. Never the IPv4 address for IPv6: an internal IPv6 load
// balancer is refused by Desire, and has no IPv6 address here.
func bsStatus(d *Desired, ips *learnedIPs, v4 bool) *v1.LoadBalancerStatus {
	var ingress []v1.LoadBalancerIngress
	for _, f := range d.Families {
		ip := ips.v4
		if f == v1.IPv6Protocol {
			ip = ips.v6
		}
		if ip != "" && (f == v1.IPv6Protocol || v4) {
			ingress = append(ingress, v1.LoadBalancerIngress{IP: ip, IPMode: ptr.To(v1.LoadBalancerIPModeVIP)})
		}
	}
	return &v1.LoadBalancerStatus{Ingress: ingress}
}

func mergeKeys(a, b map[string][]string) map[string][]string {
	out := map[string][]string{}
	for k := range a {
		out[k] = nil
	}
	for k := range b {
		out[k] = nil
	}
	return out
}
