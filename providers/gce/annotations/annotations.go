// Package annotations reads the per-Service settings of the load balancers
// from a Service's annotations and spec. It only reads; a bad value is an
// *Error that names the annotation and says what to change.
package annotations

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	v1 "k8s.io/api/core/v1"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/lbcondition"
)

// Prefix is this project's annotation prefix.
const Prefix = "cloud-provider-vpc.io/"

// The annotations this project reads.
const (
	Mode            = Prefix + "load-balancer-mode"
	StaticAddress   = Prefix + "static-address"
	NodeSelector    = Prefix + "node-selector"
	NodeAddressType = Prefix + "node-address-type"
	MaxAddresses    = Prefix + "max-addresses"
	Backend         = Prefix + "backend"
	// NetworkTier is the GCE annotation, kept with its meaning.
	NetworkTier = "cloud.google.com/network-tier"
	// SourceRanges is the upstream annotation for spec.loadBalancerSourceRanges.
	SourceRanges = "service.beta.kubernetes.io/load-balancer-source-ranges"
)

// NodeIPClass is the spec.loadBalancerClass of Services served by the nodeip
// controller alone.
const NodeIPClass = Prefix + "nodeip"

// Load balancer modes.
const (
	ModeExternal = "external"
	ModeNodeIP   = "nodeip"
)

// Error is a bad per-Service setting.
type Error struct {
	Annotation string
	Value      string
	Problem    string
}

func (e *Error) Error() string {
	return fmt.Sprintf("%s: %q %s", e.Annotation, e.Value, e.Problem)
}

// ServiceProblem makes a bad setting an lbcondition.Problem: the user must
// change it.
func (e *Error) ServiceProblem() (reason, message string) {
	return lbcondition.ReasonInvalidSetting, e.Error()
}

// ModeOf is the Service's load balancer mode: the class, then the
// annotation, then the default from the cloud config.
func ModeOf(svc *v1.Service, defaultMode string) (string, error) {
	if svc.Spec.LoadBalancerClass != nil && *svc.Spec.LoadBalancerClass == NodeIPClass {
		return ModeNodeIP, nil
	}
	v, ok := svc.Annotations[Mode]
	if !ok {
		return defaultMode, nil
	}
	switch strings.ToLower(strings.TrimSpace(v)) {
	case ModeExternal:
		return ModeExternal, nil
	case ModeNodeIP:
		return ModeNodeIP, nil
	}
	return "", &Error{Annotation: Mode, Value: v, Problem: "is not a mode: use external or nodeip"}
}

