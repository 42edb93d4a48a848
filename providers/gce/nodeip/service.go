package nodeip

import (
	"net/netip"
	"slices"
	"strings"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/firewall"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/providers/gce/annotations"
)

// Finalizer keeps a Service of the nodeip class until its firewall rules are
// gone. The service controller (servicecontroller) ignores Services with a class, so
// this controller manages it; class-less Services in nodeip mode carry the
// upstream finalizer instead, whose cleanup (EnsureLoadBalancerDeleted)
// removes the rules.
const Finalizer = annotations.Prefix + "nodeip-cleanup"

// role is what the controller does with a Service.
type role int

const (
	// ignore: another class's Service, or one whose mode cannot be told.
	ignore role = iota
	// serve: publish node addresses and keep the firewall rules.
	serve
	// release: not (or no longer) served: external mode, not type
	// LoadBalancer, or being deleted. Whatever this controller left on it
	// (node addresses, the firewall rules, the finalizer) is taken back.
	release
)

// roleOf says what to do with svc. A class-less Service whose mode
// annotation is bad is left alone (the provider reports the bad value):
// guessing could take down a working load balancer.
func roleOf(svc *v1.Service, defaultMode string) role {
	if isNodeIPClass(svc) {
		if svc.DeletionTimestamp == nil && svc.Spec.Type == v1.ServiceTypeLoadBalancer {
			return serve
		}
		return release
	}
	if svc.Spec.LoadBalancerClass != nil {
		return ignore // another implementation's; it never was ours (a class is immutable)
	}
	mode, err := annotations.ModeOf(svc, defaultMode)
	if err != nil {
		return ignore
	}
	if mode == annotations.ModeNodeIP && svc.DeletionTimestamp == nil && svc.Spec.Type == v1.ServiceTypeLoadBalancer {
		return serve
	}
	return release
}

func isNodeIPClass(svc *v1.Service) bool {
	return svc.Spec.LoadBalancerClass != nil && *svc.Spec.LoadBalancerClass == annotations.NodeIPClass
}

func hasFinalizer(svc *v1.Service) bool { return slices.Contains(svc.Finalizers, Finalizer) }

// settings are a Service's choices, read from its spec and annotations with
// the cloud config's defaults.
type settings struct {
	// selector is what a published node must match: the operator's
	// ceiling (nodeCeiling) and the Service's own selector, if any.
	selector labels.Selector
	// own is the Service's own selector (nil when it names none), to tell
	// it which nodes the ceiling kept out.
	own         labels.Selector
	addressType v1.NodeAddressType
	maxNodes    int // 0: no cap
	// sources are where clients may come from, by IP family.
	sources firewall.Sources
	// families are the Service's IP families (spec.ipFamilies) that
	// clients may come from: the ones published.
	families []v1.IPFamily
	local    bool // externalTrafficPolicy: Local
	// notes say what the operator's limits took from the Service's
	// request, and which of its families are closed.
	notes []note
}

// settingsOf reads the Service's settings, within the operator's limits:
// ceiling is the selector every published node must match (nodeCeiling),
// and the operator's source ranges cap the Service's. A bad value is an
// *annotations.Error that names the annotation or field.
func settingsOf(svc *v1.Service, d Defaults, ceiling labels.Selector) (settings, error) {
	s := settings{
		selector:    ceiling,
		addressType: d.AddressType,
		families:    familiesOf(svc),
		local:       svc.Spec.ExternalTrafficPolicy == v1.ServiceExternalTrafficPolicyLocal,
	}
	if s.addressType == "" {
		s.addressType = v1.NodeInternalIP
	}
	if v, ok := svc.Annotations[annotations.NodeSelector]; ok {
		sel, err := labels.Parse(v)
		if err != nil {
			return settings{}, &annotations.Error{Annotation: annotations.NodeSelector, Value: v,
				Problem: "is not a label selector such as pool=edge,zone!=us-central1-c"}
		}
		// Added to the ceiling, never put in its place: an empty selector
		// selects every node, control planes included.
		reqs, _ := sel.Requirements()
		s.own, s.selector = sel, ceiling.Add(reqs...)
	}
	if v, ok := svc.Annotations[annotations.NodeAddressType]; ok {
		switch t := strings.TrimSpace(v); {
		case strings.EqualFold(t, string(v1.NodeInternalIP)):
			s.addressType = v1.NodeInternalIP
		case strings.EqualFold(t, string(v1.NodeExternalIP)):
			s.addressType = v1.NodeExternalIP
		default:
			return settings{}, &annotations.Error{Annotation: annotations.NodeAddressType, Value: v,
				Problem: "is not a node address type: use InternalIP or ExternalIP"}
		}
	}
	var err error
	if s.maxNodes, err = annotations.MaxAddressesOf(svc); err != nil {
		return settings{}, err
	}
	if s.sources, s.families, s.notes, err = clientSources(svc, s.families, d.SourceRanges); err != nil {
		return settings{}, err
	}
	return s, nil
}

// familiesOf is spec.ipFamilies; the API server always fills it for a
// Service with a cluster IP, but a headless or hand-made object may lack
// it: then the cluster IP's family, else IPv4.
func familiesOf(svc *v1.Service) []v1.IPFamily {
	if len(svc.Spec.IPFamilies) > 0 {
		return svc.Spec.IPFamilies
	}
	if a, err := netip.ParseAddr(svc.Spec.ClusterIP); err == nil && a.Is6() && !a.Is4In6() {
		return []v1.IPFamily{v1.IPv6Protocol}
	}
	return []v1.IPFamily{v1.IPv4Protocol}
}
