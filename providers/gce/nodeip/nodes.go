package nodeip

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	v1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/lbnode"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/providers/gce/annotations"
)

// ineligibility says why a node may not carry any nodeip Service's traffic,
// or "" when it may. nodeip takes two rules the external load balancer
// leaves out (servicecontroller's eligibleNode), because no load balancer
// health check stands between a client and a published address: the
// address list is the only thing that drains a node.
func ineligibility(n *v1.Node) string {
	return lbnode.Rules{
		RequireReady:       true, // a NotReady node's kube-proxy may not answer
		ExcludeToBeDeleted: true, // drain it before the autoscaler removes it
	}.Ineligibility(n)
}

// nodeInfo is what answers need from a node, read once per node change
// rather than once per Service.
type nodeInfo struct {
	name     string
	labels   labels.Set
	eligible bool
	// first are the node's first address of each type and IP family, in
	// the order the kubelet and the cloud node controller reported them.
	first map[addressKey]netip.Addr
}

type addressKey struct {
	typ    v1.NodeAddressType
	family v1.IPFamily
}

func nodeInfoOf(n *v1.Node) nodeInfo {
	info := nodeInfo{name: n.Name, labels: labels.Set(n.Labels), eligible: ineligibility(n) == "", first: map[addressKey]netip.Addr{}}
	for _, a := range n.Status.Addresses {
		ip, err := netip.ParseAddr(strings.TrimSpace(a.Address))
		if err != nil {
			continue
		}
		ip = ip.Unmap()
		k := addressKey{a.Type, familyOf(ip)}
		if _, seen := info.first[k]; !seen {
			info.first[k] = ip
		}
	}
	return info
}

// nodeInfosOf reads the nodes, sorted by name.
func nodeInfosOf(nodes []*v1.Node) []nodeInfo {
	out := make([]nodeInfo, 0, len(nodes))
	for _, n := range nodes {
		out = append(out, nodeInfoOf(n))
	}
	slices.SortFunc(out, func(a, b nodeInfo) int { return strings.Compare(a.name, b.name) })
	return out
}

// target is a node a Service may publish: its addresses of the Service's
// address type (at most one per IP family, in the Service's family order)
// and the addresses the firewall rules open to: the internal IPv4 address
// (the VPC's 1:1 NAT turns an external IPv4 address into it before the
// firewall) and the published IPv6 address itself.
type target struct {
	Node      string
	Addresses []netip.Addr
	Internal  []netip.Addr
}

// targetOf reads a node's addresses for a Service. A node without an
// address of the type, or without an internal address (the firewall rule
// could not name it), is no target.
//
// IPv6 has no NAT in a VPC: on a subnetwork whose ipv6AccessType is
// EXTERNAL the interface holds its external IPv6 address itself
// (ipv6AccessConfigs[].externalIpv6, which upstream reports as an
// InternalIP: kubernetes/cloud-provider-gcp providers/gce/gce_instances.go,
// getIPV6AddressFromInterface). So the IPv6 rule opens to the IPv6 address
// published, whatever type it came from: a node registered when such an
// address was an ExternalIP, or one with internal and external IPv6
// addresses, is opened where clients send.
func targetOf(n nodeInfo, addressType v1.NodeAddressType, families []v1.IPFamily) (target, bool) {
	t := target{Node: n.name}
	for _, fam := range families {
		published, ok := n.first[addressKey{addressType, fam}]
		if ok {
			t.Addresses = append(t.Addresses, published)
		}
		if fam == v1.IPv6Protocol {
			if ok {
				t.Internal = append(t.Internal, published)
			}
			continue
		}
		if a, ok := n.first[addressKey{v1.NodeInternalIP, fam}]; ok {
			t.Internal = append(t.Internal, a)
		}
	}
	return t, len(t.Addresses) > 0 && len(t.Internal) > 0
}

func familyOf(a netip.Addr) v1.IPFamily {
	if a.Is4() {
		return v1.IPv4Protocol
	}
	return v1.IPv6Protocol
}

