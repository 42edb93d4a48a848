package nodeip

import (
	"net/netip"
	"slices"
	"strings"

	v1 "k8s.io/api/core/v1"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/providers/gce/annotations"
)

// ruleFamilies are the IP families a Service has a firewall rule of, in
// the order of its rules: the compute API refuses a rule that mixes IPv4
// and IPv6 ranges, so a dual-stack Service has one rule per family.
var ruleFamilies = []v1.IPFamily{v1.IPv4Protocol, v1.IPv6Protocol}

// anywhere is the whole address space of a family.
var anywhere = map[v1.IPFamily]netip.Prefix{
	v1.IPv4Protocol: netip.MustParsePrefix("0.0.0.0/0"),
	v1.IPv6Protocol: netip.MustParsePrefix("::/0"),
}

// sourcesByFamily splits where clients may come from by IP family.
//
// The Service's own ranges (fromService: spec.loadBalancerSourceRanges or
// the annotation) are taken as they are: a family they name no range of
// gets none, since the user said where clients come from and named none of
// that family. The cloud config's default is taken the same way, except
// that the whole space of one family (0.0.0.0/0 or ::/0) in it means
// anywhere in the other too: the built-in default, 0.0.0.0/0, lets IPv6
// clients of a dual-stack Service in as well, while a default narrowed to
// some IPv4 ranges does not open IPv6 to the world. It is pure.
func sourcesByFamily(ranges []netip.Prefix, fromService bool) map[v1.IPFamily][]netip.Prefix {
	out := map[v1.IPFamily][]netip.Prefix{}
	open := false
	for _, r := range ranges {
		fam := familyOf(r.Addr())
		out[fam] = append(out[fam], r)
		open = open || r.Bits() == 0
	}
	if !fromService && open {
		for _, fam := range ruleFamilies {
			if len(out[fam]) == 0 {
				out[fam] = []netip.Prefix{anywhere[fam]}
			}
		}
	}
	return out
}

// servedFamilies are the Service's IP families that clients may come from;
// an error when there is none, which names where the ranges came from.
// A dual-stack Service with the ranges of one family only is served in
// that family alone: the other's addresses are not published, since no
// rule would let a client reach them.
func servedFamilies(svc *v1.Service, families []v1.IPFamily, sources map[v1.IPFamily][]netip.Prefix, fromService bool) ([]v1.IPFamily, error) {
	out := slices.DeleteFunc(slices.Clone(families), func(f v1.IPFamily) bool { return len(sources[f]) == 0 })
	if len(out) > 0 {
		return out, nil
	}
	field := "[load-balancer] nodeip-source-ranges"
	switch {
	case fromService && len(svc.Spec.LoadBalancerSourceRanges) > 0:
		field = "spec.loadBalancerSourceRanges"
	case fromService:
		field = annotations.SourceRanges
	}
	var given []string
	for _, f := range ruleFamilies {
		for _, r := range sources[f] {
			given = append(given, r.String())
		}
	}
	var want []string
	for _, f := range families {
		want = append(want, string(f))
	}
	return nil, &annotations.Error{Annotation: field, Value: strings.Join(given, ","),
		Problem: "has no range of the Service's IP families (" + strings.Join(want, ", ") + "), so no client could reach it: add a range of one of them"}
}
