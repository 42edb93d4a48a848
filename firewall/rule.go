package firewall

import (
	"cmp"
	"net/netip"
	"slices"
	"strings"

	"google.golang.org/api/compute/v1"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/firewall/protoport"
)

// Directions of a rule, as the API spells them.
const (
	Ingress = "INGRESS"
	Egress  = "EGRESS"
)

// DefaultPriority is the priority the API gives a rule that sends none.
const DefaultPriority = 1000

// anywhere is the range the API fills in for an ingress rule without a
// source, or an egress rule without a destination.
const anywhere = "0.0.0.0/0"

// Rule is one VPC firewall rule as this project sees it: the fields it
// writes. It is a value: builders return it, Diff compares it.
type Rule struct {
	Name string
	// Network is the full link of the rule's network
	// (https://www.googleapis.com/compute/v1/projects/p/global/networks/n).
	Network string
	// Direction is Ingress or Egress; empty means Ingress.
	Direction string
	// Priority is from 1 to 65535; 0 means DefaultPriority.
	Priority          int64
	SourceRanges      []string
	DestinationRanges []string
	TargetTags        []string
	Allowed           []Allow
	// Description carries the ownership marker; callers build it with
	// ownership.Cluster.Description.
	Description string
}

// Allow lets one protocol in, on some ports ("80", "30000-32767") or, with
// no ports, on all of them.
type Allow struct {
	Protocol string
	Ports    []string
}

// FromFirewall reads the fields of an API firewall rule that a Rule holds.
// Fields a Rule does not hold (denied, sourceTags, service accounts,
// disabled) are dropped; Diff looks at them on the API object itself.
func FromFirewall(fw *compute.Firewall) Rule {
	r := Rule{
		Name:              fw.Name,
		Network:           fw.Network,
		Direction:         fw.Direction,
		Priority:          fw.Priority,
		SourceRanges:      slices.Clone(fw.SourceRanges),
		DestinationRanges: slices.Clone(fw.DestinationRanges),
		TargetTags:        slices.Clone(fw.TargetTags),
		Description:       fw.Description,
	}
	for _, a := range fw.Allowed {
		if a == nil {
			continue
		}
		r.Allowed = append(r.Allowed, Allow{Protocol: a.IPProtocol, Ports: slices.Clone(a.Ports)})
	}
	return r
}

// Firewall renders the rule as the API object to insert.
func (r Rule) Firewall() *compute.Firewall {
	fw := &compute.Firewall{
		Name:              r.Name,
		Network:           r.Network,
		Direction:         r.Direction,
		Priority:          r.Priority,
		SourceRanges:      slices.Clone(r.SourceRanges),
		DestinationRanges: slices.Clone(r.DestinationRanges),
		TargetTags:        slices.Clone(r.TargetTags),
		Description:       r.Description,
	}
	for _, a := range r.Allowed {
		fw.Allowed = append(fw.Allowed, &compute.FirewallAllowed{IPProtocol: a.Protocol, Ports: slices.Clone(a.Ports)})
	}
	return fw
}

// Normalize returns the canonical form of a rule, so that two rules that the
// API treats the same compare equal:
//
//   - an empty direction is Ingress and a zero priority is DefaultPriority
//     (the API's defaults; the Go client leaves a zero priority out, so 0
//     cannot be asked for);
//   - an ingress rule without source ranges gets 0.0.0.0/0 and an egress rule
//     without destination ranges too, as the API fills them in (a Rule has no
//     source tags or service accounts that would stop it);
//   - ranges have their host bits cleared (10.1.2.3/8 is 10.0.0.0/8, a bare
//     address is a /32 or /128), and are sorted and de-duplicated;
//   - target tags are sorted and de-duplicated;
//   - protocols are lower-cased, entries of one protocol merged and sorted;
//     an entry without ports opens every port and absorbs the others;
//   - ports are sorted numerically and merged into ranges: 80, 81, 82 is
//     80-82, and 80 with 80-90 is 80-90.
//
// Values it cannot parse are kept as they are, for the API to refuse.
func Normalize(r Rule) Rule {
	out := r
	out.Direction = strings.ToUpper(strings.TrimSpace(r.Direction))
	if out.Direction == "" {
		out.Direction = Ingress
	}
	if out.Priority == 0 {
		out.Priority = DefaultPriority
	}
	out.SourceRanges = normalizeRanges(r.SourceRanges)
	out.DestinationRanges = normalizeRanges(r.DestinationRanges)
	if out.Direction == Ingress && len(out.SourceRanges) == 0 {
		out.SourceRanges = []string{anywhere}
	}
	if out.Direction == Egress && len(out.DestinationRanges) == 0 {
		out.DestinationRanges = []string{anywhere}
	}
	out.TargetTags = sortedUnique(r.TargetTags)
	out.Allowed = normalizeAllowed(r.Allowed)
	return out
}

