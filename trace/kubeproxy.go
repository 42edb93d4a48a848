package trace

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	v1 "k8s.io/api/core/v1"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/lbcondition"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/providers/gce/annotations"
)

// kubeProxy is what kube-proxy on the node does with the packet, as its
// iptables and nftables modes program a load balancer address (ipMode
// VIP): it checks spec.loadBalancerSourceRanges, DNATs to an endpoint
// (with Local and a client outside the cluster, one on this node), and,
// with Cluster, marks the packet for masquerade whatever node the endpoint
// is on ("masquerade traffic for external destinations"), so that the
// reply comes back through this node (sourceNAT).
func (tr *tracer) kubeProxy(node *v1.Node) (*endpoint, bool) {
	if !tr.intercepts(node) {
		return nil, false
	}
	all := tr.clusterEndpoints()
	ranges := tr.svc.Spec.LoadBalancerSourceRanges
	outsideRanges := len(ranges) > 0 && !inRanges(tr.flow.Src.Addr(), ranges)
	if len(all) == 0 && (!outsideRanges || tr.t.KubeProxyMode != KubeProxyNFTables) {
		// iptables checks the source ranges in a chain it builds only
		// for a Service with endpoints ("usesFWChain := hasEndpoints &&
		// ..."); without, KUBE-EXTERNAL-SERVICES rejects every client
		// (pkg/proxy/iptables/proxier.go, syncProxyRules). nftables
		// checks them first (below).
		why := ""
		if outsideRanges {
			why = "; in iptables mode the source ranges are checked only for a Service with endpoints"
		}
		tr.stop(compDNAT, Rejected, "no endpoints",
			fmt.Sprintf("the Service has no ready endpoint for port %s: kube-proxy on %s rejects new connections (ICMP port unreachable)%s", portName(tr.port), node.Name, why),
			fmt.Sprintf("make the pods the Service selects ready (kubectl get endpointslices -n %s -l %s=%s)", tr.svc.Namespace, "kubernetes.io/service-name", tr.svc.Name))
		return nil, false
	}
	if outsideRanges {
		// nftables: "usesFWChain := len(svcInfo.LoadBalancerVIPs()) > 0
		// && len(svcInfo.LoadBalancerSourceRanges()) > 0", checked by the
		// firewall-check chain in filter-prerouting-pre-dnat, before the
		// no-endpoint reject of the input and forward hooks
		// (pkg/proxy/nftables/proxier.go); iptables: KUBE-PROXY-FIREWALL
		// drops what its KUBE-FW- chain did not DNAT.
		tr.stop(compDNAT, Dropped, "source not allowed",
			fmt.Sprintf("kube-proxy on %s drops it: %s is not in spec.loadBalancerSourceRanges (%s)", node.Name, tr.flow.Src.Addr(), strings.Join(ranges, ", ")),
			fmt.Sprintf("add the client's range (%s/%d) to spec.loadBalancerSourceRanges", tr.flow.Src.Addr(), tr.flow.Src.Addr().BitLen()))
		return nil, false
	}
	candidates := all
	if tr.local && tr.client == clientOutside {
		candidates = tr.localEndpoints(node.Name)
		if len(candidates) == 0 {
			tr.stop(compDNAT, Dropped, "no local endpoint",
				fmt.Sprintf("externalTrafficPolicy Local and %s has no ready endpoint: kube-proxy drops (the Service's endpoints run on %s)", node.Name, endpointNodes(all)),
				tr.localFix(node)...)
			return nil, false
		}
	}
	tr.t.Endpoints = publicEndpoints(candidates)
	ep := candidates[0]
	tr.t.Endpoint = &ep.Endpoint
	if len(candidates) > 1 {
		var names []string
		for _, c := range candidates {
			names = append(names, c.name())
		}
		if tr.svc.Spec.SessionAffinity == v1.ServiceAffinityClientIP {
			tr.note("kube-proxy picks an endpoint at random among %s for a client's first connection and sends the client's next ones to the same endpoint until it has been idle for %s (sessionAffinity ClientIP); the trace follows %s, the first by name.",
				strings.Join(names, ", "), affinityTimeout(tr.svc), ep.name())
		} else {
			tr.note("kube-proxy picks an endpoint at random among %s for each new connection; the trace follows %s, the first by name.", strings.Join(names, ", "), ep.name())
		}
	}
	where := ""
	if ep.Node != "" {
		where = " on " + ep.Node
	}
	after := tr.flow
	after.Dst = ep.Address
	tr.step(compDNAT, node.Name, "rewritten", fmt.Sprintf("Service %s port %d -> endpoint %s (%s)%s", tr.t.Service, tr.port.Port, ep.name(), ep.Address, where), after)
	tr.sourceNAT(node, &ep)
	return &ep, true
}