// candidateTargets are the nodes a Service may publish before any cap:
// eligible, matched by its selector (within the operator's ceiling) and,
// for externalTrafficPolicy: Local, hosting a ready endpoint of it. They
// keep the nodes' order (by name).
func candidateTargets(nodes []nodeInfo, s settings, endpointNodes map[string]bool) []target {
	var out []target
	for _, n := range nodes {
		if !n.eligible || (s.local && !endpointNodes[n.name]) || !s.selector.Matches(n.labels) {
			continue
		}
		if t, ok := targetOf(n, s.addressType, s.families); ok {
			out = append(out, t)
		}
	}
	return out
}

// controlPlaneLabels mark the nodes that run the control plane: the label
// kubeadm sets, and the legacy one it set before v1.24 (KEP-2067,
// https://github.com/kubernetes/enhancements/tree/master/keps/sig-cluster-lifecycle/kubeadm/2067-rename-master-label-taint,
// and kubernetes/kubernetes#107533), which older clusters and other
// installers (k3s sets both) still carry. Their presence, whatever the
// value, marks the node.
const (
	labelControlPlane       = "node-role.kubernetes.io/control-plane"
	labelLegacyControlPlane = "node-role.kubernetes.io/master"
)

// nodeCeiling is the selector every published node must match, whatever
// the Service's own selector asks: the cloud config's nodeip-node-selector
// and, unless nodeip-publish-control-plane is set, no control-plane label.
// A Service's node-selector annotation is added to it, never put in its
// place, so that a tenant cannot reach nodes the operator kept out.
func nodeCeiling(d Defaults) (labels.Selector, error) {
	sel, err := labels.Parse(d.NodeSelector)
	if err != nil {
		return nil, err
	}
	if !d.PublishControlPlane {
		for _, l := range []string{labelControlPlane, labelLegacyControlPlane} {
			r, err := labels.NewRequirement(l, selection.DoesNotExist, nil)
			if err != nil {
				return nil, err
			}
			sel = sel.Add(*r)
		}
	}
	return sel, nil
}

// narrowedNodes is the note that says which nodes the Service's own
// selector matches but the operator's ceiling keeps out (eligible ones
// only, and for externalTrafficPolicy: Local those with a ready endpoint):
// nil when the Service names no selector or none is kept out.
func narrowedNodes(nodes []nodeInfo, s settings, endpointNodes map[string]bool, d Defaults) []note {
	if s.own == nil {
		return nil
	}
	var out []string
	for _, n := range nodes {
		if n.eligible && (!s.local || endpointNodes[n.name]) && s.own.Matches(n.labels) && !s.selector.Matches(n.labels) {
			out = append(out, n.name)
		}
	}
	if len(out) == 0 {
		return nil
	}
	const shown = 5
	names := strings.Join(out[:min(len(out), shown)], ", ")
	if len(out) > shown {
		names += fmt.Sprintf(" and %d more", len(out)-shown)
	}
	var limits []string
	if d.NodeSelector != "" {
		limits = append(limits, fmt.Sprintf("[load-balancer] nodeip-node-selector %q", d.NodeSelector))
	}
	if !d.PublishControlPlane {
		limits = append(limits, "no control-plane node unless [load-balancer] nodeip-publish-control-plane is true")
	}
	return []note{{Reason: ReasonNarrowed, Message: fmt.Sprintf(
		"Nodes %s match the annotation %s but not the cluster's limits (%s), so they are not published.",
		names, annotations.NodeSelector, strings.Join(limits, "; "))}}
}

// readyEndpointNodes are the nodes that host a ready endpoint in the
// slices. A missing ready condition means ready, as the EndpointSlice API
// says consumers should read it; an endpoint without a node name cannot be
// placed and is left out.
func readyEndpointNodes(slices []*discoveryv1.EndpointSlice) map[string]bool {
	out := map[string]bool{}
	for _, s := range slices {
		for _, ep := range s.Endpoints {
			if ep.NodeName == nil || *ep.NodeName == "" {
				continue
			}
			if ep.Conditions.Ready != nil && !*ep.Conditions.Ready {
				continue
			}
			out[*ep.NodeName] = true
		}
	}
	return out
}
