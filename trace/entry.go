package trace

import (
	"fmt"
	"net/netip"
	"strings"

	"google.golang.org/api/compute/v1"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/lbcondition"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/ownership"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/providers/gce/annotations"
)

// entryKind says why a packet enters an instance, which decides how a
// firewall drop is explained.
type entryKind int

const (
	// clientEntry: the client's packet, after the forwarding rule or NAT.
	clientEntry entryKind = iota
	// podEntry: a packet masqueraded by another node, on its way to a pod.
	podEntry
)

// enter passes the packet through the VPC firewall into an instance. The
// instance whose primary address the packet comes from, if any, is its
// source for source tags.
func (tr *tracer) enter(inst *compute.Instance, node string, kind entryKind) bool {
	pkt := Packet{Protocol: tr.protocol, Src: tr.flow.Src.Addr(), Dst: tr.flow.Dst}
	source := tr.instanceWithPrimary(pkt.Src)
	v := EvaluateIngress(tr.in.Cloud.Firewalls, pkt, inst, source)
	if v.Allowed {
		tr.step(compFirewall, node, "allowed", v.String(), tr.flow)
		return true
	}
	var reason string
	var fix []string
	if kind == clientEntry {
		reason, fix = tr.clientDenied(v, pkt, inst, node)
	} else {
		reason, fix = tr.podDenied(v, pkt, inst, source, node)
	}
	tr.stopToward(node, compFirewall, Dropped, v.String(), reason, fix...)
	return false
}

// leave passes the packet through the VPC firewall's egress rules of the
// instance it leaves (EvaluateEgress). Only a deny is a hop: the implied
// rule allows every egress.
func (tr *tracer) leave(inst *compute.Instance, name string) bool {
	if inst == nil {
		return true
	}
	pkt := Packet{Protocol: tr.protocol, Src: tr.flow.Src.Addr(), Dst: tr.flow.Dst}
	v := EvaluateEgress(tr.in.Cloud.Firewalls, pkt, inst)
	if v.Allowed {
		return true
	}
	reason := fmt.Sprintf("egress rule %s (priority %d) denies %s:%d from %s (%s) to %s", v.Rule.Name, v.Rule.Priority, tr.protocol, pkt.Dst.Port(), name, pkt.Src, pkt.Dst.Addr())
	if tr.masqueraded {
		reason += ": kube-proxy masqueraded the packet to the node's address to cross nodes"
	}
	tr.stopToward(atVPC, compFirewall, Dropped, v.String(), reason,
		fmt.Sprintf("remove or narrow egress rule %s, or allow %s's traffic to %s with an egress rule of a priority number lower than %d", v.Rule.Name, name, pkt.Dst.Addr(), v.Rule.Priority))
	return false
}

// clientDenied explains a client's packet the firewall drops: which rule,
// or, when none applies, what keeps the Service's own rules from applying
// and what is wrong with the node.
func (tr *tracer) clientDenied(v FirewallVerdict, pkt Packet, inst *compute.Instance, node string) (string, []string) {
	where := fmt.Sprintf("%s (%s)", node, strings.Join(instanceFacts(inst, pkt.Dst.Addr()), ", "))
	if v.Rule != nil {
		return fmt.Sprintf("firewall rule %s (priority %d) denies %s on %s", v.Rule.Name, v.Rule.Priority, packetText(pkt), where),
			[]string{fmt.Sprintf("remove or narrow rule %s, or allow the Service's clients with a rule of a priority number lower than %d", v.Rule.Name, v.Rule.Priority)}
	}
	parts := []string{fmt.Sprintf("no firewall rule allows %s on %s", packetText(pkt), where)}
	var fix []string
	own := 0
	for _, fw := range tr.in.Cloud.Firewalls {
		if !ownership.IsServiceResource(fw.Name, tr.base) || isHealthCheckRule(fw.Name, tr.base) {
			continue
		}
		own++
		misses := firewallMisses(fw, pkt, inst, nil)
		if len(misses) == 0 {
			continue
		}
		parts = append(parts, "the Service's rule "+fw.Name+" "+missTexts(misses))
		fix = append(fix, tr.fixesFor(fw, misses, inst)...)
	}
	if own == 0 {
		parts = append(parts, "the Service has no firewall rule for its clients ("+tr.clientRuleName()+")"+tr.conditionText())
		fix = append(fix, "see the Service's events and its "+lbcondition.Type+" condition: the CCM has not opened the firewall")
	}
	if n := tr.nodes[node]; n != nil {
		if problems := nodeProblems(n); len(problems) > 0 {
			parts = append(parts, node+" is "+strings.Join(problems, ", "))
		}
	}
	return strings.Join(parts, "; "), dedupe(fix)
}