// sourceNAT is kube-proxy's masquerade of the DNATed packet, when it
// happens: for Cluster and for the in-cluster clients it marks, unless the
// packet is delivered to the node itself.
func (tr *tracer) sourceNAT(node *v1.Node, ep *endpoint) {
	if tr.client != clientOutside && !tr.masqueradesInCluster(ep) {
		return
	}
	if tr.local && tr.client == clientOutside {
		tr.note("externalTrafficPolicy Local: the pod sees the client's own address %s.", tr.flow.Src.Addr())
		return
	}
	if tr.client != clientNode && tr.isNodeAddress(node, ep.Address.Addr()) {
		// The masquerade is MASQUERADE in KUBE-POSTROUTING, hooked in nat
		// POSTROUTING (pkg/proxy/iptables/proxier.go, syncProxyRules;
		// nftables: the "masquerading" chain in nat-postrouting): a
		// packet DNATed to the node's own address is delivered by INPUT
		// and never passes POSTROUTING.
		tr.note("%s is a host-network endpoint on %s itself: the packet is delivered to the node, never passes POSTROUTING, and keeps the client's address %s although kube-proxy marked it for masquerade.",
			ep.name(), node.Name, tr.flow.Src.Addr())
		return
	}
	masq := tr.masqueradeAddress(node, ep)
	tr.masqueraded = true
	after := tr.flow
	after.Src = netip.AddrPortFrom(masq, 0)
	why := "externalTrafficPolicy Cluster: kube-proxy masquerades external traffic"
	switch {
	case tr.client != clientOutside && ep.Address.Addr() == tr.t.Client.Addr():
		why = "the pod is its own endpoint: kube-proxy masquerades it (hairpin)"
	case tr.client == clientNode && tr.local:
		why = "the node's own packet: kube-proxy masquerades it"
	}
	tr.step(compSNAT, node.Name, "rewritten", fmt.Sprintf("%s so that the reply comes back through %s: source %s -> %s, a port picked at random (MASQUERADE --random-fully)",
		why, node.Name, tr.flow.Src, masq), after)
}

// kube-proxy's modes the trace models.
const (
	KubeProxyIPTables = "iptables"
	KubeProxyNFTables = "nftables"
)

// kubeProxyModeOf is the mode the trace follows and where it comes from:
// the one read, else iptables, kube-proxy's default on Linux
// (cmd/kube-proxy/app/server_linux.go, platformApplyDefaults: `if
// config.Mode == "" { config.Mode = kubeproxyconfig.ProxyModeIPTables`).
func kubeProxyModeOf(s Settings) (string, string) {
	if s.KubeProxyMode == "" {
		return KubeProxyIPTables, "assumed: kube-proxy's default on Linux"
	}
	return s.KubeProxyMode, cmp.Or(s.KubeProxyModeSource, "given")
}

