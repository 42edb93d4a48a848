package nlb

import (
	"context"
	"fmt"

	"google.golang.org/api/compute/v1"
	v1 "k8s.io/api/core/v1"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/computeclient"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/ownership"
)

// ipv6State is the Service's external IPv6 address: the one it has, one to
// reserve, or one to release when the Service no longer asks for IPv6.
type ipv6State struct {
	name    string
	ip      string
	insert  *compute.Address
	release string
}

// observedIPv6 is what the cloud has for a Service's IPv6 address.
type observedIPv6 struct {
	address *compute.Address
	// subnetwork: read only when an address is to be reserved in it.
	subnetwork *compute.Subnetwork
}

// wantsIPv6 reports whether the load balancer has an external IPv6 address.
func wantsIPv6(d *Desired) bool { return d.serves(v1.IPv6Protocol) && d.Scheme != "INTERNAL" }

// observeIPv6 reads the Service's IPv6 address (always: a Service that
// stopped asking for IPv6 still has one to release) and, when it asks for
// IPv6 and has none yet, the subnetwork that would hold it.
func (b *Balancer) observeIPv6(ctx context.Context, d *Desired) (*observedIPv6, error) {
	o := &observedIPv6{}
	a, err := b.api.GetAddress(ctx, b.p.Region, ownership.IPv6AddressName(d.Base))
	if err != nil && !computeclient.IsNotFound(err) {
		return nil, err
	}
	o.address = a
	if a == nil && wantsIPv6(d) {
		if o.subnetwork, err = b.api.GetSubnetwork(ctx, d.Subnetwork); err != nil {
			return nil, fmt.Errorf("read subnetwork %s: %w", d.Subnetwork, err)
		}
	}
	return o, nil
}

// planIPv6 decides the Service's IPv6 address: keep, reserve or release
// it. It is pure.
func planIPv6(d *Desired, o *observedIPv6, p Params) (*ipv6State, error) {
	st := &ipv6State{name: ownership.IPv6AddressName(d.Base)}
	a, want := o.address, wantsIPv6(d)
	switch {
	case a != nil && !p.Owner.Owns(a.Name, a.Description):
		if want {
			return nil, collision("address", a.Name)
		}
	case a != nil && want:
		st.ip = a.Address
	case a != nil:
		st.release = a.Name
	case want:
		if o.subnetwork.ExternalIpv6Prefix == "" {
			return nil, &ServiceError{Reason: "NoIPv6Range", Message: fmt.Sprintf(
				"the subnetwork %s has no external IPv6 range: make it dual-stack (stackType IPV4_IPV6, ipv6AccessType EXTERNAL) or remove IPv6 from spec.ipFamilies", o.subnetwork.Name)}
		}
		st.insert = &compute.Address{Name: st.name, AddressType: "EXTERNAL", IpVersion: "IPV6", Ipv6EndpointType: "NETLB",
			NetworkTier: "PREMIUM", Subnetwork: d.Subnetwork, Description: d.Description}
	}
	return st, nil
}
