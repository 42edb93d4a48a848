package dataplane

import (
	"cmp"
	"slices"
	"strings"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/firewall/protoport"
)

// entryProtocol reads a firewall entry's IPProtocol as the trace and
// fake-gce do (package protoport); ok is false for one the API refuses.
func entryProtocol(s string) (p protoport.Protocol, ok bool) {
	p, err := protoport.ParseProtocol(s)
	return p, err == nil
}

// forwardingProtocol reads a forwarding rule's IPProtocol: TCP when none is
// given (the API's default), L3_DEFAULT for every protocol, else a name
// (upper case in forwarding rules) or a number as in a firewall entry.
func forwardingProtocol(s string) (protoport.Protocol, bool) {
	switch strings.ToUpper(s) {
	case "":
		return protoport.Protocol{Number: protoport.TCP, Name: "tcp"}, true
	case "L3_DEFAULT":
		return protoport.Protocol{All: true}, true
	}
	return entryProtocol(s)
}

// planProtocol is p as the plan holds it: 0 for every protocol.
func planProtocol(p protoport.Protocol) Protocol {
	if p.All {
		return 0
	}
	return Protocol(p.Number)
}

// sortedPorts reads port specs ("80", "8000-9000") into ranges sorted by
// their first port; nil specs mean every port. ok is false when a spec is
// malformed.
func sortedPorts(specs []string) ([]PortRange, bool) {
	ranges, err := protoport.ParsePorts(specs)
	if err != nil {
		return nil, false
	}
	var out []PortRange
	for _, r := range ranges {
		out = append(out, PortRange(r))
	}
	slices.SortFunc(out, func(a, b PortRange) int { return cmp.Compare(a.First, b.First) })
	return out, true
}