// SourceRangesOf is where clients may come from: spec.loadBalancerSourceRanges,
// else the annotation, else the given default.
func SourceRangesOf(svc *v1.Service, def []netip.Prefix) ([]netip.Prefix, error) {
	field := SourceRangesField(svc)
	raw := svc.Spec.LoadBalancerSourceRanges
	if len(raw) == 0 {
		if v, ok := svc.Annotations[SourceRanges]; ok {
			for _, s := range strings.Split(v, ",") {
				if s = strings.TrimSpace(s); s != "" {
					raw = append(raw, s)
				}
			}
		}
	}
	if len(raw) == 0 {
		return def, nil
	}
	out := make([]netip.Prefix, 0, len(raw))
	for _, s := range raw {
		p, err := netip.ParsePrefix(strings.TrimSpace(s))
		if err != nil {
			return nil, &Error{Annotation: field, Value: s, Problem: "is not a CIDR range such as 203.0.113.0/24"}
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// SourceRangesField names where the Service's source ranges are read
// from, for messages: the field, or the annotation when the field is empty
// and the annotation is set (the field wins when both are).
func SourceRangesField(svc *v1.Service) string {
	if _, ok := svc.Annotations[SourceRanges]; ok && len(svc.Spec.LoadBalancerSourceRanges) == 0 {
		return SourceRanges
	}
	return "spec.loadBalancerSourceRanges"
}

// Network tiers.
const (
	TierPremium  = "PREMIUM"
	TierStandard = "STANDARD"
)

// NetworkTierOf is the Service's network tier (Premium unless it asks for Standard).
func NetworkTierOf(svc *v1.Service) (string, error) {
	v, ok := svc.Annotations[NetworkTier]
	if !ok {
		return TierPremium, nil
	}
	switch strings.ToUpper(strings.TrimSpace(v)) {
	case TierPremium:
		return TierPremium, nil
	case TierStandard:
		return TierStandard, nil
	}
	return "", &Error{Annotation: NetworkTier, Value: v, Problem: "is not a network tier: use Premium or Standard"}
}

// StaticAddressOf is the name of a user's reserved address the Service asks
// for ("" when none).
func StaticAddressOf(svc *v1.Service) (string, error) {
	v := strings.TrimSpace(svc.Annotations[StaticAddress])
	if v == "" {
		return "", nil
	}
	if !validName(v) {
		return "", &Error{Annotation: StaticAddress, Value: v, Problem: "is not an address name (lowercase letters, digits and hyphens)"}
	}
	return v, nil
}

// MaxAddressesOf is the cap on published node addresses (0: no cap).
func MaxAddressesOf(svc *v1.Service) (int, error) {
	v, ok := svc.Annotations[MaxAddresses]
	if !ok {
		return 0, nil
	}
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || n < 1 {
		return 0, &Error{Annotation: MaxAddresses, Value: v, Problem: "is not a whole number of at least 1"}
	}
	return n, nil
}

func validName(s string) bool {
	if len(s) == 0 || len(s) > 63 || s[0] < 'a' || s[0] > 'z' || s[len(s)-1] == '-' {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
			return false
		}
	}
	return true
}

// BackendOf is the external load balancer's backend: the annotation, else
// the default ("target-pool" or "backend-service").
func BackendOf(svc *v1.Service, def string) (string, error) {
	v, ok := svc.Annotations[Backend]
	if !ok {
		if def == "" {
			def = "target-pool"
		}
		return def, nil
	}
	switch b := strings.ToLower(strings.TrimSpace(v)); b {
	case "target-pool", "backend-service":
		return b, nil
	}
	return "", &Error{Annotation: Backend, Value: v, Problem: "is not a backend: use target-pool or backend-service"}
}

// Load balancer types.
const (
	TypeExternal = "external"
	TypeInternal = "internal"
)

// The annotations that ask for an internal load balancer: this project's,
// and the GCE ones, kept with their meaning.
const (
	LoadBalancerType       = Prefix + "load-balancer-type"
	GKELoadBalancerType    = "networking.gke.io/load-balancer-type"
	LegacyLoadBalancerType = "cloud.google.com/load-balancer-type"
	InternalGlobalAccess   = "networking.gke.io/internal-load-balancer-allow-global-access"
	InternalSubnet         = "networking.gke.io/internal-load-balancer-subnet"
)

// TypeOf is whether the Service asks for an internal load balancer.
func TypeOf(svc *v1.Service) (string, error) {
	for _, key := range []string{LoadBalancerType, GKELoadBalancerType, LegacyLoadBalancerType} {
		v, ok := svc.Annotations[key]
		if !ok {
			continue
		}
		switch strings.ToLower(strings.TrimSpace(v)) {
		case TypeInternal:
			return TypeInternal, nil
		case TypeExternal:
			return TypeExternal, nil
		}
		return "", &Error{Annotation: key, Value: v, Problem: "is not a load balancer type: use Internal or External"}
	}
	return TypeExternal, nil
}

// GlobalAccessOf is whether an internal load balancer is reachable from
// every region of the VPC.
func GlobalAccessOf(svc *v1.Service) (bool, error) {
	v, ok := svc.Annotations[InternalGlobalAccess]
	if !ok {
		return false, nil
	}
	b, err := strconv.ParseBool(strings.TrimSpace(v))
	if err != nil {
		return false, &Error{Annotation: InternalGlobalAccess, Value: v, Problem: "is not true or false"}
	}
	return b, nil
}

// InternalSubnetOf is the subnetwork an internal load balancer's address
// comes from ("" for the cluster's).
func InternalSubnetOf(svc *v1.Service) (string, error) {
	v := strings.TrimSpace(svc.Annotations[InternalSubnet])
	if v != "" && !validName(v) {
		return "", &Error{Annotation: InternalSubnet, Value: v, Problem: "is not a subnetwork name"}
	}
	return v, nil
}
