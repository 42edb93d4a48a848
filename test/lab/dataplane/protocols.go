package dataplane

import (
	"slices"
	"strconv"
	"strings"
)

// protocolNumbers are the protocol names the compute API accepts, in
// firewall rules (lower case) and forwarding rules (upper case).
var protocolNumbers = map[string]Protocol{
	"all": 0, "l3_default": 0,
	"icmp": 1, "ipip": 4, "tcp": 6, "udp": 17, "esp": 50, "ah": 51, "sctp": 132,
}

// parseProtocol reads a protocol name or number; ok is false for neither.
func parseProtocol(s string) (p Protocol, ok bool) {
	if p, ok := protocolNumbers[strings.ToLower(s)]; ok {
		return p, true
	}
	n, err := strconv.ParseUint(s, 10, 8)
	return Protocol(n), err == nil
}

// hasPorts reports whether a protocol carries ports a rule can match on.
func (p Protocol) hasPorts() bool { return p == 6 || p == 17 || p == 132 }

// parsePorts reads port specs ("80", "8000-9000") into sorted ranges; nil
// specs mean every port. ok is false when a spec is malformed.
func parsePorts(specs []string) (out []PortRange, ok bool) {
	for _, s := range specs {
		r, ok := parsePortRange(s)
		if !ok {
			return nil, false
		}
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b PortRange) int { return int(a.First) - int(b.First) })
	return out, true
}

func parsePortRange(s string) (PortRange, bool) {
	first, last, isRange := strings.Cut(s, "-")
	if !isRange {
		last = first
	}
	f, err1 := strconv.ParseUint(first, 10, 16)
	l, err2 := strconv.ParseUint(last, 10, 16)
	if err1 != nil || err2 != nil || f == 0 || l < f {
		return PortRange{}, false
	}
	return PortRange{First: uint16(f), Last: uint16(l)}, true
}
