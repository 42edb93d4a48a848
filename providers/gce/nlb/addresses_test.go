package nlb

import (
	"context"
	"errors"
	"testing"

	"google.golang.org/api/compute/v1"
	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/ownership"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/providers/gce/annotations"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/providers/gce/cloudconfig"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/test/fakegce"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/test/fixture"
)

func inNamespace(ns, uid string) fixture.ServiceOption {
	return func(s *v1.Service) { s.Namespace, s.UID = ns, types.UID("0b1c2d3e-0000-4000-8000-"+uid) }
}

// serviceErrorReason is the reason of a *ServiceError ("" for another error).
func serviceErrorReason(err error) string {
	var se *ServiceError
	if errors.As(err, &se) {
		return se.Reason
	}
	return ""
}

// The attack: a Service of team-a asks for the address of team-b's Service,
// by IP and by name. It is refused, and team-b's load balancer is untouched.
func TestAServiceIsRefusedTheAddressOfAnotherNamespacesService(t *testing.T) {
	for _, backend := range []string{BackendTargetPool, BackendService} {
		t.Run(backend, func(t *testing.T) {
			lc := newLBCloud(t, fakegce.Config{}, "node-1")
			nodes := nodesFor("us-central1-a", "node-1")
			owner := newService("web", inNamespace("team-b", "00000000000b"), fixture.Annotation(annotations.Backend, backend))
			ip := ensure(t, lc, owner, nodes)
			ownerAddress := lc.p.Owner.LoadBalancerBase(string(owner.UID))
			thieves := []*v1.Service{
				// Another port than the owner's: the API itself would let
				// both load balancers share the address.
				newService("by-ip", inNamespace("team-a", "0000000000a1"), fixture.Ports(v1.ProtocolTCP, 443),
					fixture.Annotation(annotations.Backend, backend), fixture.LoadBalancerIP(ip)),
				newService("by-name", inNamespace("team-a", "0000000000a2"), fixture.Ports(v1.ProtocolTCP, 443),
					fixture.Annotation(annotations.Backend, backend), fixture.Annotation(annotations.StaticAddress, ownerAddress)),
			}
			for _, thief := range thieves {
				_, err := lc.lb().Ensure(context.Background(), thief, nodes)
				if got := serviceErrorReason(err); got != ReasonAddressOwnedByAnotherService {
					t.Errorf("%s: Ensure = %v; want a %s ServiceError", thief.Name, err, ReasonAddressOwnedByAnotherService)
				}
				if err := lc.lb().Delete(context.Background(), thief); err != nil {
					t.Errorf("%s: Delete: %v", thief.Name, err)
				}
			}
			resyncMakesNoWrites(t, lc, owner, nodes)
			if err := lc.lb().Delete(context.Background(), owner); err != nil {
				t.Fatal(err)
			}
			if left := lc.owned(); len(left) != 0 {
				t.Errorf("left after the owner's delete: %v", left)
			}
		})
	}
}

func TestWhoMayUseAnExistingAddress(t *testing.T) {
	d, err := Desire(newService("web", inNamespace("team-a", "0000000000a1"), fixture.LoadBalancerIP("203.0.113.7")), nil, testParams)
	if err != nil {
		t.Fatal(err)
	}
	mine := testParams.Owner.LoadBalancerBase(string(d.UID))
	rule := func(name string) string {
		return ownership.LinkBase + "projects/p1/regions/us-central1/forwardingRules/" + name
	}
	userAddress := func(users ...string) *compute.Address {
		return &compute.Address{Name: "team-ip", Address: "203.0.113.7", Description: "reserved by hand", Users: users}
	}
	marked := func(uid string, users ...string) *compute.Address {
		return &compute.Address{Name: "cpv-x", Address: "203.0.113.7", Users: users,
			Description: `{"cloud-provider-vpc.io/cluster":"other","cloud-provider-vpc.io/service-uid":"` + uid + `"}`}
	}
	tests := []struct {
		name    string
		address *compute.Address
		grants  []cloudconfig.AddressGrant
		want    string // the refusal's reason, "" when allowed
	}{
		{name: "an address reserved for another Service is refused, whatever the grants",
			address: marked("another-uid"), grants: []cloudconfig.AddressGrant{{Namespace: "*", Address: "*"}}, want: ReasonAddressOwnedByAnotherService},
		{name: "an address reserved for this Service is its own",
			address: marked(d.UID, rule(mine+"-tcp"))},
		{name: "a user's address is refused when no grant names it",
			address: userAddress(), want: ReasonAddressNotGranted},
		{name: "a user's address granted to another namespace is refused",
			address: userAddress(), grants: []cloudconfig.AddressGrant{{Namespace: "team-b", Address: "team-ip"}}, want: ReasonAddressNotGranted},
		{name: "a user's address granted to the namespace by name is allowed",
			address: userAddress(), grants: []cloudconfig.AddressGrant{{Namespace: "team-a", Address: "team-ip"}}},
		{name: "a user's address granted to the namespace by IP is allowed",
			address: userAddress(), grants: []cloudconfig.AddressGrant{{Namespace: "team-a", Address: "203.0.113.7"}}},
		{name: "a grant of every address to every namespace allows it",
			address: userAddress(), grants: []cloudconfig.AddressGrant{{Namespace: "*", Address: "*"}}},
		{name: "a granted address in use by this Service's own rules is allowed",
			address: userAddress(rule(mine + "-tcp")), grants: []cloudconfig.AddressGrant{{Namespace: "team-a", Address: "*"}}},
		{name: "a granted address in use by another forwarding rule is refused",
			address: userAddress(rule("someone-elses")), grants: []cloudconfig.AddressGrant{{Namespace: "*", Address: "*"}}, want: ReasonAddressInUse},
		{name: "a granted address in use by an instance is refused",
			address: userAddress(ownership.LinkBase + "projects/p1/zones/us-central1-a/instances/vm"), grants: []cloudconfig.AddressGrant{{Namespace: "*", Address: "*"}}, want: ReasonAddressInUse},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := checkAddressUse(d, tt.address, tt.grants)
			if got := serviceErrorReason(err); got != tt.want || (tt.want == "" && err != nil) {
				t.Errorf("checkAddressUse = %v; want reason %q", err, tt.want)
			}
		})
	}
}
