// Package nlb is the external mode of LoadBalancer Services: a regional
// passthrough network load balancer (a reserved address, an HTTP health
// check, a target pool of the nodes' instances, a forwarding rule per
// protocol) and the VPC firewall rules it needs.
//
// A Balancer holds a cluster's client, Params and what its load balancers
// share. A reconcile computes the desired state (Desire, pure), observes
// the Service's resources (reads only, all before any write), plans the
// difference as typed operations (pure; one backend of three: targetPool,
// backendService, internalLB) and runs the plan with changeset, in steps,
// independent calls in parallel. A no-change resync makes no mutating
// call; a crash between any two calls is repaired by the next reconcile. It never changes or deletes a resource without this cluster's
// ownership marker, and never releases an address the user reserved.
package nlb

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	v1 "k8s.io/api/core/v1"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/ownership"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/providers/gce/annotations"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/providers/gce/cloudconfig"
)

// Params is what the desired state depends on besides the Service and nodes.
type Params struct {
	Owner   ownership.Cluster
	Project string
	// NetworkProject is the project of the cluster's network: the host
	// project of a Shared VPC, else Project.
	NetworkProject string
	Region         string
	NetworkURL     string
	NodeTags       []string
	// HealthCheckRanges are the cloud config's health-check-source-ranges:
	// each family's replace GCE's checker ranges of that family for every
	// scheme (none: checkerRanges, per scheme).
	HealthCheckRanges []netip.Prefix
	// SubnetworkURL is the cluster's subnetwork (internal load balancers).
	SubnetworkURL string
	// DefaultBackend is the backend of Services that do not choose one:
	// BackendTargetPool or BackendService.
	DefaultBackend string
	// UserAddresses are the addresses this cluster did not reserve that
	// the Services of a namespace may use (see checkAddressUse).
	UserAddresses []cloudconfig.AddressGrant
}

// The two backends of an external load balancer.
const (
	// BackendTargetPool: a target pool per Service; every node change is one
	// call per Service.
	BackendTargetPool = "target-pool"
	// BackendService: a regional backend service per Service on per-zone
	// instance groups shared by the cluster's load balancers; a node change
	// is one call per zone whatever the number of Services.
	BackendService = "backend-service"
)

// kubeProxyHealthPort and path: kube-proxy's health server, which answers
// for every node whatever its endpoints (externalTrafficPolicy: Cluster).
const (
	kubeProxyHealthPort = 10256
	healthPath          = "/healthz"
	// maxFirewallPorts is the API's limit of ports in one firewall rule.
	maxFirewallPorts = 100
)

// Address is the load balancer's IP: a project-owned reserved address (kept
// stable across every update, released on delete) or the user's own.
type Address struct {
	Name string
	// UserOwned: the user reserved it; it is used, never created or released.
	UserOwned bool
	// IP the Service asked for with spec.loadBalancerIP ("" for any).
	IP   string
	Tier string
}

// HealthCheck is the target pool's legacy HTTP health check.
type HealthCheck struct {
	Name string
	Port int64
	Path string
	// Shared: the cluster's one kube-proxy check, used by every Service with
	// externalTrafficPolicy: Cluster; it is deleted only when none uses it.
	Shared bool
}

// Pool is the target pool.
type Pool struct {
	Name            string
	Instances       []string // instance links, sorted
	SessionAffinity string   // NONE or CLIENT_IP
}

// ForwardingRule is one per protocol, all on the same address.
type ForwardingRule struct {
	Name      string
	Protocol  string // TCP or UDP
	PortRange string // "lo-hi"
	Ports     []int  // the Service's ports of this protocol, for the firewall
	Tier      string
}

// Desired is the load balancer a Service should have.
type Desired struct {
	Service      string // namespace/name
	UID          string
	Base         string // the name every owned resource starts with
	Description  string
	Address      Address
	HealthCheck  HealthCheck
	Pool         Pool
	Rules        []ForwardingRule
	SourceRanges []netip.Prefix
	// Backend is BackendTargetPool or BackendService.
	Backend string
	// BackendChosen: the Service names its backend. When it does not, the
	// default applies to new Services only: one that has a target pool
	// keeps it (see Ensure).
	BackendChosen bool
	// Groups are the instances per zone, for the backend-service backend.
	Groups map[string][]string
	// Scheme is EXTERNAL or INTERNAL (an internal passthrough load balancer,
	// always on a backend service).
	Scheme       string
	GlobalAccess bool
	// Subnetwork of an internal load balancer's address and rules, and of
	// an external IPv6 address.
	Subnetwork string
	// Families are the IP families to serve, in the Service's order
	// (spec.ipFamilies; IPv4 when it names none). IPv6 is served by a
	// backend service only.
	Families []v1.IPFamily
}

