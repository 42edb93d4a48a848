package trace

import (
	"fmt"
	"net/netip"

	v1 "k8s.io/api/core/v1"
)

// clientKind says where the client is, which decides who first handles
// its packet.
type clientKind int

const (
	// clientOutside: a client of the VPC or of the internet; its packet
	// meets the VPC first.
	clientOutside clientKind = iota
	// clientNode: a process of a node, at one of the node's addresses.
	clientNode
	// clientPod: a pod, at an address of its node's pod CIDR.
	clientPod
)

// clusterClient is the node whose kube-proxy first sees the client's
// packets: the node the client is (one of its addresses), or the node
// whose pod CIDR holds the client's address.
func (tr *tracer) clusterClient(a netip.Addr) (*v1.Node, clientKind) {
	for _, n := range tr.in.Nodes {
		if tr.isInternalNodeAddress(n, a) {
			return n, clientNode
		}
	}
	for _, n := range tr.in.Nodes {
		if podGateway(n, a).IsValid() {
			return n, clientPod
		}
	}
	return nil, clientOutside
}

// isInternalNodeAddress: a is an address the node's own packets leave
// with: its instance's primary internal addresses, or an address of its
// status that is not an ExternalIP (which the VPC's 1:1 NAT owns, not
// the node).
func (tr *tracer) isInternalNodeAddress(n *v1.Node, a netip.Addr) bool {
	for _, na := range n.Status.Addresses {
		if na.Type != v1.NodeExternalIP && na.Address == a.String() {
			return true
		}
	}
	return isPrimaryAddress(instanceOfNode(tr.in.Cloud.Instances, n), a)
}

// kubeProxyServes: dst is an address of the Service's
// status.loadBalancer.ingress of ipMode VIP (unset is VIP), for which
// kube-proxy on every node has a rule ("%s loadbalancer IP",
// pkg/proxy/iptables/proxier.go, syncProxyRules; svcInfo.LoadBalancerVIPs
// leaves out the addresses of ipMode Proxy).
func (tr *tracer) kubeProxyServes(dst netip.Addr) bool {
	for _, in := range tr.svc.Status.LoadBalancer.Ingress {
		a, err := netip.ParseAddr(in.IP)
		if err == nil && a.Unmap() == dst {
			return in.IPMode == nil || *in.IPMode == v1.LoadBalancerIPModeVIP
		}
	}
	return false
}

// fromInsideCluster starts the trace of a node's or a pod's packet to a
// load balancer address: kube-proxy's KUBE-SERVICES chain is hooked into
// nat OUTPUT (the node's own packets) and PREROUTING (its pods'), so the
// client's own node DNATs it (pkg/proxy/iptables/proxier.go,
// iptablesJumpChains; pkg/proxy/nftables/proxier.go, nftablesJumpChains:
// {servicesChain, natOutputChain} and {servicesChain,
// natPreroutingChain}). The packet never reaches the forwarding rule, the
// VPC firewall of a backend, or the backend the load balancer would pick.
func (tr *tracer) fromInsideCluster(node *v1.Node, kind clientKind, why string) {
	tr.client = kind
	who := fmt.Sprintf("the client is %s itself", node.Name)
	chain := "nat OUTPUT"
	if kind == clientPod {
		who = fmt.Sprintf("the client is a pod on %s (its pod CIDR %s)", node.Name, podCIDROf(node, tr.flow.Src.Addr()))
		chain = "nat PREROUTING"
	}
	tr.step(compClient, node.Name, "sent", who+"; "+why, tr.flow)
	tr.note("kube-proxy on %s has a rule for the load balancer's address %s in %s: it DNATs the packet on %s, which never reaches the forwarding rule, the VPC firewall of a load balancer backend, or the backend the load balancer would pick.",
		node.Name, tr.flow.Dst.Addr(), chain, node.Name)
	if tr.local {
		if kind == clientPod {
			tr.note("externalTrafficPolicy Local does not apply to a pod's packet: kube-proxy sends it to any endpoint and keeps the pod's address (\"pod traffic for ... external destinations\").")
		} else {
			tr.note("externalTrafficPolicy Local does not apply to the node's own packet: kube-proxy sends it to any endpoint and masquerades it (\"masquerade LOCAL traffic for ... external destinations\").")
		}
	}
}

// podCIDROf is the node's pod CIDR that holds a.
func podCIDROf(n *v1.Node, a netip.Addr) string {
	for _, c := range podCIDRs(n) {
		if p, err := netip.ParsePrefix(c); err == nil && p.Contains(a) {
			return c
		}
	}
	return ""
}

// masqueradesInCluster: whether kube-proxy masquerades the packet of a
// client inside the cluster. The external chain of Cluster masquerades
// all ("masquerade traffic for %s external destinations"); that of Local
// the node's own packets only ("masquerade LOCAL traffic"). A pod sent to
// itself is masqueraded by its endpoint chain whatever the policy
// ("-s epIP -j KUBE-MARK-MASQ", writeServiceToEndpointRules), so that the
// reply comes back through the node's conntrack.
func (tr *tracer) masqueradesInCluster(ep *endpoint) bool {
	return !tr.local || tr.client == clientNode || ep.Address.Addr() == tr.t.Client.Addr()
}