// fixesFor says what to change for each criterion a Service rule misses.
func (tr *tracer) fixesFor(fw *compute.Firewall, misses []miss, inst *compute.Instance) []string {
	var fix []string
	for _, m := range misses {
		switch m.kind {
		case missSource:
			fix = append(fix, fmt.Sprintf("add the client's range (for example %s/%d) to spec.loadBalancerSourceRanges", tr.flow.Src.Addr(), tr.flow.Src.Addr().BitLen()))
		case missDestination:
			if tr.mode == annotations.ModeNodeIP {
				fix = append(fix, tr.unpublishedFix()...)
			} else {
				fix = append(fix, "the rule's destination is not the load balancer's address: the CCM corrects it on its next reconcile")
			}
		case missTarget:
			fix = append(fix, fmt.Sprintf("give instance %s the node tag the rule targets (%s), or set [global] node-tags to the nodes' tags", inst.Name, strings.Join(fw.TargetTags, ", ")))
		case missDisabled:
			fix = append(fix, "enable rule "+fw.Name)
		default:
			fix = append(fix, fmt.Sprintf("rule %s does not match the Service: the CCM puts it back on its next reconcile (see the Service's events)", fw.Name))
		}
	}
	return fix
}

// podDenied explains a masqueraded packet the firewall drops on its way
// to a pod of another node.
func (tr *tracer) podDenied(v FirewallVerdict, pkt Packet, inst, source *compute.Instance, node string) (string, []string) {
	from := pkt.Src.String()
	if source != nil {
		from += " (" + source.Name + ")"
	}
	what := fmt.Sprintf("%s:%d from %s to pod address %s on %s (%s)", tr.protocol, pkt.Dst.Port(), from, pkt.Dst.Addr(), node, strings.Join(instanceFacts(inst, pkt.Dst.Addr()), ", "))
	reason := "no firewall rule allows " + what
	if v.Rule != nil {
		reason = fmt.Sprintf("firewall rule %s (priority %d) denies %s", v.Rule.Name, v.Rule.Priority, what)
	}
	if !tr.masqueraded {
		var cidrs []string
		for _, n := range tr.in.Nodes {
			cidrs = append(cidrs, podCIDRs(n)...)
		}
		return reason + ": the packet keeps the client pod's address, which no source tag matches (externalTrafficPolicy Local does not masquerade a pod's packet)", []string{
			fmt.Sprintf("let the pods reach each other: a firewall rule from the pod CIDRs (%s) to the nodes on %s:%d", strings.Join(cidrs, ", "), tr.protocol, pkt.Dst.Port()),
			"or set externalTrafficPolicy: Cluster, which masquerades the packet to the node's address",
		}
	}
	reason += ": kube-proxy masqueraded the packet to the node's address to cross nodes"
	tags := "the nodes' tags"
	if source != nil && len(tagsOf(source)) > 0 {
		tags = "source tags " + strings.Join(tagsOf(source), ", ")
	}
	return reason, []string{
		fmt.Sprintf("let the nodes reach the pods: a firewall rule from the nodes (%s, or their subnetwork's range) to the pod CIDRs on %s:%d", tags, tr.protocol, pkt.Dst.Port()),
		"or set externalTrafficPolicy: Local, which keeps each packet on the node that receives it",
	}
}

// clientRuleName is the rule the CCM creates for the Service's clients of
// the client's IP family (providers/gce/nlb and providers/gce/nodeip).
func (tr *tracer) clientRuleName() string {
	v6 := !tr.t.Client.Addr().Is4()
	switch {
	case tr.mode == annotations.ModeNodeIP && v6:
		return ownership.NodeIPFirewallNameIPv6(tr.base)
	case tr.mode == annotations.ModeNodeIP:
		return ownership.NodeIPFirewallName(tr.base)
	case v6:
		return ownership.ClientFirewallNameIPv6(tr.base)
	}
	return ownership.ClientFirewallName(tr.base)
}

// isHealthCheckRule: the rules that let the health checkers in.
func isHealthCheckRule(name, base string) bool {
	return name == ownership.HealthCheckFirewallName(base) || name == ownership.HealthCheckFirewallNameIPv6(base)
}

// instanceFacts are "10.128.0.3", "tags k8s-node"; the address is left
// out when it is the packet's destination, which the text names already.
func instanceFacts(inst *compute.Instance, dst netip.Addr) []string {
	var out []string
	if nic := primaryInterface(inst); nic != nil && nic.NetworkIP != "" && nic.NetworkIP != dst.String() {
		out = append(out, nic.NetworkIP)
	}
	if tags := tagsOf(inst); len(tags) > 0 {
		out = append(out, "tags "+strings.Join(tags, ", "))
	} else {
		out = append(out, "no tags")
	}
	return out
}

func dedupe(ss []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, s := range ss {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}
