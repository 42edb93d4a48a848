package trace

import (
	"fmt"
	"net/netip"
	"strings"
)

// changes says how a flow's addresses change: "source A -> B, destination C -> D".
func changes(before, after Flow) string {
	var parts []string
	if before.Src != after.Src {
		parts = append(parts, fmt.Sprintf("source %s -> %s", addrPortText(before.Src), addrPortText(after.Src)))
	}
	if before.Dst != after.Dst {
		parts = append(parts, fmt.Sprintf("destination %s -> %s", addrPortText(before.Dst), addrPortText(after.Dst)))
	}
	return strings.Join(parts, ", ")
}

// reply follows the answer of the pod back to the client: conntrack on
// the node that received the packet undoes kube-proxy's NAT (the
// masquerade is what brought the reply back to that node), the VPC's 1:1
// NAT, if it rewrote the way in, rewrites the source back to the external
// address, and a passthrough load balancer's reply leaves the node with
// the load balancer's address already (direct server return). The firewall
// lets replies in without a rule: it is stateful.
func (tr *tracer) reply() {
	tr.hops = &tr.t.Reply
	ep := tr.endpoint
	entry := tr.entry.Name
	epNode := tr.endpointAt
	tr.at = atPod
	tr.flow = Flow{Protocol: tr.flow.Protocol, Src: tr.flow.Dst, Dst: tr.flow.Src}
	tr.step(compPod, epNode, "sent", fmt.Sprintf("pod %s answers from %s", ep.name(), ep.Address), tr.flow)
	if tr.crossed != nil {
		whose := entry + "'s address"
		if !tr.masqueraded {
			whose = "the address of the client pod on " + entry
		}
		tr.step(compRoute, atVPC, "routed", fmt.Sprintf("%s sends the reply to %s, %s, through the VPC", epNode, tr.flow.Dst.Addr(), whose), tr.flow)
		tr.step(compFirewall, entry, "allowed", "a reply of an established flow: the firewall is stateful and lets it in without a rule", tr.flow)
	}
	back := Flow{Protocol: tr.flow.Protocol, Src: tr.seen.Dst, Dst: tr.seen.Src}
	undo := "DNAT"
	if tr.masqueraded {
		undo = "DNAT and masquerade"
	}
	tr.step(compConntrack, entry, "rewritten", fmt.Sprintf("conntrack undoes kube-proxy's %s: %s", undo, changes(tr.flow, back)), back)
	switch {
	case tr.client != clientOutside:
		tr.step(compClient, atClient, "received", fmt.Sprintf("the client on %s receives the reply from %s, the address it connected to", entry, tr.flow.Src), tr.flow)
		return
	case tr.entryNAT != nil:
		tr.step(compRoute, atVPC, "routed", entry+" sends the reply to the VPC (its default route)", tr.flow)
		nat := natAddress(tr.entryNAT)
		after := tr.flow
		after.Src = netip.AddrPortFrom(nat, tr.flow.Src.Port())
		tr.step(compNAT, atVPC, "rewritten", fmt.Sprintf("the 1:1 NAT of instance %s rewrites the source back to its external address %s", tr.entryNAT.Name, nat), after)
	case tr.passthrough != nil:
		tr.step(compRoute, atVPC, "routed", fmt.Sprintf("%s sends the reply to the VPC (its default route); its source is already the load balancer's address, so it does not pass forwarding rule %s (direct server return)",
			entry, tr.passthrough.Name), tr.flow)
		if tr.clientNAT != nil {
			after := tr.flow
			after.Dst = tr.t.Client
			tr.step(compNAT, atVPC, "rewritten", fmt.Sprintf("the 1:1 NAT of instance %s rewrites the destination back to its internal address %s", tr.clientNAT.Name, tr.t.Client.Addr()), after)
		}
	default:
		tr.step(compRoute, atVPC, "routed", entry+" sends the reply to the VPC (its default route)", tr.flow)
	}
	tr.step(compClient, atClient, "received", fmt.Sprintf("the client receives the reply from %s, the address it connected to", tr.flow.Src), tr.flow)
}