// serves reports whether the load balancer has an address of family f.
func (d *Desired) serves(f v1.IPFamily) bool { return slices.Contains(d.Families, f) }

// Desire computes the load balancer a Service should have. It is pure: an
// error is the Service's (a bad annotation, an impossible request) and says
// what to change.
func Desire(svc *v1.Service, nodes []*v1.Node, p Params) (*Desired, error) {
	base := p.Owner.LoadBalancerBase(string(svc.UID))
	d := &Desired{
		Service: svc.Namespace + "/" + svc.Name, UID: string(svc.UID), Base: base,
		Description: p.Owner.Description(map[string]string{
			ownership.ServiceKey: svc.Namespace + "/" + svc.Name, ownership.ServiceUIDKey: string(svc.UID), ownership.ModeKey: ownership.ModeExternal}),
	}
	tier, err := annotations.NetworkTierOf(svc)
	if err != nil {
		return nil, err
	}
	if d.Address, err = desiredAddress(svc, base, tier); err != nil {
		return nil, err
	}
	if d.SourceRanges, err = annotations.SourceRangesOf(svc, nil); err != nil {
		return nil, err
	}
	if svc.Spec.ExternalTrafficPolicy == v1.ServiceExternalTrafficPolicyLocal {
		if svc.Spec.HealthCheckNodePort == 0 {
			return nil, fmt.Errorf("externalTrafficPolicy Local needs spec.healthCheckNodePort, which the API server has not set yet")
		}
		d.HealthCheck = HealthCheck{Name: base, Port: int64(svc.Spec.HealthCheckNodePort), Path: healthPath}
	} else {
		d.HealthCheck = HealthCheck{Name: p.Owner.SharedHealthCheckName(), Port: kubeProxyHealthPort, Path: healthPath, Shared: true}
	}
	d.Pool = Pool{Name: base, SessionAffinity: "NONE", Instances: instanceLinks(nodes)}
	d.Groups = instancesByZone(d.Pool.Instances)
	if d.Backend, err = annotations.BackendOf(svc, p.DefaultBackend); err != nil {
		return nil, err
	}
	_, d.BackendChosen = svc.Annotations[annotations.Backend]
	if svc.Spec.SessionAffinity == v1.ServiceAffinityClientIP {
		d.Pool.SessionAffinity = "CLIENT_IP"
	}
	if d.Rules, err = forwardingRules(svc, base, tier); err != nil {
		return nil, err
	}
	d.Families = svc.Spec.IPFamilies
	if len(d.Families) == 0 {
		d.Families = []v1.IPFamily{v1.IPv4Protocol}
	}
	typ, err := annotations.TypeOf(svc)
	if err != nil {
		return nil, err
	}
	if err := checkIPv6(d, p, typ, tier); err != nil {
		return nil, err
	}
	d.Scheme = "EXTERNAL"
	if typ == annotations.TypeInternal {
		if err := internal(svc, p, d); err != nil {
			return nil, err
		}
	}
	return d, nil
}

// checkIPv6 refuses an IPv6 load balancer this project cannot build, and
// gives one it can its subnetwork.
func checkIPv6(d *Desired, p Params, typ, tier string) error {
	if !d.serves(v1.IPv6Protocol) {
		return nil
	}
	if typ == annotations.TypeInternal {
		// An internal IPv6 load balancer takes its address from the
		// subnetwork's internal IPv6 range (ipv6AccessType INTERNAL),
		// which this project does not reserve yet: it is refused rather
		// than served with the IPv4 address in the IPv6 entry.
		return &ServiceError{Reason: "InternalIPv6", Message: "internal load balancers serve IPv4 only: set spec.ipFamilies to [IPv4] (spec.ipFamilyPolicy: SingleStack), or make the load balancer external"}
	}
	if d.Backend != BackendService {
		return &ServiceError{Reason: "IPv6NeedsBackendService", Message: "an IPv6 load balancer needs the backend-service backend: annotate the Service with " + annotations.Backend + ": backend-service"}
	}
	if tier != annotations.TierPremium {
		return &ServiceError{Reason: "IPv6NeedsPremium", Message: "IPv6 load balancers are Premium tier only: remove " + annotations.NetworkTier}
	}
	if p.SubnetworkURL == "" {
		return &ServiceError{Reason: ReasonNoSubnetwork, Message: "an IPv6 address comes from the cluster's subnetwork: set [global] subnetwork-name in the cloud config"}
	}
	d.Subnetwork = p.SubnetworkURL
	return nil
}

