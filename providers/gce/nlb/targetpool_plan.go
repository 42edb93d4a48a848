package nlb

import (
	"slices"

	"google.golang.org/api/compute/v1"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/ownership"
)

// poolPlan is the minimal set of changes that turns the observed target
// pool load balancer into the desired one (the address part serves the
// backend service too); targetPool.plan makes it operations. An empty one
// is a no-change resync.
type poolPlan struct {
	// IP is the load balancer's address when it is already known.
	IP string
	// AddressName is the address the forwarding rules use.
	AddressName   string
	InsertAddress *compute.Address
	// ReplaceAddress: the owned address is of the other type (the Service
	// switched between external and internal); it goes, with the rules on
	// it, before the new one is reserved.
	ReplaceAddress  bool
	InsertHC        *compute.HttpHealthCheck
	UpdateHC        *compute.HttpHealthCheck
	HealthCheck     string // the pool's health check link
	PoolName        string
	InsertPool      *compute.TargetPool
	AddInstances    []string
	RemoveInstances []string
	RemovePoolHC    []string
	AddPoolHC       string
	// DeleteRules are deleted before InsertRules are inserted (a rule whose
	// ports or protocol changed is recreated on the same address).
	DeleteRules []string
	InsertRules []*compute.ForwardingRule
	SetTarget   []string // rules to point at PoolName
	// Cleanup, once the rules no longer use them.
	DeletePools   []string
	DeleteHC      string
	DeleteAddress string
}

// Empty reports whether the plan makes no mutating call (firewalls aside).
func (p *poolPlan) Empty() bool {
	return p.InsertAddress == nil && !p.ReplaceAddress && p.InsertHC == nil && p.UpdateHC == nil && p.InsertPool == nil &&
		len(p.AddInstances) == 0 && len(p.RemoveInstances) == 0 && len(p.RemovePoolHC) == 0 && p.AddPoolHC == "" &&
		len(p.DeleteRules) == 0 && len(p.InsertRules) == 0 && len(p.SetTarget) == 0 &&
		len(p.DeletePools) == 0 && p.DeleteHC == "" && p.DeleteAddress == ""
}

// planTargetPool compares the desired target-pool load balancer with the
// observed one. It is pure.
func planTargetPool(d *Desired, o *Observed, p Params) (*poolPlan, error) {
	owner := p.Owner
	pl := &poolPlan{}
	if err := planAddress(d, o, p, pl); err != nil {
		return nil, err
	}
	if err := planHealthCheck(d, o, p, pl); err != nil {
		return nil, err
	}
	if err := planPool(d, o, p, pl); err != nil {
		return nil, err
	}
	if err := planRules(d, o, p, pl); err != nil {
		return nil, err
	}
	if d.HealthCheck.Shared && o.OwnHealthCheck != nil && owner.Owns(o.OwnHealthCheck.Name, o.OwnHealthCheck.Description) {
		pl.DeleteHC = o.OwnHealthCheck.Name
	}
	if pl.AddressName != d.Base && o.OwnedAddress != nil && owner.Owns(o.OwnedAddress.Name, o.OwnedAddress.Description) {
		pl.DeleteAddress = o.OwnedAddress.Name
	}
	return pl, nil
}

func planHealthCheck(d *Desired, o *Observed, p Params, pl *poolPlan) error {
	want := &compute.HttpHealthCheck{Name: d.HealthCheck.Name, Port: d.HealthCheck.Port, RequestPath: d.HealthCheck.Path,
		CheckIntervalSec: 8, TimeoutSec: 1, HealthyThreshold: 1, UnhealthyThreshold: 3, Description: d.Description}
	if d.HealthCheck.Shared {
		want.Description = p.Owner.Description(map[string]string{"cloud-provider-vpc.io/shared": "kube-proxy"})
	}
	pl.HealthCheck = ownership.InProject(p.Project).HTTPHealthCheck(d.HealthCheck.Name)
	hc := o.HealthCheck
	switch {
	case hc == nil:
		pl.InsertHC = want
	case !p.Owner.Owns(hc.Name, hc.Description):
		return collision("health check", hc.Name)
	case hc.Port != want.Port || hc.RequestPath != want.RequestPath || hc.CheckIntervalSec != want.CheckIntervalSec ||
		hc.TimeoutSec != want.TimeoutSec || hc.HealthyThreshold != want.HealthyThreshold || hc.UnhealthyThreshold != want.UnhealthyThreshold:
		pl.UpdateHC = want
	}
	return nil
}

