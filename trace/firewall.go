package trace

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"google.golang.org/api/compute/v1"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/firewall/protoport"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/ownership"
)

// Packet is what the VPC's ingress firewall looks at: the first packet of a
// new flow as it enters an instance, after the VPC's NAT.
type Packet struct {
	// Protocol is tcp, udp, icmp, ... or an IP protocol number.
	Protocol string
	Src      netip.Addr
	// Dst is the destination address and port (port 0 for protocols
	// without ports).
	Dst netip.AddrPort
}

// FirewallVerdict is the firewall's answer for a packet.
type FirewallVerdict struct {
	Allowed bool
	// Rule is the rule that decided; nil when none applies and the implied
	// deny-ingress rule (priority 65535) drops the packet.
	Rule *compute.Firewall
}

// impliedDenyPriority is the priority of the implied rules every VPC has:
// deny all ingress, allow all egress. They cannot be removed, only
// overridden by rules of a higher precedence (a lower number).
const impliedDenyPriority = 65535

// String says what decided: "allowed by NAME (priority N)".
func (v FirewallVerdict) String() string {
	switch {
	case v.Rule == nil && v.Allowed:
		return fmt.Sprintf("allowed by the implied allow-egress rule (priority %d)", impliedDenyPriority)
	case v.Rule == nil:
		return fmt.Sprintf("denied by the implied deny-ingress rule (priority %d)", impliedDenyPriority)
	}
	verb := "denied"
	if v.Allowed {
		verb = "allowed"
	}
	return fmt.Sprintf("%s by %s (priority %d)", verb, v.Rule.Name, v.Rule.Priority)
}

// EvaluateIngress decides whether the VPC firewall lets a new flow into the
// target instance, as the compute API reference describes firewall rules:
//
//   - only enabled INGRESS rules (an empty direction is INGRESS) of the
//     target's network (its first network interface) count;
//   - a rule applies when the target has one of its targetTags or
//     targetServiceAccounts (neither set: every instance), the source is in
//     its sourceRanges or is an instance with one of its sourceTags or
//     sourceServiceAccounts (none of the three set: 0.0.0.0/0), the
//     destination is in its destinationRanges (when set), and one of its
//     allowed or denied entries names the protocol ("all" names every one)
//     and the port (an entry without ports covers all of them);
//   - of the rules that apply, the one with the lowest priority number
//     decides, and at equal priority a deny rule wins over an allow rule;
//   - none applies: the implied rule denies.
//
// source is the instance the packet comes from, or nil. Source tags and
// service accounts match only a packet whose source address is that
// instance's primary internal address (IPv4 or IPv6), not an alias range
// and not an address it NATs or forwards for others.
//
// A priority of 0 is taken as 0 (the highest precedence), as the API
// reports it; the Go client cannot send 0, so a rule written through it
// gets the default 1000.
func EvaluateIngress(rules []*compute.Firewall, pkt Packet, target, source *compute.Instance) FirewallVerdict {
	for _, fw := range byPrecedence(rules) {
		if appliesTo(fw, pkt, target, source) {
			return FirewallVerdict{Allowed: len(fw.Allowed) > 0, Rule: fw}
		}
	}
	return FirewallVerdict{}
}

// byPrecedence orders rules as the firewall consults them: by priority,
// deny before allow at equal priority, then by name so that the rule a
// verdict names does not depend on the order of a list.
func byPrecedence(rules []*compute.Firewall) []*compute.Firewall {
	out := slices.Clone(rules)
	slices.SortStableFunc(out, func(a, b *compute.Firewall) int {
		if c := cmp.Compare(a.Priority, b.Priority); c != 0 {
			return c
		}
		if ad, bd := isDeny(a), isDeny(b); ad != bd {
			if ad {
				return -1
			}
			return 1
		}
		return strings.Compare(a.Name, b.Name)
	})
	return out
}

func isDeny(fw *compute.Firewall) bool { return len(fw.Denied) > 0 }

// appliesTo reports whether a rule decides for the packet.
func appliesTo(fw *compute.Firewall, pkt Packet, target, source *compute.Instance) bool {
	return fw != nil && !fw.Disabled && isIngress(fw) && onNetworkOf(fw, target) && targets(fw, target) &&
		fromSource(fw, pkt.Src, source) && toDestination(fw, pkt.Dst.Addr()) && coversProtocolPort(fw, pkt)
}

func isIngress(fw *compute.Firewall) bool {
	return fw.Direction == "" || strings.EqualFold(fw.Direction, "INGRESS")
}

func onNetworkOf(fw *compute.Firewall, target *compute.Instance) bool {
	nic := primaryInterface(target)
	return nic != nil && ownership.SameLink(fw.Network, nic.Network)
}

// targets: targetTags or targetServiceAccounts name the instance, or the
// rule names neither and applies to every instance of the network.
func targets(fw *compute.Firewall, target *compute.Instance) bool {
	if len(fw.TargetTags) == 0 && len(fw.TargetServiceAccounts) == 0 {
		return true
	}
	return overlaps(fw.TargetTags, tagsOf(target)) || overlaps(fw.TargetServiceAccounts, serviceAccountsOf(target))
}

