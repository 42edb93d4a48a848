package firewall

import (
	"net/netip"
	"slices"
	"strings"
)

// Family is the IP family of a rule's ranges: the compute API refuses a
// rule that mixes IPv4 and IPv6 ranges, so a dual-stack Service has one
// rule per family. The values are those of a Kubernetes Service's
// spec.ipFamilies, so that callers convert with Family(f).
type Family string

// The two families.
const (
	IPv4 Family = "IPv4"
	IPv6 Family = "IPv6"
)

// Families are both families, in the order a Service's rules are built.
var Families = []Family{IPv4, IPv6}

// FamilyOf is the family of an address.
func FamilyOf(a netip.Addr) Family {
	if a.Is4() {
		return IPv4
	}
	return IPv6
}

// anywhereOf is the whole address space of a family.
var anywhereOf = map[Family]netip.Prefix{
	IPv4: netip.MustParsePrefix("0.0.0.0/0"),
	IPv6: netip.MustParsePrefix("::/0"),
}

// Anywhere is the whole address space of a family: 0.0.0.0/0 or ::/0.
func Anywhere(f Family) netip.Prefix { return anywhereOf[f] }

// JoinPrefixes lists prefixes as a user writes them, comma-separated.
func JoinPrefixes(ps []netip.Prefix) string {
	out := make([]string, 0, len(ps))
	for _, p := range ps {
		out = append(out, p.String())
	}
	return strings.Join(out, ", ")
}

// Sources are where a Service's clients may come from, by IP family. A
// family without a range gets no client rule at all: the API reads an
// ingress rule without sources as open to 0.0.0.0/0 (see Normalize), so
// an empty rule would let everyone in.
type Sources map[Family][]netip.Prefix

// Closed are the families, of those given, that no client may come from.
func (s Sources) Closed(families []Family) []Family {
	var out []Family
	for _, f := range families {
		if len(s[f]) == 0 {
			out = append(out, f)
		}
	}
	return out
}

// Narrowing is a range a Service asked for that the allowed ranges cut:
// Kept is what is left of it (none when it lies wholly outside them).
type Narrowing struct {
	Requested netip.Prefix
	Kept      []netip.Prefix
}

// ClientSources decides where a Service's clients may come from, for
// both load balancer modes: one rule, so that the modes cannot disagree.
//
// requested are the Service's own ranges (spec.loadBalancerSourceRanges or
// its annotation), nil when it names none. allowed are the operator's
// ceiling, nil when there is none (anywhere).
//
//   - A Service that names no range gets the ceiling. The whole space of
//     one family in it (0.0.0.0/0 or ::/0) means anywhere in the other too,
//     so that the default 0.0.0.0/0 serves the IPv6 clients of a
//     dual-stack Service, while a ceiling narrowed to some IPv4 ranges does
//     not open IPv6 to the world.
//   - A Service that names ranges gets them, intersected prefix by prefix
//     with the ceiling's ranges of the same family. A family it names no
//     range of gets none: the user said where clients come from and named
//     none of that family.
//
// The ranges the ceiling cut are returned too, for the Service's
// condition. It is pure.
func ClientSources(requested, allowed []netip.Prefix) (Sources, []Narrowing) {
	ceiling := Sources{IPv4: {anywhereOf[IPv4]}, IPv6: {anywhereOf[IPv6]}}
	if allowed != nil {
		ceiling = Sources{}
		open := false
		for _, p := range allowed {
			p = p.Masked()
			ceiling[FamilyOf(p.Addr())] = append(ceiling[FamilyOf(p.Addr())], p)
			open = open || p.Bits() == 0
		}
		for _, f := range Families {
			if open && len(ceiling[f]) == 0 {
				ceiling[f] = []netip.Prefix{anywhereOf[f]}
			}
		}
	}
	if len(requested) == 0 {
		return ceiling, nil
	}
	out := Sources{}
	var narrowed []Narrowing
	for _, r := range requested {
		r = r.Masked()
		f := FamilyOf(r.Addr())
		kept, whole := intersect(r, ceiling[f])
		if !whole {
			narrowed = append(narrowed, Narrowing{Requested: r, Kept: kept})
		}
		for _, k := range kept {
			if !slices.Contains(out[f], k) {
				out[f] = append(out[f], k)
			}
		}
	}
	return out, narrowed
}

// intersect is what of r lies in the ranges of its family, and whether
// that is all of r. Two prefixes either nest or do not overlap, so the
// intersection of r with one range is the longer of the two or nothing.
func intersect(r netip.Prefix, ranges []netip.Prefix) (kept []netip.Prefix, whole bool) {
	for _, c := range ranges {
		if c.Bits() <= r.Bits() && c.Contains(r.Addr()) {
			return []netip.Prefix{r}, true
		}
	}
	for _, c := range ranges {
		if r.Contains(c.Addr()) && !slices.ContainsFunc(kept, func(k netip.Prefix) bool { return k.Bits() <= c.Bits() && k.Contains(c.Addr()) }) {
			kept = slices.DeleteFunc(kept, func(k netip.Prefix) bool { return c.Bits() <= k.Bits() && c.Contains(k.Addr()) })
			kept = append(kept, c)
		}
	}
	return kept, covers(r, kept)
}

// covers reports whether the prefixes, each inside r and none inside
// another, cover all of r (as 10.0.0.0/9 and 10.128.0.0/9 cover
// 10.0.0.0/8).
func covers(r netip.Prefix, parts []netip.Prefix) bool {
	if len(parts) == 0 {
		return false
	}
	if slices.Contains(parts, r) {
		return true
	}
	if r.Bits() >= r.Addr().BitLen() {
		return false
	}
	lo, hi := halves(r)
	in := func(h netip.Prefix) []netip.Prefix {
		return slices.DeleteFunc(slices.Clone(parts), func(p netip.Prefix) bool { return !(h.Bits() <= p.Bits() && h.Contains(p.Addr())) })
	}
	return covers(lo, in(lo)) && covers(hi, in(hi))
}

// halves are the two prefixes one bit longer that make up r.
func halves(r netip.Prefix) (lo, hi netip.Prefix) {
	b := r.Addr().AsSlice()
	b[r.Bits()/8] |= 0x80 >> (r.Bits() % 8)
	upper, _ := netip.AddrFromSlice(b)
	return netip.PrefixFrom(r.Addr(), r.Bits()+1), netip.PrefixFrom(upper, r.Bits()+1)
}
