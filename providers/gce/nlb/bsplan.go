package nlb

import (
	"net/netip"
	"slices"
	"strconv"

	"google.golang.org/api/compute/v1"
	v1 "k8s.io/api/core/v1"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/ownership"
)

// The backend-service backend's plan: a regional backend service with a
// regional health check, on the cluster's shared groups, and its
// forwarding rules. Every function here is pure.

// maxListedPorts is the most ports a forwarding rule's ports field holds;
// beyond it the rule takes all ports (the firewall still opens only the
// Service's).
const maxListedPorts = 5

// planBS is the backend-service part of a plan.
type planBS struct {
	InsertHC  *compute.HealthCheck
	UpdateHC  *compute.HealthCheck
	HCLink    string
	InsertIGs []*compute.InstanceGroup // with their zone in Zone
	Add       map[string][]string      // zone -> instances
	Remove    map[string][]string
	InsertBS  *compute.BackendService
	PatchBS   *compute.BackendService
	BSLink    string
	// ReplaceBS: the backend service has the other scheme; it goes, with
	// the rules that use it, before the new one is inserted.
	ReplaceBS bool
	// RecreateRules: the backend service's protocol changes (a Service
	// gains or loses TCP or UDP); the API refuses a protocol that does not
	// fit a rule that uses it, so the Service's rules go before the patch
	// and come back after it, on the same reserved addresses
	// (kubernetes/cloud-provider-gcp providers/gce/gce_loadbalancer_internal.go
	// deletes the forwarding rule first for the same reason).
	RecreateRules     bool
	DeleteOwnRegionHC string
}

// igLinkOf is the link of the cluster's shared group in a zone.
func igLinkOf(p Params, zone string) string {
	return ownership.InProject(p.Project).InstanceGroup(zone, p.Owner.InstanceGroupName(zone))
}

// planBackendService compares the desired backend service, its health
// check and the shared groups with what is there. It is pure.
func planBackendService(d *Desired, o *Observed, p Params) (*planBS, error) {
	pb := &planBS{Add: map[string][]string{}, Remove: map[string][]string{}}
	if err := planRegionHealthCheck(d, o, p, pb); err != nil {
		return nil, err
	}
	if err := planGroups(d, o, p, pb); err != nil {
		return nil, err
	}
	if err := planService(d, o, p, pb); err != nil {
		return nil, err
	}
	return pb, nil
}

func planRegionHealthCheck(d *Desired, o *Observed, p Params, pb *planBS) error {
	want := &compute.HealthCheck{Name: d.HealthCheck.Name, Type: "HTTP", CheckIntervalSec: 8, TimeoutSec: 1, HealthyThreshold: 1, UnhealthyThreshold: 3,
		HttpHealthCheck: &compute.HTTPHealthCheck{Port: d.HealthCheck.Port, RequestPath: d.HealthCheck.Path}, Description: d.Description}
	if d.HealthCheck.Shared {
		want.Description = p.Owner.Description(map[string]string{"cloud-provider-vpc.io/shared": "kube-proxy"})
	}
	pb.HCLink = ownership.InProject(p.Project).HealthCheck(p.Region, d.HealthCheck.Name)
	switch hc := o.RegionHC; {
	case hc == nil:
		pb.InsertHC = want
	case !p.Owner.Owns(hc.Name, hc.Description):
		return collision("health check", hc.Name)
	case hc.HttpHealthCheck == nil || hc.HttpHealthCheck.Port != want.HttpHealthCheck.Port || hc.HttpHealthCheck.RequestPath != want.HttpHealthCheck.RequestPath ||
		hc.CheckIntervalSec != want.CheckIntervalSec || hc.TimeoutSec != want.TimeoutSec:
		pb.UpdateHC = want
	}
	if d.HealthCheck.Shared && o.OwnRegionHC != nil && p.Owner.Owns(o.OwnRegionHC.Name, o.OwnRegionHC.Description) {
		pb.DeleteOwnRegionHC = o.OwnRegionHC.Name
	}
	return nil
}