// intercepts: kube-proxy has a rule for the destination, an address of
// the Service's status.loadBalancer.ingress in ipMode VIP. Otherwise the
// node itself gets the packet (its own address) or has no use for it.
func (tr *tracer) intercepts(node *v1.Node) bool {
	dst := tr.flow.Dst.Addr()
	for _, in := range tr.svc.Status.LoadBalancer.Ingress {
		a, err := netip.ParseAddr(in.IP)
		if err != nil || a.Unmap() != dst {
			continue
		}
		if in.IPMode != nil && *in.IPMode == v1.LoadBalancerIPModeProxy {
			if tr.passthrough != nil {
				tr.stop(compDNAT, Rejected, "ipMode Proxy", fmt.Sprintf("%s is in status.loadBalancer.ingress with ipMode Proxy: kube-proxy has no rule for it. %s", dst, tr.forwardedAddressText(node)),
					"drop ipMode Proxy from the Service's status: a passthrough load balancer keeps the destination, so kube-proxy must serve it (ipMode VIP)")
				return false
			}
			tr.stop(compDNAT, Dropped, "ipMode Proxy", fmt.Sprintf("%s is in status.loadBalancer.ingress with ipMode Proxy: kube-proxy leaves it to the load balancer and %s does not own it", dst, node.Name))
			return false
		}
		return true
	}
	ownAddress := false
	for _, a := range node.Status.Addresses {
		ownAddress = ownAddress || a.Address == dst.String()
	}
	if inst := instanceOfNode(tr.in.Cloud.Instances, node); isPrimaryAddress(inst, dst) {
		ownAddress = true
	}
	if ownAddress && tr.entryNAT != nil && slices.Contains(tr.ingressAddresses(), tr.t.Destination.Addr()) {
		tr.stop(compDNAT, Rejected, "no kube-proxy rule",
			fmt.Sprintf("the VPC's 1:1 NAT delivered %s as %s, and kube-proxy has rules for the Service's published addresses only (%s), not for %s: %s itself receives the packet (a TCP reset, unless a process on %s listens on port %d)",
				tr.t.Destination.Addr(), dst, joinAddrs(tr.ingressAddresses()), dst, node.Name, node.Name, tr.flow.Dst.Port()),
			"publish the nodes' InternalIP (annotation "+annotations.NodeAddressType+": InternalIP, the default): clients still connect to a node's external address, and the NAT turns it into the internal address kube-proxy then serves")
		return false
	}
	if ownAddress {
		tr.stop(compDNAT, Rejected, "no kube-proxy rule",
			fmt.Sprintf("kube-proxy has no rule for %s: it is not in the Service's status.loadBalancer.ingress. %s itself receives it (a TCP reset, unless a process on %s listens on port %d)", tr.flow.Dst, node.Name, node.Name, tr.flow.Dst.Port()),
			tr.unpublishedFix()...)
		return false
	}
	if tr.passthrough != nil {
		tr.stop(compDNAT, Rejected, "no kube-proxy rule",
			fmt.Sprintf("kube-proxy has no rule for %s: it is not in the Service's status.loadBalancer.ingress (%s). %s", tr.flow.Dst, joinAddrs(tr.ingressAddresses()), tr.forwardedAddressText(node)),
			"wait for the CCM to write the load balancer's address into the Service's status; see its events")
		return false
	}
	tr.stop(compDNAT, Dropped, "no kube-proxy rule",
		fmt.Sprintf("kube-proxy has no rule for %s: it is not in the Service's status.loadBalancer.ingress, and %s does not own the address", tr.flow.Dst, node.Name),
		"wait for the CCM to write the load balancer's address into the Service's status; see its events")
	return false
}

// isNodeAddress: a is one of the node's addresses (its status or its
// instance's primary internal ones): an endpoint there is host-network.
func (tr *tracer) isNodeAddress(node *v1.Node, a netip.Addr) bool {
	for _, na := range node.Status.Addresses {
		if na.Address == a.String() {
			return true
		}
	}
	return isPrimaryAddress(instanceOfNode(tr.in.Cloud.Instances, node), a)
}

