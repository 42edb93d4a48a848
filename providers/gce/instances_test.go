package gce

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/api/compute/v1"
	v1 "k8s.io/api/core/v1"
)

// An instance's IPv6 address is reported as upstream reports it
// (kubernetes/cloud-provider-gcp providers/gce/gce_instances.go,
// nodeAddressesFromInstance and getIPV6AddressFromInterface): the
// interface's ipv6Address, or on a subnetwork whose ipv6AccessType is
// EXTERNAL the access config's externalIpv6, as an InternalIP either way.
// The NIC holds that address itself (no NAT), so it is the node's own, and
// a kubelet's --node-ip of both families then keeps the node's external
// IPv4 (k8s.io/cloud-provider node/helpers/address.go drops the other
// addresses of a node IP's type only).
func TestNodeAddressesReportIPv6AsUpstreamDoes(t *testing.T) {
	tests := []struct {
		name string
		nic  *compute.NetworkInterface
		want []v1.NodeAddress
	}{
		{
			name: "an IPv4-only interface with an external address has an InternalIP and an ExternalIP",
			nic:  &compute.NetworkInterface{NetworkIP: "10.0.0.2", AccessConfigs: []*compute.AccessConfig{{NatIP: "203.0.113.2"}}},
			want: []v1.NodeAddress{{Type: v1.NodeInternalIP, Address: "10.0.0.2"}, {Type: v1.NodeExternalIP, Address: "203.0.113.2"}},
		},
		{
			name: "an interface on an EXTERNAL IPv6 subnetwork reports its external IPv6 as an InternalIP",
			nic: &compute.NetworkInterface{NetworkIP: "10.0.0.3", StackType: "IPV4_IPV6", Ipv6AccessType: "EXTERNAL",
				AccessConfigs:     []*compute.AccessConfig{{NatIP: "203.0.113.3"}},
				Ipv6AccessConfigs: []*compute.AccessConfig{{Type: "DIRECT_IPV6", ExternalIpv6: "2600:1900:4000:1::3", ExternalIpv6PrefixLength: 96}}},
			want: []v1.NodeAddress{{Type: v1.NodeInternalIP, Address: "10.0.0.3"}, {Type: v1.NodeInternalIP, Address: "2600:1900:4000:1::3"},
				{Type: v1.NodeExternalIP, Address: "203.0.113.3"}},
		},
		{
			name: "an interface on an INTERNAL IPv6 subnetwork reports its ipv6Address as an InternalIP",
			nic:  &compute.NetworkInterface{NetworkIP: "10.0.0.4", StackType: "IPV4_IPV6", Ipv6AccessType: "INTERNAL", Ipv6Address: "fd20:1:2::4"},
			want: []v1.NodeAddress{{Type: v1.NodeInternalIP, Address: "10.0.0.4"}, {Type: v1.NodeInternalIP, Address: "fd20:1:2::4"}},
		},
		{
			name: "an IPv6 access config on an interface that is not EXTERNAL is not the node's address",
			nic: &compute.NetworkInterface{NetworkIP: "10.0.0.5",
				Ipv6AccessConfigs: []*compute.AccessConfig{{Type: "DIRECT_IPV6", ExternalIpv6: "2600:1900:4000:1::5"}}},
			want: []v1.NodeAddress{{Type: v1.NodeInternalIP, Address: "10.0.0.5"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inst := &compute.Instance{Name: "node-1", NetworkInterfaces: []*compute.NetworkInterface{tt.nic}}
			want := append(tt.want, v1.NodeAddress{Type: v1.NodeHostName, Address: "node-1"})
			if diff := cmp.Diff(want, nodeAddresses(inst)); diff != "" {
				t.Errorf("nodeAddresses (-want +got):\n%s", diff)
			}
		})
	}
}

// stack-type = IPV6 puts a node's IPv6 addresses before its IPv4 ones, as
// upstream's orderAddresses does (providers/gce/gce_instances.go); any
// other stack keeps IPv4 first.
func TestNodeAddressesOfAnIPv6ClusterPutIPv6First(t *testing.T) {
	inst := &compute.Instance{Name: "n", NetworkInterfaces: []*compute.NetworkInterface{{NetworkIP: "10.0.0.2", Ipv6Address: "fd20::2",
		AccessConfigs: []*compute.AccessConfig{{NatIP: "203.0.113.2"}}}}}
	tests := []struct {
		stackType string
		want      []v1.NodeAddress
	}{
		{stackType: "IPV6", want: []v1.NodeAddress{{Type: v1.NodeInternalIP, Address: "fd20::2"}, {Type: v1.NodeHostName, Address: "n"},
			{Type: v1.NodeInternalIP, Address: "10.0.0.2"}, {Type: v1.NodeExternalIP, Address: "203.0.113.2"}}},
		{stackType: "IPV4_IPV6", want: []v1.NodeAddress{{Type: v1.NodeInternalIP, Address: "10.0.0.2"}, {Type: v1.NodeExternalIP, Address: "203.0.113.2"},
			{Type: v1.NodeHostName, Address: "n"}, {Type: v1.NodeInternalIP, Address: "fd20::2"}}},
	}
	for _, tt := range tests {
		t.Run("stack type "+tt.stackType, func(t *testing.T) {
			got := instanceMetadata("p", tt.stackType, inst).NodeAddresses
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("node addresses (-want +got):\n%s", diff)
			}
		})
	}
}
