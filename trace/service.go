package trace

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	v1 "k8s.io/api/core/v1"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/lbcondition"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/lbnode"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/ownership"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/providers/gce/annotations"
)

// servicePort finds the port traced: by name or number, else the first.
func servicePort(svc *v1.Service, want string) (v1.ServicePort, error) {
	if len(svc.Spec.Ports) == 0 {
		return v1.ServicePort{}, fmt.Errorf("Service %s/%s has no ports", svc.Namespace, svc.Name)
	}
	if want == "" {
		return svc.Spec.Ports[0], nil
	}
	n, numErr := strconv.Atoi(want)
	var have []string
	for _, p := range svc.Spec.Ports {
		if p.Name == want || (numErr == nil && int(p.Port) == n) {
			return p, nil
		}
		have = append(have, fmt.Sprintf("%s %d/%s", cmp.Or(p.Name, "(unnamed)"), p.Port, cmp.Or(p.Protocol, v1.ProtocolTCP)))
	}
	return v1.ServicePort{}, fmt.Errorf("Service %s/%s has no port %q (it has %s)", svc.Namespace, svc.Name, want, strings.Join(have, ", "))
}

// clientOf is the client's address: the one given, or the default of the
// Service's first IP family. A Service that does not serve the client's
// family cannot be traced from it.
func clientOf(svc *v1.Service, from netip.AddrPort) (netip.AddrPort, error) {
	families := svc.Spec.IPFamilies
	if !from.IsValid() {
		if len(families) > 0 && !slices.Contains(families, v1.IPv4Protocol) {
			return DefaultClientIPv6, nil
		}
		return DefaultClient, nil
	}
	from = netip.AddrPortFrom(from.Addr().Unmap(), from.Port())
	if len(families) > 0 && !slices.Contains(families, familyOf(from.Addr())) {
		return netip.AddrPort{}, fmt.Errorf("Service %s/%s serves %v only: a client at %s cannot reach it", svc.Namespace, svc.Name, families, from)
	}
	return from, nil
}

func familyOf(a netip.Addr) v1.IPFamily {
	if a.Is4() {
		return v1.IPv4Protocol
	}
	return v1.IPv6Protocol
}

// ingressAddresses are the Service's published addresses of the client's
// family, in the order of its status.
func (tr *tracer) ingressAddresses() []netip.Addr {
	var out []netip.Addr
	for _, in := range tr.svc.Status.LoadBalancer.Ingress {
		if a, err := netip.ParseAddr(in.IP); err == nil && a.Unmap().Is4() == tr.t.Client.Addr().Is4() {
			out = append(out, a.Unmap())
		}
	}
	return out
}

// destination is the address the client connects to, and why.
func (tr *tracer) destination() (netip.Addr, string, bool) {
	published := tr.ingressAddresses()
	fam := familyOf(tr.t.Client.Addr())
	if to := tr.in.To; to.IsValid() {
		if !slices.Contains(published, to) {
			tr.note("%s is not in the Service's status.loadBalancer.ingress (%s).", to, joinAddrs(published))
		}
		return to, fmt.Sprintf("the client connects to %s", to), true
	}
	if tr.mode == annotations.ModeNodeIP {
		return tr.nodeIPDestination(published, fam)
	}
	if len(published) > 0 {
		if len(published) > 1 {
			tr.note("The Service publishes %s; the trace uses the first.", joinAddrs(published))
		}
		return published[0], fmt.Sprintf("the client connects to the load balancer's address %s (status.loadBalancer.ingress)", published[0]), true
	}
	for _, fr := range tr.in.Cloud.ForwardingRules {
		if !ownership.IsServiceResource(fr.Name, tr.base) {
			continue
		}
		if a, ok := ruleAddress(fr); ok && familyOf(a) == fam {
			tr.note("The Service's status has no %s address yet; the trace uses its forwarding rule %s's address.", fam, fr.Name)
			return a, fmt.Sprintf("the client connects to %s, the address of forwarding rule %s", a, fr.Name), true
		}
	}
	tr.stop(compClient, Dropped, "no address to connect to",
		fmt.Sprintf("the Service has no %s load balancer address: no address in status.loadBalancer.ingress and no forwarding rule named %s-*%s", fam, tr.base, tr.conditionText()),
		"see the Service's events and its "+lbcondition.Type+" condition")
	return netip.Addr{}, "", false
}

