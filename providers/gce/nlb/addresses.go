package nlb

import (
	"fmt"
	"strings"

	"google.golang.org/api/compute/v1"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/ownership"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/providers/gce/annotations"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/providers/gce/cloudconfig"
)

// Who may take an existing address. A Service names one by IP
// (spec.loadBalancerIP) or by name (the static-address annotation), and the
// controller acts with the project's rights, not the Service author's: so
// it lends an address only when it is no other load balancer's and, for an
// address this cluster did not reserve, only to the namespaces the operator
// lets use it.

// The reasons a Service is refused an address.
const (
	ReasonAddressOwnedByAnotherService = "AddressOwnedByAnotherService"
	ReasonAddressInUse                 = "AddressInUse"
	ReasonAddressNotGranted            = "AddressNotGranted"
)

// checkAddressUse refuses an existing address the Service may not take:
// one that carries an ownership marker for another Service (of this
// cluster or another), one that another resource uses (the API's status
// IN_USE and its users, https://cloud.google.com/compute/docs/reference/rest/v1/addresses),
// and an unmarked one the grants do not give to the Service's namespace.
// It is pure.
func checkAddressUse(d *Desired, a *compute.Address, grants []cloudconfig.AddressGrant) error {
	asked := "spec.loadBalancerIP"
	if d.Address.UserOwned {
		asked = "the annotation " + annotations.StaticAddress
	}
	keys, _ := ownership.Parse(a.Description)
	marked := keys[ownership.ClusterKey] != ""
	if marked && keys[ownership.ServiceUIDKey] != d.UID {
		return &ServiceError{Reason: ReasonAddressOwnedByAnotherService, Message: fmt.Sprintf(
			"the address %s (%s) was reserved for another Service's load balancer and is not this Service's to use: remove %s, or reserve an address of your own",
			a.Name, a.Address, asked)}
	}
	for _, u := range a.Users {
		if !isRuleOf(u, d.Base) {
			return &ServiceError{Reason: ReasonAddressInUse, Message: fmt.Sprintf(
				"the address %s (%s) is in use by another resource: remove %s, or choose an address nothing uses",
				a.Name, a.Address, asked)}
		}
	}
	if marked {
		return nil // reserved for this very Service
	}
	namespace, _, _ := strings.Cut(d.Service, "/")
	for _, g := range grants {
		if g.Allows(namespace, a.Name, a.Address) {
			return nil
		}
	}
	return &ServiceError{Reason: ReasonAddressNotGranted, Message: fmt.Sprintf(
		"the address %s (%s) was not reserved by this cluster, and the cloud config does not let namespace %s use it: ask the cluster operator to add %s/%s to [load-balancer] user-addresses, or remove %s",
		a.Name, a.Address, namespace, namespace, a.Name, asked)}
}

// isRuleOf reports whether link is one of the forwarding rules of the
// Service whose resources are named after base.
func isRuleOf(link, base string) bool {
	i := strings.LastIndex(link, "/forwardingRules/")
	return i >= 0 && ownership.IsServiceResource(link[i+len("/forwardingRules/"):], base)
}

// planAddress decides the load balancer's address: the one the Service
// names (if it may take it), or its own, kept, reserved or replaced. It is
// pure.
func planAddress(d *Desired, o *Observed, p Params, pl *poolPlan) error {
	switch {
	case d.Address.UserOwned:
		if o.Address == nil {
			return &ServiceError{Reason: "AddressNotFound", Message: fmt.Sprintf(
				"the static address %s does not exist in region %s: reserve it (gcloud compute addresses create %s --region %s) or remove the annotation",
				d.Address.Name, p.Region, d.Address.Name, p.Region)}
		}
		return useAddress(d, o.Address, p, pl)
	case d.Address.IP != "" && o.AddressByIP != nil && o.AddressByIP.Name != d.Base,
		d.Address.IP != "" && o.AddressByIP == nil && d.Scheme != "INTERNAL":
		// An internal IP may be any free one of the subnetwork: the project
		// reserves it (planOwnAddress). An external one must be reserved.
		if o.AddressByIP == nil {
			return &ServiceError{Reason: "AddressNotReserved", Message: fmt.Sprintf(
				"spec.loadBalancerIP %s is not a reserved address in this region: reserve it first, or remove loadBalancerIP", d.Address.IP)}
		}
		return useAddress(d, o.AddressByIP, p, pl)
	}
	return planOwnAddress(d, o, p, pl)
}

