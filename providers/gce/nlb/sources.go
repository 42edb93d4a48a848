package nlb

import (
	"strings"

	v1 "k8s.io/api/core/v1"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/firewall"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/providers/gce/annotations"
)

// Reasons of a SourcesNote.
const (
	// ReasonIPFamilyClosed: the Service's source ranges name none of one of
	// its IP families, so that family's address has no client rule.
	ReasonIPFamilyClosed = "IPFamilyClosed"
	// ReasonNoClientSource: they name none of any of its families, so no
	// client may connect at all.
	ReasonNoClientSource = "NoClientSource"
)

// SourcesNote is what the Service's source ranges leave closed, for its
// condition and a Warning event; the zero value when nothing is.
type SourcesNote struct {
	Reason  string
	Message string
	// Blocking: no client may connect at all; the Service's condition is
	// False, though its load balancer is as asked.
	Blocking bool
}

// SourcesNoteOf says which of the Service's IP families its source ranges
// leave without clients (firewall.ClientSources: the firewall rules of
// those families are not made). A Service that names no range is open to
// everyone and has no note; a bad range is Desire's to report. It is pure.
func SourcesNoteOf(svc *v1.Service) SourcesNote {
	ranges, err := annotations.SourceRangesOf(svc, nil)
	if err != nil || len(ranges) == 0 {
		return SourcesNote{}
	}
	families := svc.Spec.IPFamilies
	if len(families) == 0 {
		families = []v1.IPFamily{v1.IPv4Protocol}
	}
	var fams []firewall.Family
	for _, f := range families {
		fams = append(fams, firewall.Family(f))
	}
	sources, _ := firewall.ClientSources(ranges, nil)
	closed := sources.Closed(fams)
	field := annotations.SourceRangesField(svc)
	switch {
	case len(closed) == 0:
		return SourcesNote{}
	case len(closed) == len(fams):
		return SourcesNote{Reason: ReasonNoClientSource, Blocking: true, Message: field + " (" + firewall.JoinPrefixes(ranges) +
			") names no range of the Service's IP families (" + joinFamilies(closed) +
			"), so no client may connect: the load balancer has no firewall rule for clients. Add a range of one of them."}
	}
	return SourcesNote{Reason: ReasonIPFamilyClosed, Message: "No " + joinFamilies(closed) + " client may connect: " + field +
		" names no " + joinFamilies(closed) + " range, so the load balancer's " + joinFamilies(closed) +
		" address has no firewall rule for clients. Add one (" + firewall.Anywhere(closed[0]).String() + " for everyone) to let them in."}
}

func joinFamilies(fs []firewall.Family) string {
	var out []string
	for _, f := range fs {
		out = append(out, string(f))
	}
	return strings.Join(out, " or ")
}