// desiredAddress is the Service's own address, or the one it names.
func desiredAddress(svc *v1.Service, base, tier string) (Address, error) {
	static, err := annotations.StaticAddressOf(svc)
	if err != nil {
		return Address{}, err
	}
	a := Address{Name: base, Tier: tier, IP: svc.Spec.LoadBalancerIP}
	if static != "" {
		a = Address{Name: static, UserOwned: true, Tier: tier, IP: svc.Spec.LoadBalancerIP}
	}
	if a.IP != "" {
		if _, err := netip.ParseAddr(a.IP); err != nil {
			return Address{}, &annotations.Error{Annotation: "spec.loadBalancerIP", Value: a.IP, Problem: "is not an IP address"}
		}
	}
	return a, nil
}

func forwardingRules(svc *v1.Service, base, tier string) ([]ForwardingRule, error) {
	byProto := map[string][]int{}
	for _, sp := range svc.Spec.Ports {
		proto := string(sp.Protocol)
		if proto == "" {
			proto = "TCP"
		}
		if proto != "TCP" && proto != "UDP" {
			return nil, &annotations.Error{Annotation: "spec.ports", Value: sp.Name + "/" + proto,
				Problem: "uses a protocol the external network load balancer does not carry: use TCP or UDP"}
		}
		byProto[proto] = append(byProto[proto], int(sp.Port))
	}
	if len(byProto) == 0 {
		return nil, &annotations.Error{Annotation: "spec.ports", Value: "", Problem: "is empty: a load balancer needs a port"}
	}
	var rules []ForwardingRule
	for _, proto := range []string{"TCP", "UDP"} {
		ports := byProto[proto]
		if len(ports) == 0 {
			continue
		}
		slices.Sort(ports)
		ports = slices.Compact(ports)
		if len(ports) > maxFirewallPorts {
			return nil, &annotations.Error{Annotation: "spec.ports", Value: strconv.Itoa(len(ports)) + " " + proto + " ports",
				Problem: fmt.Sprintf("are more than the %d a firewall rule can open: split the Service", maxFirewallPorts)}
		}
		rules = append(rules, ForwardingRule{
			Name: ownership.ForwardingRuleName(base, proto), Protocol: proto, Tier: tier, Ports: ports,
			PortRange: strconv.Itoa(ports[0]) + "-" + strconv.Itoa(ports[len(ports)-1]),
		})
	}
	return rules, nil
}

// instanceLinks maps nodes to their instances through the providerID
// (gce://project/zone/name): no API call is needed. Nodes without one are
// not initialised yet and are left out.
func instanceLinks(nodes []*v1.Node) []string {
	var out []string
	for _, n := range nodes {
		rest, ok := strings.CutPrefix(n.Spec.ProviderID, "gce://")
		parts := strings.Split(rest, "/")
		if !ok || len(parts) != 3 {
			continue
		}
		out = append(out, ownership.InProject(parts[0]).Instance(parts[1], parts[2]))
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// internal makes the load balancer an internal one: a backend service, an
// internal address from the subnetwork, no network tier.
func internal(svc *v1.Service, p Params, d *Desired) error {
	var err error
	d.Scheme, d.Backend = "INTERNAL", BackendService
	if d.GlobalAccess, err = annotations.GlobalAccessOf(svc); err != nil {
		return err
	}
	subnet, err := annotations.InternalSubnetOf(svc)
	if err != nil {
		return err
	}
	d.Subnetwork = p.SubnetworkURL
	if subnet != "" {
		// A subnetwork is in its network's project: on a Shared VPC the host
		// project (network-project-id), not the cluster's.
		d.Subnetwork = ownership.InProject(p.NetworkProject).Subnetwork(p.Region, subnet)
	}
	if d.Subnetwork == "" {
		return &ServiceError{Reason: ReasonNoSubnetwork, Message: "an internal load balancer needs a subnetwork: set [global] subnetwork-name in the cloud config or the annotation " + annotations.InternalSubnet}
	}
	if d.Address.UserOwned {
		return &ServiceError{Reason: "StaticAddressInternal", Message: "an internal load balancer takes its address from spec.loadBalancerIP (an internal IP of the subnetwork), not from " + annotations.StaticAddress}
	}
	d.Address.Tier = ""
	for i := range d.Rules {
		d.Rules[i].Tier = ""
	}
	return nil
}

// instancesByZone groups instance links by their zone.
func instancesByZone(links []string) map[string][]string {
	out := map[string][]string{}
	for _, l := range links {
		if zone := ownership.ZoneOf(l); zone != "" {
			out[zone] = append(out[zone], l)
		}
	}
	return out
}