// fromSource: the source address is in sourceRanges, or the packet comes
// from the primary address of an instance named by sourceTags or
// sourceServiceAccounts. A rule with none of the three has the API's
// default source, 0.0.0.0/0.
func fromSource(fw *compute.Firewall, src netip.Addr, source *compute.Instance) bool {
	ranges := fw.SourceRanges
	if len(ranges) == 0 && len(fw.SourceTags) == 0 && len(fw.SourceServiceAccounts) == 0 {
		ranges = []string{"0.0.0.0/0"}
	}
	if inRanges(src, ranges) {
		return true
	}
	if source == nil || !isPrimaryAddress(source, src) {
		return false
	}
	return overlaps(fw.SourceTags, tagsOf(source)) || overlaps(fw.SourceServiceAccounts, serviceAccountsOf(source))
}

func toDestination(fw *compute.Firewall, dst netip.Addr) bool {
	return len(fw.DestinationRanges) == 0 || inRanges(dst, fw.DestinationRanges)
}

// coversProtocolPort: one of the rule's entries (allowed or denied) names
// the packet's protocol and port.
func coversProtocolPort(fw *compute.Firewall, pkt Packet) bool {
	for _, e := range entriesOf(fw) {
		if entryCovers(e.protocol, e.ports, pkt) {
			return true
		}
	}
	return false
}

type entry struct {
	protocol string
	ports    []string
}

func entriesOf(fw *compute.Firewall) []entry {
	var out []entry
	for _, a := range fw.Allowed {
		if a != nil {
			out = append(out, entry{a.IPProtocol, a.Ports})
		}
	}
	for _, d := range fw.Denied {
		if d != nil {
			out = append(out, entry{d.IPProtocol, d.Ports})
		}
	}
	return out
}

// entryCovers: the entry names the packet's protocol ("all" names every
// one) and, for a protocol with ports, its destination port (no ports: all
// of them). Ports listed for a protocol without ports do not narrow it.
func entryCovers(protocol string, ports []string, pkt Packet) bool {
	got, err := protoport.ParseProtocol(protocol)
	if err != nil {
		return false
	}
	if got.All {
		return true
	}
	want, err := protoport.ParseProtocol(pkt.Protocol)
	if err != nil || want.All || want.Number != got.Number {
		return false
	}
	if len(ports) == 0 || !want.HasPorts() {
		return true
	}
	ranges, err := protoport.ParsePorts(ports)
	if err != nil {
		// The API refuses such an entry; one that got in anyway covers
		// nothing.
		return false
	}
	return slices.ContainsFunc(ranges, func(r protoport.PortRange) bool { return r.Contains(pkt.Dst.Port()) })
}

// inRanges: addr is in one of the CIDR ranges (a bare address is a host
// range). Ranges of the other IP family never match.
func inRanges(addr netip.Addr, ranges []string) bool {
	addr = addr.Unmap()
	for _, r := range ranges {
		if p, ok := parseRange(r); ok && p.Contains(addr) {
			return true
		}
	}
	return false
}

func parseRange(s string) (netip.Prefix, bool) {
	s = strings.TrimSpace(s)
	if p, err := netip.ParsePrefix(s); err == nil {
		return p.Masked(), true
	}
	if a, err := netip.ParseAddr(s); err == nil {
		return netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()), true
	}
	return netip.Prefix{}, false
}

func overlaps(a, b []string) bool {
	for _, x := range a {
		if slices.Contains(b, x) {
			return true
		}
	}
	return false
}

func tagsOf(inst *compute.Instance) []string {
	if inst == nil || inst.Tags == nil {
		return nil
	}
	return inst.Tags.Items
}

func serviceAccountsOf(inst *compute.Instance) []string {
	if inst == nil {
		return nil
	}
	var out []string
	for _, sa := range inst.ServiceAccounts {
		if sa != nil {
			out = append(out, sa.Email)
		}
	}
	return out
}

// EvaluateEgress decides whether the VPC firewall lets a new flow leave
// the source instance (https://cloud.google.com/firewall/docs/firewalls,
// "Implied rules" and "Direction of connection"):
//
//   - only enabled EGRESS rules of the instance's network count;
//   - a rule applies when the instance has one of its targetTags or
//     targetServiceAccounts (neither set: every instance), the source
//     address is in its sourceRanges (when set), the destination is in its
//     destinationRanges (none set: every destination, 0.0.0.0/0 and ::/0),
//     and one of its entries names the protocol and port;
//   - precedence as for ingress (the lowest priority number, deny before
//     allow at equal priority);
//   - none applies: the implied allow-egress rule (priority 65535).
//
// Replies of a flow the firewall let in pass without a rule: it is stateful.
func EvaluateEgress(rules []*compute.Firewall, pkt Packet, source *compute.Instance) FirewallVerdict {
	for _, fw := range byPrecedence(rules) {
		if fw == nil || fw.Disabled || !strings.EqualFold(fw.Direction, "EGRESS") || !onNetworkOf(fw, source) || !targets(fw, source) {
			continue
		}
		if len(fw.SourceRanges) > 0 && !inRanges(pkt.Src, fw.SourceRanges) {
			continue
		}
		if toDestination(fw, pkt.Dst.Addr()) && coversProtocolPort(fw, pkt) {
			return FirewallVerdict{Allowed: len(fw.Allowed) > 0, Rule: fw}
		}
	}
	return FirewallVerdict{Allowed: true}
}