// planGroups: the groups of the zones with nodes are made and brought to
// the nodes; a zone the backend service used that has no node now has its
// group emptied.
func planGroups(d *Desired, o *Observed, p Params, pb *planBS) error {
	for _, zone := range sortedZones(d.Groups) {
		g := o.Groups[zone]
		if g == nil {
			pb.InsertIGs = append(pb.InsertIGs, &compute.InstanceGroup{Name: p.Owner.InstanceGroupName(zone), Zone: zone,
				Network: p.NetworkURL, Description: p.Owner.Description(map[string]string{"cloud-provider-vpc.io/shared": "instance-group"})})
			pb.Add[zone] = d.Groups[zone]
			continue
		}
		if !g.cached && !p.Owner.Owns(g.ig.Name, g.ig.Description) {
			return collision("instance group", g.ig.Name)
		}
		add, remove := setDiff(d.Groups[zone], g.members)
		if len(add) > 0 {
			pb.Add[zone] = add
		}
		if len(remove) > 0 {
			pb.Remove[zone] = remove
		}
	}
	for zone, g := range o.Groups {
		if _, ok := d.Groups[zone]; !ok && g != nil && !g.cached && len(g.members) > 0 && p.Owner.Owns(g.ig.Name, g.ig.Description) {
			pb.Remove[zone] = g.members
		}
	}
	return nil
}

func planService(d *Desired, o *Observed, p Params, pb *planBS) error {
	protocol := "TCP"
	if len(d.Rules) == 2 {
		protocol = "UNSPECIFIED" // L3_DEFAULT forwarding rule: TCP and UDP
	} else if len(d.Rules) == 1 {
		protocol = d.Rules[0].Protocol
	}
	affinity := d.Pool.SessionAffinity
	var backends []*compute.Backend
	for _, zone := range sortedZones(d.Groups) {
		backends = append(backends, &compute.Backend{Group: igLinkOf(p, zone), BalancingMode: "CONNECTION"})
	}
	pb.BSLink = ownership.InProject(p.Project).BackendService(p.Region, d.Base)
	wantBS := &compute.BackendService{Name: d.Base, LoadBalancingScheme: d.Scheme, Protocol: protocol, HealthChecks: []string{pb.HCLink},
		Backends: backends, SessionAffinity: affinity, Description: d.Description}
	switch bs := o.BackendService; {
	case bs == nil:
		pb.InsertBS = wantBS
	case !p.Owner.Owns(bs.Name, bs.Description):
		return collision("backend service", bs.Name)
	case bs.LoadBalancingScheme != d.Scheme:
		// External to internal or back: the scheme cannot change in place.
		pb.ReplaceBS, pb.InsertBS = true, wantBS
	case bs.Protocol != protocol || !slices.Equal(bs.HealthChecks, wantBS.HealthChecks) || bs.SessionAffinity != affinity || !sameBackends(bs.Backends, backends):
		patch := *wantBS
		patch.Fingerprint = bs.Fingerprint
		pb.RecreateRules = bs.Protocol != protocol
		if len(backends) == 0 {
			// No zone has a node: the backends must be sent as an empty
			// list, which the client's omitempty would otherwise drop from
			// the PATCH, leaving the old ones in place.
			patch.ForceSendFields = []string{"Backends"}
		}
		pb.PatchBS = &patch
	}
	return nil
}

func setDiff(want, have []string) (add, remove []string) {
	h := map[string]bool{}
	for _, x := range have {
		h[x] = true
	}
	w := map[string]bool{}
	for _, x := range want {
		w[x] = true
		if !h[x] {
			add = append(add, x)
		}
	}
	for _, x := range have {
		if !w[x] {
			remove = append(remove, x)
		}
	}
	slices.Sort(add)
	slices.Sort(remove)
	return add, remove
}

func sameBackends(a, b []*compute.Backend) bool {
	groups := func(bs []*compute.Backend) []string {
		var out []string
		for _, x := range bs {
			out = append(out, x.Group)
		}
		slices.Sort(out)
		return out
	}
	return slices.Equal(groups(a), groups(b))
}

// bsRules are the forwarding rules of the backend-service backend: one
// L3_DEFAULT rule on all ports when the Service mixes TCP and UDP, else one
// rule with the ports listed (all ports beyond five).
func bsRules(d *Desired, p Params, bsLink, ip4, ip6 string) []*compute.ForwardingRule {
	var out []*compute.ForwardingRule
	if d.serves(v1.IPv4Protocol) || d.Scheme == "INTERNAL" {
		for _, fr := range bsRulesOf(d, p, bsLink) {
			fr.IPAddress = ip4
			out = append(out, fr)
		}
	}
	if d.serves(v1.IPv6Protocol) && d.Scheme != "INTERNAL" {
		for _, fr := range bsRulesOf(d, p, bsLink) {
			fr.Name = ownership.IPv6ForwardingRuleName(fr.Name)
			fr.IpVersion, fr.Subnetwork, fr.IPAddress = "IPV6", d.Subnetwork, ipv6RuleAddress(ip6)
			out = append(out, fr)
		}
	}
	return out
}