// useAddress takes an existing address the Service names, if it may.
func useAddress(d *Desired, a *compute.Address, p Params, pl *poolPlan) error {
	if err := checkAddressUse(d, a, p.UserAddresses); err != nil {
		return err
	}
	if err := checkUserAddress(d, a); err != nil {
		return err
	}
	pl.IP, pl.AddressName = a.Address, a.Name
	return nil
}

// planOwnAddress: the address named after the Service, reserved by this
// cluster.
func planOwnAddress(d *Desired, o *Observed, p Params, pl *poolPlan) error {
	pl.AddressName = d.Base
	a := o.OwnedAddress
	want := &compute.Address{Name: d.Base, AddressType: "EXTERNAL", NetworkTier: d.Address.Tier,
		Description: d.Description, Address: d.Address.IP}
	if d.Scheme == "INTERNAL" {
		want = &compute.Address{Name: d.Base, AddressType: "INTERNAL", Subnetwork: d.Subnetwork, Purpose: "GCE_ENDPOINT",
			Description: d.Description, Address: d.Address.IP}
	}
	if a == nil {
		pl.InsertAddress = want
		return nil
	}
	if !p.Owner.Owns(a.Name, a.Description) {
		return collision("address", a.Name)
	}
	if typeOf(a) != want.AddressType || (d.Scheme == "INTERNAL" && a.Subnetwork != d.Subnetwork) {
		// External to internal or back: a new address, a new IP.
		pl.ReplaceAddress, pl.InsertAddress = true, want
		return nil
	}
	if d.Scheme != "INTERNAL" && a.NetworkTier != d.Address.Tier {
		return &ServiceError{Reason: "TierChange", Message: fmt.Sprintf(
			"the load balancer's address %s is %s and the Service asks for %s: an address cannot change tier; delete and recreate the Service to change it",
			a.Address, a.NetworkTier, d.Address.Tier)}
	}
	pl.IP = a.Address
	return nil
}

func typeOf(a *compute.Address) string {
	if a.AddressType == "" {
		return "EXTERNAL"
	}
	return a.AddressType
}

func checkUserAddress(d *Desired, a *compute.Address) error {
	if d.Scheme == "INTERNAL" {
		if typeOf(a) != "INTERNAL" {
			return &ServiceError{Reason: "AddressNotInternal", Message: fmt.Sprintf("the address %s (%s) is external: an internal load balancer needs an internal address", a.Name, a.Address)}
		}
		return nil
	}
	if a.AddressType == "INTERNAL" {
		return &ServiceError{Reason: "AddressNotExternal", Message: fmt.Sprintf("the address %s (%s) is internal: an external load balancer needs an external address", a.Name, a.Address)}
	}
	if d.Address.IP != "" && a.Address != d.Address.IP {
		return &ServiceError{Reason: "AddressMismatch", Message: fmt.Sprintf("the static address %s is %s but spec.loadBalancerIP is %s: make them agree", a.Name, a.Address, d.Address.IP)}
	}
	if a.NetworkTier != "" && a.NetworkTier != d.Address.Tier {
		return &ServiceError{Reason: "TierMismatch", Message: fmt.Sprintf("the address %s is %s but the Service asks for %s (cloud.google.com/network-tier): make them agree", a.Name, a.NetworkTier, d.Address.Tier)}
	}
	return nil
}