func sortedUnique(ss []string) []string {
	if len(ss) == 0 {
		return nil
	}
	out := slices.Clone(ss)
	slices.Sort(out)
	return slices.Compact(out)
}

// normalizeRanges canonicalises CIDR ranges and sorts them by address, then
// prefix length; strings that are no range come last.
func normalizeRanges(ranges []string) []string {
	if len(ranges) == 0 {
		return nil
	}
	out := make([]string, 0, len(ranges))
	for _, s := range ranges {
		out = append(out, canonicalRange(s))
	}
	slices.SortFunc(out, compareRanges)
	return slices.Compact(out)
}

func canonicalRange(s string) string {
	s = strings.TrimSpace(s)
	if p, err := netip.ParsePrefix(s); err == nil {
		return p.Masked().String()
	}
	if a, err := netip.ParseAddr(s); err == nil && a.Zone() == "" {
		return netip.PrefixFrom(a, a.BitLen()).String()
	}
	return s
}

func compareRanges(a, b string) int {
	pa, errA := netip.ParsePrefix(a)
	pb, errB := netip.ParsePrefix(b)
	switch {
	case errA == nil && errB == nil:
		if c := pa.Addr().Compare(pb.Addr()); c != 0 {
			return c
		}
		return cmp.Compare(pa.Bits(), pb.Bits())
	case errA == nil:
		return -1
	case errB == nil:
		return 1
	}
	return strings.Compare(a, b)
}

// normalizeAllowed merges the entries of each protocol and sorts them.
func normalizeAllowed(allowed []Allow) []Allow {
	if len(allowed) == 0 {
		return nil
	}
	type acc struct {
		allPorts bool
		ports    []string
	}
	byProto := map[string]*acc{}
	for _, a := range allowed {
		proto := strings.ToLower(strings.TrimSpace(a.Protocol))
		e := byProto[proto]
		if e == nil {
			e = &acc{}
			byProto[proto] = e
		}
		if len(a.Ports) == 0 {
			e.allPorts = true
		}
		e.ports = append(e.ports, a.Ports...)
	}
	out := make([]Allow, 0, len(byProto))
	for proto, e := range byProto {
		a := Allow{Protocol: proto}
		if !e.allPorts {
			a.Ports = normalizePorts(e.ports)
		}
		out = append(out, a)
	}
	slices.SortFunc(out, func(a, b Allow) int { return strings.Compare(a.Protocol, b.Protocol) })
	return out
}

// normalizePorts sorts ports numerically and merges overlapping and adjacent
// ones into ranges. Strings that are no port come last, as they are.
func normalizePorts(ports []string) []string {
	var ranges []protoport.PortRange
	var rest []string
	for _, p := range ports {
		// Spaces around a port are trimmed, as around a protocol or a range.
		r, err := protoport.ParsePortRange(strings.TrimSpace(p))
		if err != nil {
			rest = append(rest, p)
			continue
		}
		ranges = append(ranges, r)
	}
	slices.SortFunc(ranges, func(a, b protoport.PortRange) int {
		return cmp.Or(cmp.Compare(a.First, b.First), cmp.Compare(a.Last, b.Last))
	})
	var merged []protoport.PortRange
	for _, r := range ranges {
		// In int: the last range may end at 65535, which uint16 cannot pass.
		if n := len(merged); n > 0 && int(r.First) <= int(merged[n-1].Last)+1 {
			merged[n-1].Last = max(merged[n-1].Last, r.Last)
			continue
		}
		merged = append(merged, r)
	}
	var out []string
	for _, r := range merged {
		out = append(out, r.String())
	}
	return append(out, sortedUnique(rest)...)
}