// ipv6RuleAddress is an external IPv6 rule's address: the reserved address
// with its /96, the only form the API accepts for it (kubernetes/ingress-gce
// pkg/l4resources/forwarding_rules_ipv6.go: "for creating external IPv6
// forwarding rule, address has to be specified with /96 prefix, or API will
// return error").
func ipv6RuleAddress(ip string) string {
	if ip == "" {
		return ""
	}
	return ip + "/96"
}

// sameAddress compares a rule's address as the API answers it (an IPv6
// rule's in CIDR form, an IPv4 rule's bare) with the wanted one, as
// prefixes: the text may differ for one address (2600:1900::/96 or
// 2600:1900:0:0:0:0:0:0/96), the prefix may not.
func sameAddress(have, want string) bool {
	prefix := func(s string) (netip.Prefix, bool) {
		if p, err := netip.ParsePrefix(s); err == nil {
			return p, true
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return netip.Prefix{}, false
		}
		return netip.PrefixFrom(a, a.BitLen()), true
	}
	h, okH := prefix(have)
	w, okW := prefix(want)
	return okH && okW && h == w
}

func bsRulesOf(d *Desired, p Params, bsLink string) []*compute.ForwardingRule {
	rule := func(name, proto, tier string) *compute.ForwardingRule {
		fr := &compute.ForwardingRule{Name: name, IPProtocol: proto, NetworkTier: tier, LoadBalancingScheme: d.Scheme,
			BackendService: bsLink, Description: d.Description}
		if d.Scheme == "INTERNAL" {
			fr.Network, fr.Subnetwork, fr.AllowGlobalAccess = p.NetworkURL, d.Subnetwork, d.GlobalAccess
		}
		return fr
	}
	if len(d.Rules) == 2 {
		fr := rule(ownership.L3ForwardingRuleName(d.Base), "L3_DEFAULT", d.Rules[0].Tier)
		fr.AllPorts = true
		return []*compute.ForwardingRule{fr}
	}
	var out []*compute.ForwardingRule
	for _, r := range d.Rules {
		fr := rule(r.Name, r.Protocol, r.Tier)
		if len(r.Ports) > maxListedPorts {
			fr.AllPorts = true
		} else {
			for _, port := range r.Ports {
				fr.Ports = append(fr.Ports, strconv.Itoa(port))
			}
		}
		out = append(out, fr)
	}
	return out
}

// planBSRules compares the wanted rules with the owned observed ones.
func planBSRules(want []*compute.ForwardingRule, observed []*compute.ForwardingRule, p Params) (del []string, ins []*compute.ForwardingRule) {
	have := map[string]*compute.ForwardingRule{}
	for _, fr := range observed {
		if p.Owner.Owns(fr.Name, fr.Description) {
			have[fr.Name] = fr
		}
	}
	wanted := map[string]bool{}
	for _, w := range want {
		wanted[w.Name] = true
		fr := have[w.Name]
		switch {
		case fr == nil:
			ins = append(ins, w)
		case fr.IPProtocol != w.IPProtocol || fr.AllPorts != w.AllPorts || !slices.Equal(fr.Ports, w.Ports) || fr.BackendService != w.BackendService ||
			fr.Target != "" || fr.LoadBalancingScheme != w.LoadBalancingScheme || (w.NetworkTier != "" && fr.NetworkTier != w.NetworkTier) ||
			fr.AllowGlobalAccess != w.AllowGlobalAccess || (w.Subnetwork != "" && fr.Subnetwork != w.Subnetwork) ||
			(w.IPAddress != "" && !sameAddress(fr.IPAddress, w.IPAddress)):
			del = append(del, fr.Name)
			ins = append(ins, w)
		}
	}
	for name := range have {
		if !wanted[name] {
			del = append(del, name)
		}
	}
	slices.Sort(del)
	return del, ins
}
