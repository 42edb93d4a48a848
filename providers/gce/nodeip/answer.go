package nodeip

import (
	"cmp"
	"fmt"
	"slices"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/firewall"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/lbcondition"
)

// Reasons of the LoadBalancerReady condition (lbcondition.Type) and of
// events. The two the external mode gives too are lbcondition's.
const (
	ReasonPublished       = "NodeAddressesPublished"
	ReasonAddressesChange = "NodeAddressesChanged"
	ReasonNoEligibleNodes = "NoEligibleNodes"
	ReasonInvalidSetting  = lbcondition.ReasonInvalidSetting
	ReasonReservedPort    = "ReservedPort"
	ReasonPortConflict    = "PortConflict"
	ReasonNameCollision   = "NameCollision"
	ReasonQuotaExceeded   = lbcondition.ReasonQuotaExceeded
	ReasonTooManyPorts    = "TooManyPorts"
	ReasonKubeProxyIPVS   = "KubeProxyIPVS"
)

// problem is why a Service publishes nothing. Warn: the user must change
// something, which a Warning event tells them.
type problem struct {
	Reason  string
	Message string
	Warn    bool
}

// candidate is a Service's answer before port conflicts with other
// Services are looked at.
type candidate struct {
	ports    []protoPort
	settings settings
	targets  []target
	problem  *problem
	claim    claim
	// notes are what the Service is told although it is served.
	notes []note
}

// clusterFacts are what a Service's candidate depends on beyond the
// Service, the nodes and the endpoints.
type clusterFacts struct {
	// nodePorts are the Services that use the candidate's ports as node
	// ports (nodePortsOf), by port: their namespace/name.
	nodePorts map[protoPort][]string
	// kubeProxyIPVS: kube-proxy runs in IPVS mode (kubeProxyMode).
	kubeProxyIPVS bool
}

// candidateOf computes what the Service would publish on its own, from the
// nodes and (for externalTrafficPolicy: Local) the nodes with a ready
// endpoint of it. The checks that refuse a Service come first, cheapest
// first: a Service over the port cap is refused before its ports are even
// sorted, and claims nothing, so that no decision reads its ports. It is
// pure.
func candidateOf(svc *v1.Service, nodes []nodeInfo, endpointNodes map[string]bool, d Defaults, defaultSelector labels.Selector, f clusterFacts) candidate {
	var c candidate
	c.claim = claim{Service: svc.Namespace + "/" + svc.Name, UID: string(svc.UID), Created: svc.CreationTimestamp.Time}
	if f.kubeProxyIPVS {
		c.problem = &problem{Reason: ReasonKubeProxyIPVS, Warn: true, Message: "kube-proxy runs in IPVS mode (ConfigMap kube-system/kube-proxy, config.conf: mode: ipvs), which binds every load-balancer IP to kube-ipvs0 on every node: each node would take the other nodes' published addresses for its own and stop reaching them; nothing is published: run kube-proxy in iptables or nftables mode, or use the external mode"}
		return c
	}
	if max := cmp.Or(d.MaxPorts, DefaultMaxPorts); len(svc.Spec.Ports) > max {
		c.problem = &problem{Reason: ReasonTooManyPorts, Warn: true, Message: fmt.Sprintf(
			"the Service has %d ports, more than the %d a nodeip Service may have ([load-balancer] nodeip-max-ports); nothing is published and no firewall is opened: split the Service or use fewer ports", len(svc.Spec.Ports), max)}
		return c
	}
	c.ports = portsOf(svc)
	s, err := settingsOf(svc, d, defaultSelector)
	if err != nil {
		c.problem = &problem{Reason: ReasonInvalidSetting, Message: err.Error(), Warn: true}
		return c
	}
	c.settings = s
	nodePortRange := d.NodePortRange
	if nodePortRange.To == 0 {
		nodePortRange = DefaultNodePortRange()
	}
	if p, _, ok := reservedPort(c.ports, []PortRange{nodePortRange}); ok {
		c.problem = &problem{Reason: ReasonReservedPort, Warn: true, Message: fmt.Sprintf(
			"port %s is in the cluster's NodePort range %s ([load-balancer] nodeip-node-port-range): kube-proxy would send that NodePort of every published node to this Service; nothing is published and no firewall is opened: use a port outside the range", p, nodePortRange)}
		return c
	}
	if p, _, ok := reservedPort(c.ports, alwaysReserved()); ok {
		c.problem = &problem{Reason: ReasonReservedPort, Warn: true, Message: fmt.Sprintf(
			"port %s is reserved on every node for the kubelet, kube-proxy's health server or the cloud controller manager; nothing is published and no firewall is opened: use another port", p)}
		return c
	}
	if p, r, ok := reservedPort(c.ports, d.ReservedPorts); ok {
		c.problem = &problem{Reason: ReasonReservedPort, Warn: true, Message: fmt.Sprintf(
			"port %s is reserved on the nodes (reserved range %s, [load-balancer] nodeip-reserved-ports); nothing is published and no firewall is opened: use another port", p, r)}
		return c
	}
	if p, owner, ok := shadowedNodePort(c.ports, f.nodePorts, c.claim.Service); ok {
		c.problem = &problem{Reason: ReasonPortConflict, Warn: true, Message: fmt.Sprintf(
			"port %s is a node port of Service %s (a NodePort or health check node port): kube-proxy would send it to this Service instead on every published node, so nothing is published and no firewall is opened: use another port", p, owner)}
		return c
	}
	c.targets = capTargets(string(svc.UID), candidateTargets(nodes, s, endpointNodes), s.maxNodes)
	c.notes = append(slices.Clone(s.notes), narrowedNodes(nodes, s, endpointNodes, d)...)
	if len(c.targets) > 0 {
		c.claim.Ports = c.ports
		for _, t := range c.targets {
			c.claim.Nodes = append(c.claim.Nodes, t.Node)
		}
	}
	return c
}