// forwardedAddressText says why a node answers a forwarding rule's address
// that kube-proxy has no rule for: GCE's guest environment adds each
// forwarded IP of the instance (the address of every forwarding rule it
// backs) to the local routing table (GoogleCloudPlatform/guest-agent,
// google_guest_agent/addresses.go, addLocalRoute: "route add to local %s
// scope host dev %s proto 66"), so the node's own stack takes the packet.
func (tr *tracer) forwardedAddressText(node *v1.Node) string {
	return fmt.Sprintf("The guest environment made it a local address of %s (a forwarding rule's address), so %s itself receives the packet (a TCP reset, unless a process on %s listens on port %d)",
		node.Name, node.Name, node.Name, tr.flow.Dst.Port())
}

// masqueradeAddress is the source kube-proxy's masquerade gives the
// packet: the node's address on the link it leaves by. Toward a pod of
// this node, the node's address on its pod links (the first address of
// its pod CIDR); toward another node, its internal address.
func (tr *tracer) masqueradeAddress(node *v1.Node, ep *endpoint) netip.Addr {
	if tr.endpointNode(ep) == node.Name {
		if gw := podGateway(node, ep.Address.Addr()); gw.IsValid() {
			return gw
		}
	}
	if a := nodeAddress(node, v1.NodeInternalIP, ep.Address.Addr()); a.IsValid() {
		return a
	}
	return internalAddress(instanceOfNode(tr.in.Cloud.Instances, node), ep.Address.Addr())
}

// localFix says how a Local Service's traffic avoids nodes without endpoints.
func (tr *tracer) localFix(node *v1.Node) []string {
	var fix []string
	if tr.mode == annotations.ModeNodeIP {
		fix = append(fix, "connect to a published address: the CCM publishes only nodes with a ready endpoint of a Local Service")
	} else {
		fix = append(fix, fmt.Sprintf("nothing to change while another node has an endpoint: the load balancer's health check (port %d) keeps new flows away from %s", tr.svc.Spec.HealthCheckNodePort, node.Name))
	}
	return append(fix, "or set externalTrafficPolicy: Cluster, which sends to every endpoint (the pod then sees a node's address, not the client's)")
}

// unpublishedFix: the client should use a published address.
func (tr *tracer) unpublishedFix() []string {
	published := tr.ingressAddresses()
	if len(published) == 0 {
		return []string{"the Service publishes no address: see its events and its " + lbcondition.Type + " condition"}
	}
	fix := "connect to a published address: " + joinAddrs(published)
	if !tr.inside {
		var via []string
		for _, a := range published {
			if inst := tr.instanceWithPrimary(a); inst != nil && natAddress(inst).IsValid() {
				via = append(via, fmt.Sprintf("%s through %s", a, natAddress(inst)))
			}
		}
		if len(via) > 0 {
			fix += " (from outside the VPC: " + strings.Join(via, ", ") + ")"
		}
	}
	return []string{fix}
}

func endpointNodes(eps []endpoint) string {
	var nodes []string
	for _, e := range eps {
		if e.Node != "" && !slices.Contains(nodes, e.Node) {
			nodes = append(nodes, e.Node)
		}
	}
	if len(nodes) == 0 {
		return "no known node"
	}
	return strings.Join(nodes, ", ")
}

func portName(p v1.ServicePort) string {
	if p.Name != "" {
		return fmt.Sprintf("%s (%d)", p.Name, p.Port)
	}
	return fmt.Sprint(p.Port)
}

// affinityTimeout is how long kube-proxy keeps a client on its endpoint.
func affinityTimeout(svc *v1.Service) time.Duration {
	secs := int32(v1.DefaultClientIPServiceAffinitySeconds)
	if c := svc.Spec.SessionAffinityConfig; c != nil && c.ClientIP != nil && c.ClientIP.TimeoutSeconds != nil {
		secs = *c.ClientIP.TimeoutSeconds
	}
	return time.Duration(secs) * time.Second
}
