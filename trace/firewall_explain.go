package trace

import (
	"fmt"
	"strings"

	"google.golang.org/api/compute/v1"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/ownership"
)

// missKind is the criterion of EvaluateIngress a rule fails.
type missKind int

const (
	missDisabled missKind = iota
	missDirection
	missNetwork
	missTarget
	missSource
	missDestination
	missProtocolPort
)

// miss is one criterion a rule fails, and the words that say so.
type miss struct {
	kind missKind
	text string
}

// firewallMisses says why a rule does not let the packet into the target:
// each criterion of EvaluateIngress it fails, in words ("lists destination
// 10.128.0.3 only"), in the order the criteria are listed there. It is
// empty when the rule applies.
func firewallMisses(fw *compute.Firewall, pkt Packet, target, source *compute.Instance) []miss {
	var out []miss
	if fw.Disabled {
		out = append(out, miss{missDisabled, "is disabled"})
	}
	if !isIngress(fw) {
		out = append(out, miss{missDirection, "is an egress rule"})
	}
	if !onNetworkOf(fw, target) {
		out = append(out, miss{missNetwork, "is on network " + ownership.LastSegment(fw.Network)})
	}
	if !targets(fw, target) {
		has := "has none"
		if tags := tagsOf(target); len(tags) > 0 {
			has = "has " + strings.Join(tags, ", ")
		}
		out = append(out, miss{missTarget, fmt.Sprintf("targets %s (the instance %s)", targetsOf(fw), has)})
	}
	if !fromSource(fw, pkt.Src, source) {
		out = append(out, miss{missSource, "allows sources " + sourcesOf(fw) + " only"})
	}
	if !toDestination(fw, pkt.Dst.Addr()) {
		noun := "destination"
		if len(fw.DestinationRanges) > 1 {
			noun = "destinations"
		}
		out = append(out, miss{missDestination, "lists " + noun + " " + strings.Join(hostRanges(fw.DestinationRanges), ", ") + " only"})
	}
	if !coversProtocolPort(fw, pkt) {
		verb := "allows"
		if isDeny(fw) {
			verb = "denies"
		}
		out = append(out, miss{missProtocolPort, verb + " " + entriesText(fw) + " only"})
	}
	return out
}

// missTexts are the words of misses, joined by "and".
func missTexts(ms []miss) string {
	var out []string
	for _, m := range ms {
		out = append(out, m.text)
	}
	return strings.Join(out, " and ")
}

// packetText is "tcp:80 from 198.51.100.10 to 10.128.0.3".
func packetText(pkt Packet) string {
	return fmt.Sprintf("%s:%d from %s to %s", strings.ToLower(pkt.Protocol), pkt.Dst.Port(), pkt.Src, pkt.Dst.Addr())
}

func targetsOf(fw *compute.Firewall) string {
	var parts []string
	if len(fw.TargetTags) > 0 {
		parts = append(parts, "tags "+strings.Join(fw.TargetTags, ", "))
	}
	if len(fw.TargetServiceAccounts) > 0 {
		parts = append(parts, "service accounts "+strings.Join(fw.TargetServiceAccounts, ", "))
	}
	return strings.Join(parts, " and ")
}

func sourcesOf(fw *compute.Firewall) string {
	var parts []string
	if len(fw.SourceRanges) > 0 {
		parts = append(parts, strings.Join(fw.SourceRanges, ", "))
	}
	if len(fw.SourceTags) > 0 {
		parts = append(parts, "instances tagged "+strings.Join(fw.SourceTags, ", "))
	}
	if len(fw.SourceServiceAccounts) > 0 {
		parts = append(parts, "instances of "+strings.Join(fw.SourceServiceAccounts, ", "))
	}
	if len(parts) == 0 {
		return "0.0.0.0/0"
	}
	return strings.Join(parts, " and ")
}

// hostRanges writes single-address ranges as addresses.
func hostRanges(ranges []string) []string {
	out := make([]string, 0, len(ranges))
	for _, r := range ranges {
		if p, ok := parseRange(r); ok && p.IsSingleIP() {
			out = append(out, p.Addr().String())
			continue
		}
		out = append(out, r)
	}
	return out
}

// entriesText is "tcp:80,443, udp" (a protocol without ports: all of them).
func entriesText(fw *compute.Firewall) string {
	var parts []string
	for _, e := range entriesOf(fw) {
		s := strings.ToLower(e.protocol)
		if len(e.ports) > 0 {
			s += ":" + strings.Join(e.ports, ",")
		}
		parts = append(parts, s)
	}
	if len(parts) == 0 {
		return "nothing"
	}
	return strings.Join(parts, ", ")
}
