package trace

import (
	"net/netip"
	"strings"

	"google.golang.org/api/compute/v1"
	v1 "k8s.io/api/core/v1"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/ownership"
)

func primaryInterface(inst *compute.Instance) *compute.NetworkInterface {
	if inst == nil || len(inst.NetworkInterfaces) == 0 {
		return nil
	}
	return inst.NetworkInterfaces[0]
}

// internalAddress is the instance's primary internal address of the family
// of like (its networkIP or its internal IPv6 address).
func internalAddress(inst *compute.Instance, like netip.Addr) netip.Addr {
	nic := primaryInterface(inst)
	if nic == nil {
		return netip.Addr{}
	}
	for _, s := range []string{nic.NetworkIP, nic.Ipv6Address} {
		if a, err := netip.ParseAddr(s); err == nil && a.Is4() == like.Is4() {
			return a
		}
	}
	return netip.Addr{}
}

// natAddress is the external address of the instance's 1:1 NAT
// (accessConfigs[0].natIP), if it has one.
func natAddress(inst *compute.Instance) netip.Addr {
	nic := primaryInterface(inst)
	if nic == nil || len(nic.AccessConfigs) == 0 || nic.AccessConfigs[0] == nil {
		return netip.Addr{}
	}
	a, _ := netip.ParseAddr(nic.AccessConfigs[0].NatIP)
	return a
}

func isPrimaryAddress(inst *compute.Instance, a netip.Addr) bool {
	ia := internalAddress(inst, a)
	return ia.IsValid() && ia == a.Unmap()
}

// ownsAddress: the VPC delivers packets for a to the instance, by its
// primary internal address or one of its alias ranges.
func ownsAddress(inst *compute.Instance, a netip.Addr) bool {
	if isPrimaryAddress(inst, a) {
		return true
	}
	nic := primaryInterface(inst)
	if nic == nil {
		return false
	}
	for _, r := range nic.AliasIpRanges {
		if r != nil && inRanges(a, []string{r.IpCidrRange}) {
			return true
		}
	}
	return false
}

// instanceOfNode finds a node's instance: by its providerID
// (gce://project/zone/name), else by the node's name.
func instanceOfNode(instances []*compute.Instance, n *v1.Node) *compute.Instance {
	if n == nil {
		return nil
	}
	if rest, ok := strings.CutPrefix(n.Spec.ProviderID, "gce://"); ok {
		if parts := strings.Split(rest, "/"); len(parts) == 3 {
			for _, inst := range instances {
				if inst.Name == parts[2] && ownership.LastSegment(inst.Zone) == parts[1] {
					return inst
				}
			}
		}
	}
	for _, inst := range instances {
		if inst.Name == n.Name {
			return inst
		}
	}
	return nil
}

// instanceByLink finds an instance by its self link.
func instanceByLink(instances []*compute.Instance, link string) *compute.Instance {
	for _, inst := range instances {
		if ownership.SameLink(inst.SelfLink, link) || (inst.SelfLink == "" && ownership.LastSegment(link) == inst.Name) {
			return inst
		}
	}
	return nil
}

// nodeAddress is the node's first address of the type and of the family of like,
// as the kubelet and the cloud node controller reported it.
func nodeAddress(n *v1.Node, typ v1.NodeAddressType, like netip.Addr) netip.Addr {
	if n == nil {
		return netip.Addr{}
	}
	for _, a := range n.Status.Addresses {
		if a.Type != typ {
			continue
		}
		if ip, err := netip.ParseAddr(strings.TrimSpace(a.Address)); err == nil && ip.Unmap().Is4() == like.Is4() {
			return ip.Unmap()
		}
	}
	return netip.Addr{}
}

// podGateway is the node's address on the links to its pods: the first
// address of its pod CIDR that holds pod (the bridge or veth address a
// CNI plugin gives the node side), or nothing when pod is not in a pod
// CIDR of the node (a host-network endpoint).
func podGateway(n *v1.Node, pod netip.Addr) netip.Addr {
	if n == nil {
		return netip.Addr{}
	}
	cidrs := n.Spec.PodCIDRs
	if len(cidrs) == 0 && n.Spec.PodCIDR != "" {
		cidrs = []string{n.Spec.PodCIDR}
	}
	for _, c := range cidrs {
		if p, err := netip.ParsePrefix(c); err == nil && p.Contains(pod) {
			return p.Masked().Addr().Next()
		}
	}
	return netip.Addr{}
}
