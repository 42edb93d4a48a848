package nlb

import (
	"context"
	"net/netip"
	"strconv"

	"golang.org/x/sync/errgroup"
	"google.golang.org/api/compute/v1"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/computeclient"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/ownership"
)

// Observed is what the cloud has for a Service: everything named after its
// base name, plus the address it asks for, and what its backend reads
// beyond that.
type Observed struct {
	// Address is the address the desired state names (ours or the user's).
	Address *compute.Address
	// AddressByIP is the reserved address holding spec.loadBalancerIP.
	AddressByIP *compute.Address
	// OwnedAddress is the address named after the Service (ours when we reserved one).
	OwnedAddress *compute.Address
	HealthCheck  *compute.HttpHealthCheck
	// OwnHealthCheck is the per-Service check (externalTrafficPolicy: Local).
	OwnHealthCheck *compute.HttpHealthCheck
	Pools          []*compute.TargetPool
	// BackendService is the Service's backend service, if it has one.
	BackendService *compute.BackendService
	Rules          []*compute.ForwardingRule
	Firewalls      []*compute.Firewall

	// The backend-service backend's.
	RegionHC    *compute.HealthCheck
	OwnRegionHC *compute.HealthCheck
	Groups      map[string]*group
	IPv6        *observedIPv6
	// NetworkRanges are the VPC's ranges: the clients of an internal load
	// balancer whose Service names no source range.
	NetworkRanges []netip.Prefix
}

// group is one zone's shared instance group, observed.
type group struct {
	zone    string
	ig      *compute.InstanceGroup
	members []string
	// cached: known in sync (the Balancer's record), not read this time.
	cached bool
}

// notFoundIsNil: a resource not there is a nil one, not an error.
func notFoundIsNil(err error) error {
	if computeclient.IsNotFound(err) {
		return nil
	}
	return err
}

// observe reads what every backend's reconcile needs, in parallel: at most
// nine reads, each one a get or a filtered list.
func (b *Balancer) observe(ctx context.Context, d *Desired) (*Observed, error) {
	api, region := b.api, b.p.Region
	o := &Observed{}
	var r errgroup.Group // parallel reads; the first error is the answer
	r.Go(func() (err error) {
		o.OwnedAddress, err = api.GetAddress(ctx, region, d.Base)
		return notFoundIsNil(err)
	})
	if d.Address.UserOwned {
		r.Go(func() (err error) {
			o.Address, err = api.GetAddress(ctx, region, d.Address.Name)
			return notFoundIsNil(err)
		})
	}
	if d.Address.IP != "" {
		r.Go(func() error {
			as, err := api.ListAddresses(ctx, region, "address = "+strconv.Quote(d.Address.IP))
			if len(as) > 0 {
				o.AddressByIP = as[0]
			}
			return err
		})
	}
	r.Go(func() (err error) {
		o.HealthCheck, err = api.GetHTTPHealthCheck(ctx, d.HealthCheck.Name)
		return notFoundIsNil(err)
	})
	if d.HealthCheck.Shared {
		r.Go(func() (err error) {
			o.OwnHealthCheck, err = api.GetHTTPHealthCheck(ctx, d.Base)
			return notFoundIsNil(err)
		})
	}
	r.Go(func() (err error) {
		o.BackendService, err = api.GetRegionBackendService(ctx, region, d.Base)
		return notFoundIsNil(err)
	})
	r.Go(func() (err error) {
		o.Pools, err = api.ListTargetPools(ctx, region, "name eq "+d.Base+".*")
		return err
	})
	r.Go(func() (err error) {
		o.Rules, err = api.ListForwardingRules(ctx, region, ownership.ServiceResourcesFilter(d.Base))
		return err
	})
	r.Go(func() (err error) {
		o.Firewalls, err = api.ListFirewalls(ctx, ownership.ServiceResourcesFilter(d.Base))
		return err
	})
	if err := r.Wait(); err != nil {
		return nil, err
	}
	if !d.Address.UserOwned {
		o.Address = o.OwnedAddress
	}
	if !d.HealthCheck.Shared {
		o.OwnHealthCheck = o.HealthCheck
	}
	return o, nil
}
