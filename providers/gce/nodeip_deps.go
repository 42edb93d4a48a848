package gce

import (
	v1 "k8s.io/api/core/v1"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/ownership"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/providers/gce/nodeip"
)

// NodeIPDeps is what the nodeip controller needs from the provider: the
// compute client, the network and node tags, the firewall rules' names (the
// ones EnsureLoadBalancerDeleted also removes) and the [load-balancer]
// defaults. clusterName is --cluster-name, which scopes ownership. The
// controller needs nothing of the external mode: EnsureLoadBalancer
// releases an external load balancer left from before a switch.
func (c *Cloud) NodeIPDeps(clusterName string) nodeip.Deps {
	owner := c.cfg.Owner(clusterName)
	lb := c.cfg.LoadBalancer
	reserved := make([]nodeip.PortRange, 0, len(lb.ReservedPorts))
	for _, r := range lb.ReservedPorts {
		reserved = append(reserved, nodeip.PortRange{From: int32(r.From), To: int32(r.To), Protocol: v1.Protocol(r.Protocol)})
	}
	return nodeip.Deps{
		Compute:          c.api,
		Owner:            owner,
		Network:          c.networkURL,
		NodeTags:         c.cfg.NodeTags,
		FirewallName:     func(uid string) string { return ownership.NodeIPFirewallName(owner.LoadBalancerBase(uid)) },
		FirewallNameIPv6: func(uid string) string { return ownership.NodeIPFirewallNameIPv6(owner.LoadBalancerBase(uid)) },
		Defaults: nodeip.Defaults{
			Mode:                lb.Mode,
			AddressType:         v1.NodeAddressType(lb.NodeIPAddressType),
			SourceRanges:        lb.NodeIPSourceRanges,
			ReservedPorts:       reserved,
			NodePortRange:       nodeip.PortRange{From: int32(lb.NodePortRange.From), To: int32(lb.NodePortRange.To)},
			MaxPorts:            lb.NodeIPMaxPorts,
			NodeSelector:        lb.NodeSelector,
			PublishControlPlane: lb.PublishControlPlane,
		},
	}
}
