package nlb

import (
	"context"
	"strconv"
	"strings"
	"sync"

	"google.golang.org/api/compute/v1"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/providers/gce/computeclient"
)

// Observed is what the cloud has for a Service: everything named after its
// base name, plus the address it asks for.
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
}

// observe reads what the reconcile needs, in parallel: at most eight reads,
// each one a get or a filtered list.
func observe(ctx context.Context, api *computeclient.Client, region string, d *Desired) (*Observed, error) {
	o := &Observed{}
	var (
		mu   sync.Mutex
		errs []error
		wg   sync.WaitGroup
	)
	read := func(f func() error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := f(); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}()
	}
	notFoundIsNil := func(err error) error {
		if computeclient.IsNotFound(err) {
			return nil
		}
		return err
	}
	read(func() (err error) {
		o.OwnedAddress, err = api.GetAddress(ctx, region, d.Base)
		return notFoundIsNil(err)
	})
	if d.Address.UserOwned {
		read(func() (err error) {
			o.Address, err = api.GetAddress(ctx, region, d.Address.Name)
			return notFoundIsNil(err)
		})
	}
	if d.Address.IP != "" {
		read(func() error {
			as, err := api.ListAddresses(ctx, region, "address = "+strconv.Quote(d.Address.IP))
			if len(as) > 0 {
				o.AddressByIP = as[0]
			}
			return err
		})
	}
	read(func() (err error) {
		o.HealthCheck, err = api.GetHTTPHealthCheck(ctx, d.HealthCheck.Name)
		return notFoundIsNil(err)
	})
	if d.HealthCheck.Shared {
		read(func() (err error) {
			o.OwnHealthCheck, err = api.GetHTTPHealthCheck(ctx, d.Base)
			return notFoundIsNil(err)
		})
	}
	read(func() (err error) {
		o.BackendService, err = api.GetRegionBackendService(ctx, region, d.Base)
		return notFoundIsNil(err)
	})
	read(func() error {
		pools, err := api.ListTargetPools(ctx, region, "name eq "+d.Base+".*")
		o.Pools = pools
		return err
	})
	read(func() error {
		rules, err := api.ListForwardingRules(ctx, region, "name eq "+d.Base+"-.*")
		o.Rules = rules
		return err
	})
	read(func() error {
		fws, err := api.ListFirewalls(ctx, "name eq "+d.Base+"-.*")
		o.Firewalls = fws
		return err
	})
	wg.Wait()
	if len(errs) > 0 {
		return nil, errs[0]
	}
	if !d.Address.UserOwned {
		o.Address = o.OwnedAddress
	}
	if !d.HealthCheck.Shared {
		o.OwnHealthCheck = o.HealthCheck
	}
	return o, nil
}

// hasPrefixName reports whether a resource name belongs to a base name.
func hasPrefixName(name, base string) bool { return name == base || strings.HasPrefix(name, base+"-") }