// nodeIPDestination: the client uses a published node address, or the
// address of the node asked for, published or not.
func (tr *tracer) nodeIPDestination(published []netip.Addr, fam v1.IPFamily) (netip.Addr, string, bool) {
	typ := tr.addressType()
	if tr.in.ToNode != "" {
		n := tr.nodes[tr.in.ToNode]
		a := nodeAddress(n, typ, tr.t.Client.Addr())
		if !a.IsValid() {
			tr.stop(compClient, Dropped, "no address to connect to",
				fmt.Sprintf("node %s has no %s %s address", n.Name, fam, typ))
			return netip.Addr{}, "", false
		}
		if !slices.Contains(published, a) {
			why := nodeProblems(n)
			if tr.local && len(tr.localEndpoints(n.Name)) == 0 {
				why = append(why, "without a ready endpoint of the Service (externalTrafficPolicy Local)")
			}
			reason := ""
			if len(why) > 0 {
				reason = " (" + n.Name + " is " + strings.Join(why, ", ") + ")"
			}
			tr.note("%s's address %s is not published in status.loadBalancer.ingress%s; the client uses it anyway.", n.Name, a, reason)
			tr.toldProblems = len(why) > 0
		}
		return tr.throughExternal(n, typ, a)
	}
	if len(published) == 0 {
		tr.stop(compClient, Dropped, "no address to connect to",
			fmt.Sprintf("the Service publishes no %s node address%s", fam, tr.conditionText()),
			"see the Service's events and its "+lbcondition.Type+" condition")
		return netip.Addr{}, "", false
	}
	if len(published) > 1 {
		tr.note("The Service publishes %s; a client may use any of them. The trace uses the first (--to-node chooses another).", joinAddrs(published))
	}
	for _, n := range tr.in.Nodes {
		if nodeAddress(n, typ, published[0]) == published[0] {
			return tr.throughExternal(n, typ, published[0])
		}
	}
	return published[0], fmt.Sprintf("the client connects to %s (status.loadBalancer.ingress)", published[0]), true
}

// throughExternal is the address a client uses to reach node n's address a
// of type typ: a itself, unless a is internal and the client is outside
// the VPC, which routes internal addresses only inside it. Such a client
// uses the node's external address, which the 1:1 NAT turns into a: the
// reason the nodeip mode publishes internal addresses by default.
func (tr *tracer) throughExternal(n *v1.Node, typ v1.NodeAddressType, a netip.Addr) (netip.Addr, string, bool) {
	inst := instanceOfNode(tr.in.Cloud.Instances, n)
	if nat := natAddress(inst); !tr.inside && isPrimaryAddress(inst, a) && nat.IsValid() {
		tr.note("%s is outside the VPC, which routes %s's internal address %s only inside it: the client uses %s's external address %s, which the 1:1 NAT turns into %s.",
			tr.t.Client.Addr(), n.Name, a, n.Name, nat, a)
		return nat, fmt.Sprintf("the client connects to %s's external address %s, for its %s %s", n.Name, nat, typ, a), true
	}
	return a, fmt.Sprintf("the client connects to %s's %s %s", n.Name, typ, a), true
}

// addressType is the node address a nodeip Service publishes.
func (tr *tracer) addressType() v1.NodeAddressType {
	if v, ok := tr.svc.Annotations[annotations.NodeAddressType]; ok {
		if strings.EqualFold(strings.TrimSpace(v), string(v1.NodeExternalIP)) {
			return v1.NodeExternalIP
		}
		return v1.NodeInternalIP
	}
	return cmp.Or(tr.in.Settings.NodeIPAddressType, v1.NodeInternalIP)
}

// conditionText is "; LoadBalancerReady is False (Reason): message", or
// "" when the Service has no such condition.
func (tr *tracer) conditionText() string {
	for _, c := range tr.svc.Status.Conditions {
		if c.Type == lbcondition.Type && c.Status != "True" {
			return fmt.Sprintf("; %s is %s (%s): %s", c.Type, c.Status, c.Reason, c.Message)
		}
	}
	return ""
}

// nodeProblems say why a node may not carry load balancer traffic, as the
// nodeip mode reads a node (providers/gce/nodeip, ineligibility): being
// deleted, excluded by label, about to be removed by the autoscaler, not
// Ready.
func nodeProblems(n *v1.Node) []string {
	return lbnode.Rules{RequireReady: true, ExcludeToBeDeleted: true}.Problems(n)
}

func joinAddrs(as []netip.Addr) string {
	s := make([]string, len(as))
	for i, a := range as {
		s[i] = a.String()
	}
	return strings.Join(s, ", ")
}
