package gce

import (
	"context"
	"sync"

	v1 "k8s.io/api/core/v1"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/providers/gce/nlb"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/providers/gce/nodeip"
)

// nodeIPHooks connects the provider to the nodeip controller: the
// controller registers here to hear of nodeip rules the provider removed.
type nodeIPHooks struct {
	mu          sync.Mutex
	ruleRemoved []func(serviceUID string)
}

// nodeIPRuleRemoved tells the nodeip controller that the provider removed
// the Service's nodeip rules (nlb.Delete removes every rule named after the
// Service).
func (c *Cloud) nodeIPRuleRemoved(svc *v1.Service) {
	c.nodeIP.mu.Lock()
	notify := append([]func(string){}, c.nodeIP.ruleRemoved...)
	c.nodeIP.mu.Unlock()
	for _, f := range notify {
		f(string(svc.UID))
	}
}

// NodeIPDeps is what the nodeip controller needs from the provider: the
// compute client, the network and node tags, the firewall rules' names (the
// ones the external mode's cleanup also removes), the [load-balancer]
// defaults, and the external mode's cleanup for a Service that switched.
// clusterName is --cluster-name, which scopes ownership.
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
		FirewallName:     func(uid string) string { return NodeIPFirewallName(owner, uid) },
		FirewallNameIPv6: func(uid string) string { return NodeIPFirewallNameIPv6(owner, uid) },
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
		ReleaseExternal: func(ctx context.Context, svc *v1.Service) error {
			return nlb.Delete(ctx, c.api, c.nlbParams(clusterName), svc)
		},
		OnRuleRemoved: func(notify func(string)) {
			c.nodeIP.mu.Lock()
			defer c.nodeIP.mu.Unlock()
			c.nodeIP.ruleRemoved = append(c.nodeIP.ruleRemoved, notify)
		},
	}
}
