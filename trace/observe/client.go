package observe

import (
	"context"
	"fmt"
	"net/netip"
	"slices"

	"google.golang.org/api/compute/v1"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/trace"
)

// readClientInstance adds the instance of the traced client when the
// client is a VM of the VPC (an address of the network's ranges that no
// instance read so far has): its tags and service accounts are what
// firewall rules' sourceTags and sourceServiceAccounts match, its egress
// rules apply to its packets, and its external address (natIP) is how it
// reaches an external load balancer. Instances of other projects (a
// Shared VPC's service projects) are not read.
func (r Reader) readClientInstance(ctx context.Context, in *trace.Input) error {
	a := r.Client.Unmap()
	if !a.IsValid() || !slices.ContainsFunc(in.Cloud.NetworkRanges, func(p netip.Prefix) bool { return p.Contains(a) }) {
		return nil
	}
	if slices.ContainsFunc(in.Cloud.Instances, func(inst *compute.Instance) bool { return primaryAddressIs(inst, a) }) {
		return nil
	}
	// Every instance of the project: the list API filters on a
	// top-level field (name, ...) and an instance's address is not one.
	all, err := r.Compute.ListInstancesNamed(ctx, "")
	if err != nil {
		return fmt.Errorf("list instances for the client %s: %w", a, err)
	}
	for _, inst := range all {
		if primaryAddressIs(inst, a) {
			in.Cloud.Instances = append(in.Cloud.Instances, inst)
		}
	}
	return nil
}

// primaryAddressIs: a is the instance's first interface's internal IPv4
// or IPv6 address.
func primaryAddressIs(inst *compute.Instance, a netip.Addr) bool {
	if inst == nil || len(inst.NetworkInterfaces) == 0 || inst.NetworkInterfaces[0] == nil {
		return false
	}
	nic := inst.NetworkInterfaces[0]
	for _, s := range []string{nic.NetworkIP, nic.Ipv6Address} {
		if ip, err := netip.ParseAddr(s); err == nil && ip.Unmap() == a {
			return true
		}
	}
	return false
}