// answer is what the controller publishes for a served Service.
type answer struct {
	// Targets are the nodes to publish, sorted by name; none when there is
	// a problem.
	Targets  []target
	Families []v1.IPFamily
	// Rules are the firewall rules, one per IP family published; none
	// when nothing is published.
	Rules   []firewall.Rule
	Problem *problem
	// Claim is the candidate's claim; Won says it holds it.
	Claim claim
	Won   bool
	// Notes are what the Service is told in its condition when it is
	// served: what the operator's limits narrowed, a family closed.
	Notes []note
}

// decide completes a candidate with the port conflicts: competitors are the
// claims of the Services older than this one that share a port with it,
// directly or through each other. It is pure.
func decide(svc *v1.Service, c candidate, competitors []claim, names ruleNames, p ruleParams) answer {
	a := answer{Families: c.settings.families, Claim: c.claim, Problem: c.problem, Notes: c.notes}
	if a.Problem != nil {
		return a
	}
	if len(c.targets) == 0 {
		msg := "No node is Ready, free of the exclude-from-external-load-balancers label and the autoscaler's deletion taint, matched by the node selector and the cluster's (nodeip-node-selector), and not a control-plane node unless [load-balancer] nodeip-publish-control-plane is true; nothing is published."
		if c.settings.local {
			msg = "No eligible node hosts a ready endpoint of the Service (externalTrafficPolicy: Local); nothing is published."
		}
		a.Problem = &problem{Reason: ReasonNoEligibleNodes, Message: msg}
		return a
	}
	if lost, ok := conflictOf(c.claim, competitors); ok {
		a.Problem = &problem{Reason: ReasonPortConflict, Warn: true, Message: fmt.Sprintf(
			"port %s is already published on node %s by Service %s, which is older; a node address and port can serve one Service only, so nothing is published: use another port or a node selector that does not overlap (this Service is published once %s no longer needs the port)",
			lost.Port, lost.Node, lost.Winner, lost.Winner)}
		return a
	}
	a.Won = true
	a.Targets = c.targets
	a.Rules = desiredRules(svc, names, c.ports, c.targets, c.settings.sources, p)
	return a
}

// conflictOf is the port conflict the claim loses, if any.
func conflictOf(me claim, competitors []claim) (portConflict, bool) {
	if len(competitors) == 0 {
		return portConflict{}, false
	}
	lost, ok := resolvePortConflicts(append(slices.Clone(competitors), me))[me.Service]
	return lost, ok
}
