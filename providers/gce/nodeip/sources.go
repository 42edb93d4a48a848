package nodeip

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	v1 "k8s.io/api/core/v1"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/firewall"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/providers/gce/annotations"
)

// ruleFamilies are the IP families a Service has a firewall rule of, in
// the order of its rules: the compute API refuses a rule that mixes IPv4
// and IPv6 ranges, so a dual-stack Service has one rule per family.
func ruleFamilies() [2]v1.IPFamily { return [2]v1.IPFamily{v1.IPv4Protocol, v1.IPv6Protocol} }

// sourceRangesKey is the cloud config key of the operator's ranges: the
// default of a Service that names none, and the ceiling of one that does.
const sourceRangesKey = "[load-balancer] nodeip-source-ranges"

// note is something a Service is told although it is served: what the
// operator's limits took from its request, or an IP family no client may
// use. It goes into the condition's message and a Warning event.
type note struct {
	Reason  string
	Message string
}

// Reasons of notes.
const (
	// ReasonNarrowed: the cluster's limits narrowed what the Service asked
	// for (its source ranges, or the nodes its selector matches).
	ReasonNarrowed = "RequestNarrowed"
	// ReasonIPFamilyClosed: one of the Service's IP families has no source
	// range, so its addresses are not published.
	ReasonIPFamilyClosed = "IPFamilyClosed"
)

// clientSources decides where the Service's clients may come from
// (firewall.ClientSources, the rule the external mode follows too: the
// operator's ranges are the default and the ceiling), which of its
// families are served, and what it is told about it. It is pure.
func clientSources(svc *v1.Service, families []v1.IPFamily, operator []netip.Prefix) (firewall.Sources, []v1.IPFamily, []note, error) {
	requested, err := annotations.SourceRangesOf(svc, nil)
	if err != nil {
		return nil, nil, nil, err
	}
	sources, narrowed := firewall.ClientSources(requested, operator)
	served, err := servedFamilies(svc, families, requested, sources, operator)
	if err != nil {
		return nil, nil, nil, err
	}
	var notes []note
	field := annotations.SourceRangesField(svc)
	if len(narrowed) > 0 {
		var parts []string
		for _, n := range narrowed {
			if len(n.Kept) == 0 {
				parts = append(parts, n.Requested.String()+" lies outside them and is left out")
				continue
			}
			parts = append(parts, n.Requested.String()+" is narrowed to "+firewall.JoinPrefixes(n.Kept))
		}
		notes = append(notes, note{Reason: ReasonNarrowed, Message: fmt.Sprintf(
			"The cluster allows clients from %s only (%s): of %s, %s.",
			firewall.JoinPrefixes(firewallCeiling(operator)), sourceRangesKey, field, strings.Join(parts, "; "))})
	}
	for _, f := range families {
		if slices.Contains(served, f) {
			continue
		}
		// Who closed it: the Service, by naming no range of the family, or
		// the operator's ranges, which have none of it.
		by := sourceRangesKey
		if slices.ContainsFunc(requested, func(p netip.Prefix) bool { return familyOf(p.Addr()) != f }) &&
			!slices.ContainsFunc(requested, func(p netip.Prefix) bool { return familyOf(p.Addr()) == f }) {
			by = field
		}
		notes = append(notes, note{Reason: ReasonIPFamilyClosed, Message: fmt.Sprintf(
			"No %s client may connect, so the nodes' %s addresses are not published: %s names no %s range.", f, f, by, f)})
	}
	return sources, served, notes, nil
}

// firewallCeiling is the operator's ranges as they cap a Service: all of
// them, or anywhere when there are none.
func firewallCeiling(operator []netip.Prefix) []netip.Prefix {
	if len(operator) == 0 {
		return []netip.Prefix{firewall.Anywhere(firewall.IPv4), firewall.Anywhere(firewall.IPv6)}
	}
	return operator
}

// servedFamilies are the Service's IP families that clients may come from;
// an error when there is none, which names where the ranges came from.
// A dual-stack Service with the ranges of one family only is served in
// that family alone: the other's addresses are not published, since no
// rule would let a client reach them.
func servedFamilies(svc *v1.Service, families []v1.IPFamily, requested []netip.Prefix, sources firewall.Sources, operator []netip.Prefix) ([]v1.IPFamily, error) {
	out := slices.DeleteFunc(slices.Clone(families), func(f v1.IPFamily) bool { return len(sources[firewall.Family(f)]) == 0 })
	if len(out) > 0 {
		return out, nil
	}
	var want []string
	for _, f := range families {
		want = append(want, string(f))
	}
	if len(requested) == 0 {
		return nil, &annotations.Error{Annotation: sourceRangesKey, Value: firewall.JoinPrefixes(operator),
			Problem: "has no range of the Service's IP families (" + strings.Join(want, ", ") + "), so no client could reach it: the cluster's operator must add one"}
	}
	field := annotations.SourceRangesField(svc)
	value := strings.ReplaceAll(firewall.JoinPrefixes(requested), ", ", ",")
	if slices.ContainsFunc(requested, func(p netip.Prefix) bool { return slices.Contains(families, familyOf(p.Addr())) }) {
		return nil, &annotations.Error{Annotation: field, Value: value,
			Problem: "lies outside the ranges the cluster allows (" + sourceRangesKey + ": " + firewall.JoinPrefixes(firewallCeiling(operator)) + "), so no client could reach it: name ranges inside them"}
	}
	return nil, &annotations.Error{Annotation: field, Value: value,
		Problem: "has no range of the Service's IP families (" + strings.Join(want, ", ") + "), so no client could reach it: add a range of one of them"}
}
