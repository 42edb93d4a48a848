package nlb

import (
	"fmt"
	"strings"

	"google.golang.org/api/compute/v1"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/ownership"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/providers/gce/annotations"
)

// Who may take an existing address. A Service names one by IP
// (spec.loadBalancerIP) or by name (the static-address annotation), and the
// controller acts with the project's rights, not the Service author's: so
// it lends an address only when it is no other load balancer's and, for an
// address this cluster did not reserve, only to the namespaces the operator
// lets use it.

// AddressGrant lets the Services of a namespace use an address this
// cluster did not reserve (the cloud config's [load-balancer]
// user-addresses).
type AddressGrant struct {
	// Namespace is a namespace, or "*" for every one.
	Namespace string
	// Address is an address's name or IP, or "*" for every address.
	Address string
}

func (g AddressGrant) String() string { return g.Namespace + "/" + g.Address }

// allows reports whether the grant lets namespace use address a.
func (g AddressGrant) allows(namespace string, a *compute.Address) bool {
	return (g.Namespace == "*" || g.Namespace == namespace) &&
		(g.Address == "*" || g.Address == a.Name || g.Address == a.Address)
}

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
func checkAddressUse(d *Desired, a *compute.Address, grants []AddressGrant) error {
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
		if g.allows(namespace, a) {
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
	return i >= 0 && hasPrefixName(link[i+len("/forwardingRules/"):], base)
}