// maxPoolInsertInstances is the most instances the API takes in a target
// pool's insert: the upstream GCE provider creates a pool with 200 and adds
// the rest (kubernetes/kubernetes#27829; kubernetes/cloud-provider-gcp
// providers/gce/gce_loadbalancer_external.go, maxTargetPoolCreateInstances).
const maxPoolInsertInstances = 200

func planPool(d *Desired, o *Observed, p Params, pl *poolPlan) error {
	pl.PoolName = ownership.PoolName(d.Base, d.Pool.SessionAffinity)
	var cur *compute.TargetPool
	for _, tp := range o.Pools {
		if !ownership.IsServiceResource(tp.Name, d.Base) {
			continue
		}
		if !p.Owner.Owns(tp.Name, tp.Description) {
			if tp.Name == pl.PoolName {
				return collision("target pool", tp.Name)
			}
			continue
		}
		if tp.Name == pl.PoolName {
			cur = tp
		} else {
			pl.DeletePools = append(pl.DeletePools, tp.Name)
		}
	}
	if cur == nil {
		// The API creates a pool with at most maxPoolInsertInstances; the
		// others are added once it exists.
		first := d.Pool.Instances[:min(len(d.Pool.Instances), maxPoolInsertInstances)]
		pl.InsertPool = &compute.TargetPool{Name: pl.PoolName, Instances: first, HealthChecks: []string{pl.HealthCheck},
			SessionAffinity: d.Pool.SessionAffinity, Description: d.Description}
		if rest := d.Pool.Instances[len(first):]; len(rest) > 0 {
			pl.AddInstances = rest
		}
		return nil
	}
	have := map[string]bool{}
	for _, i := range cur.Instances {
		have[i] = true
	}
	want := map[string]bool{}
	for _, i := range d.Pool.Instances {
		want[i] = true
		if !have[i] {
			pl.AddInstances = append(pl.AddInstances, i)
		}
	}
	for _, i := range cur.Instances {
		if !want[i] {
			pl.RemoveInstances = append(pl.RemoveInstances, i)
		}
	}
	slices.Sort(pl.RemoveInstances)
	if !slices.Equal(cur.HealthChecks, []string{pl.HealthCheck}) {
		pl.RemovePoolHC = cur.HealthChecks
		pl.AddPoolHC = pl.HealthCheck
	}
	return nil
}

func planRules(d *Desired, o *Observed, p Params, pl *poolPlan) error {
	target := ownership.InProject(p.Project).TargetPool(p.Region, pl.PoolName)
	observed := map[string]*compute.ForwardingRule{}
	for _, fr := range o.Rules {
		if !p.Owner.Owns(fr.Name, fr.Description) {
			for _, r := range d.Rules {
				if r.Name == fr.Name {
					return collision("forwarding rule", fr.Name)
				}
			}
			continue
		}
		observed[fr.Name] = fr
	}
	wanted := map[string]bool{}
	for _, r := range d.Rules {
		wanted[r.Name] = true
		want := &compute.ForwardingRule{Name: r.Name, IPProtocol: r.Protocol, PortRange: r.PortRange, NetworkTier: r.Tier,
			LoadBalancingScheme: "EXTERNAL", Target: target, Description: d.Description}
		fr := observed[r.Name]
		switch {
		case fr == nil:
			pl.InsertRules = append(pl.InsertRules, want)
		case fr.IPProtocol != r.Protocol || fr.PortRange != r.PortRange || fr.NetworkTier != r.Tier ||
			fr.BackendService != "" || (pl.IP != "" && fr.IPAddress != pl.IP):
			pl.DeleteRules = append(pl.DeleteRules, fr.Name)
			pl.InsertRules = append(pl.InsertRules, want)
		case fr.Target != target:
			pl.SetTarget = append(pl.SetTarget, fr.Name)
		}
	}
	for name := range observed {
		if !wanted[name] {
			pl.DeleteRules = append(pl.DeleteRules, name)
		}
	}
	slices.Sort(pl.DeleteRules)
	return nil
}
