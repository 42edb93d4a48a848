package nlb

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"google.golang.org/api/compute/v1"
	v1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/firewall"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/ownership"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/providers/gce/computeclient"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/servicecontroller/nodeset"
)

// The backend-service backend: a regional backend service (EXTERNAL scheme)
// with a regional health check, on per-zone instance groups that every load
// balancer of the cluster shares. A node change is one addInstances or
// removeInstances per zone, whatever the number of Services.

// InstanceGroupName is the cluster's shared instance group in a zone.
func InstanceGroupName(owner ownership.Cluster, zone string) string {
	return owner.ResourceName("ig", zone)
}

// maxListedPorts is the most ports a forwarding rule's ports field holds;
// beyond it the rule takes all ports (the firewall still opens only the
// Service's).
const maxListedPorts = 5

// group is one zone's shared instance group, observed.
type group struct {
	zone    string
	ig      *compute.InstanceGroup
	members []string
	// cached: known in sync (groupCache), not read this time.
	cached bool
}

// groupCache remembers, per shared group, the members this process last saw
// or made it have, so that the Services reconciled after a node change do
// not each read every zone's group: a resync reads a group only when its
// wanted members changed, or every groupCacheTTL (a group changed by hand is
// repaired within it).
var groupCache sync.Map // groupKey -> groupState

// groupKey is a group of one API client (one cloud).
type groupKey struct {
	api  *computeclient.Client
	link string
}

const groupCacheTTL = 10 * time.Minute

type groupState struct {
	members string // sorted links, joined
	at      time.Time
}

func membersKey(links []string) string {
	s := append([]string(nil), links...)
	sort.Strings(s)
	return strings.Join(s, ",")
}

func cachedInSync(api *computeclient.Client, link string, want []string) bool {
	v, ok := groupCache.Load(groupKey{api, link})
	if !ok {
		return false
	}
	st := v.(groupState)
	return st.members == membersKey(want) && time.Since(st.at) < groupCacheTTL
}

func rememberGroup(api *computeclient.Client, link string, members []string) {
	groupCache.Store(groupKey{api, link}, groupState{members: membersKey(members), at: time.Now()})
}

func forgetGroup(api *computeclient.Client, link string) { groupCache.Delete(groupKey{api, link}) }

// observedBS is what the backend-service backend reads beyond Observed.
type observedBS struct {
	RegionHC    *compute.HealthCheck
	OwnRegionHC *compute.HealthCheck
	Service     *compute.BackendService
	Groups      map[string]*group
}

// The backend service itself was read by observe (bs); it is not read again.
func observeBS(ctx context.Context, api *computeclient.Client, p Params, d *Desired, zones []string, bs *compute.BackendService) (*observedBS, error) {
	o := &observedBS{Groups: map[string]*group{}, Service: bs}
	var mu sync.Mutex
	var fns []func() error
	nf := func(err error) error {
		if computeclient.IsNotFound(err) {
			return nil
		}
		return err
	}
	fns = append(fns,
		func() (err error) {
			o.RegionHC, err = api.GetRegionHealthCheck(ctx, p.Region, d.HealthCheck.Name)
			return nf(err)
		},
	)
	if d.HealthCheck.Shared {
		fns = append(fns, func() (err error) {
			o.OwnRegionHC, err = api.GetRegionHealthCheck(ctx, p.Region, d.Base)
			return nf(err)
		})
	}
	for _, zone := range groupZones(p, zones, bs) {
		if cachedInSync(api, igLink(p, zone), d.Groups[zone]) {
			o.Groups[zone] = &group{zone: zone, members: d.Groups[zone], cached: true}
			continue
		}
		fns = append(fns, func() error {
			name := InstanceGroupName(p.Owner, zone)
			ig, err := api.GetInstanceGroup(ctx, zone, name)
			if computeclient.IsNotFound(err) {
				return nil
			}
			if err != nil {
				return err
			}
			members, err := api.ListInstanceGroupInstances(ctx, zone, name)
			if err != nil {
				return err
			}
			mu.Lock()
			o.Groups[zone] = &group{zone: zone, ig: ig, members: members}
			mu.Unlock()
			if p.Owner.Owns(ig.Name, ig.Description) && membersKey(members) == membersKey(d.Groups[zone]) {
				rememberGroup(api, igLink(p, zone), members)
			}
			return nil
		})
	}
	if err := parallel(fns...); err != nil {
		return nil, err
	}
	return o, nil
}

// groupZones are the zones whose shared group the reconcile reads: those
// with nodes, and those the backend service still uses. A zone whose last
// node left (or was excluded) has a group that must be emptied and dropped
// from the backends, and only the backend service remembers it.
func groupZones(p Params, zones []string, bs *compute.BackendService) []string {
	out := slices.Clone(zones)
	if bs == nil {
		return out
	}
	for _, b := range bs.Backends {
		parts := strings.Split(b.Group, "/")
		if len(parts) < 4 {
			continue
		}
		zone := parts[len(parts)-3]
		if b.Group == igLink(p, zone) && !slices.Contains(out, zone) {
			out = append(out, zone)
		}
	}
	return out
}

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

func igLink(p Params, zone string) string {
	return linkBase + "projects/" + p.Project + "/zones/" + zone + "/instanceGroups/" + InstanceGroupName(p.Owner, zone)
}

// planBackendService compares the desired backend service, its health check
// and the shared groups with what is there. It is pure.
func planBackendService(d *Desired, o *observedBS, p Params) (*planBS, error) {
	pb := &planBS{Add: map[string][]string{}, Remove: map[string][]string{}}
	want := &compute.HealthCheck{Name: d.HealthCheck.Name, Type: "HTTP", CheckIntervalSec: 8, TimeoutSec: 1, HealthyThreshold: 1, UnhealthyThreshold: 3,
		HttpHealthCheck: &compute.HTTPHealthCheck{Port: d.HealthCheck.Port, RequestPath: d.HealthCheck.Path}, Description: d.Description}
	if d.HealthCheck.Shared {
		want.Description = p.Owner.Description(map[string]string{"cloud-provider-vpc.io/shared": "kube-proxy"})
	}
	pb.HCLink = linkBase + "projects/" + p.Project + "/regions/" + p.Region + "/healthChecks/" + d.HealthCheck.Name
	switch hc := o.RegionHC; {
	case hc == nil:
		pb.InsertHC = want
	case !p.Owner.Owns(hc.Name, hc.Description):
		return nil, collision("health check", hc.Name)
	case hc.HttpHealthCheck == nil || hc.HttpHealthCheck.Port != want.HttpHealthCheck.Port || hc.HttpHealthCheck.RequestPath != want.HttpHealthCheck.RequestPath ||
		hc.CheckIntervalSec != want.CheckIntervalSec || hc.TimeoutSec != want.TimeoutSec:
		pb.UpdateHC = want
	}
	if d.HealthCheck.Shared && o.OwnRegionHC != nil && p.Owner.Owns(o.OwnRegionHC.Name, o.OwnRegionHC.Description) {
		pb.DeleteOwnRegionHC = o.OwnRegionHC.Name
	}
	zones := sortedZones(d.Groups)
	for _, zone := range zones {
		g := o.Groups[zone]
		if g == nil {
			pb.InsertIGs = append(pb.InsertIGs, &compute.InstanceGroup{Name: InstanceGroupName(p.Owner, zone), Zone: zone,
				Network: p.NetworkURL, Description: p.Owner.Description(map[string]string{"cloud-provider-vpc.io/shared": "instance-group"})})
			pb.Add[zone] = d.Groups[zone]
			continue
		}
		if !g.cached && !p.Owner.Owns(g.ig.Name, g.ig.Description) {
			return nil, collision("instance group", g.ig.Name)
		}
		add, remove := setDiff(d.Groups[zone], g.members)
		if len(add) > 0 {
			pb.Add[zone] = add
		}
		if len(remove) > 0 {
			pb.Remove[zone] = remove
		}
	}
	// Zones the backend service used that have no node now: empty their group.
	for zone, g := range o.Groups {
		if _, ok := d.Groups[zone]; !ok && g != nil && !g.cached && len(g.members) > 0 && p.Owner.Owns(g.ig.Name, g.ig.Description) {
			pb.Remove[zone] = g.members
		}
	}
	protocol := "TCP"
	if len(d.Rules) == 2 {
		protocol = "UNSPECIFIED" // L3_DEFAULT forwarding rule: TCP and UDP
	} else if len(d.Rules) == 1 {
		protocol = d.Rules[0].Protocol
	}
	affinity := d.Pool.SessionAffinity
	var backends []*compute.Backend
	for _, zone := range zones {
		backends = append(backends, &compute.Backend{Group: igLink(p, zone), BalancingMode: "CONNECTION"})
	}
	pb.BSLink = linkBase + "projects/" + p.Project + "/regions/" + p.Region + "/backendServices/" + d.Base
	wantBS := &compute.BackendService{Name: d.Base, LoadBalancingScheme: d.Scheme, Protocol: protocol, HealthChecks: []string{pb.HCLink},
		Backends: backends, SessionAffinity: affinity, Description: d.Description}
	switch bs := o.Service; {
	case bs == nil:
		pb.InsertBS = wantBS
	case !p.Owner.Owns(bs.Name, bs.Description):
		return nil, collision("backend service", bs.Name)
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
	return pb, nil
}

func sortedZones(m map[string][]string) []string {
	zones := make([]string, 0, len(m))
	for z := range m {
		zones = append(zones, z)
	}
	sort.Strings(zones)
	return zones
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
	sort.Strings(add)
	sort.Strings(remove)
	return add, remove
}

func sameBackends(a, b []*compute.Backend) bool {
	groups := func(bs []*compute.Backend) []string {
		var out []string
		for _, x := range bs {
			out = append(out, x.Group)
		}
		sort.Strings(out)
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
			fr.Name += "-v6"
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
		fr := rule(d.Base+"-l3", "L3_DEFAULT", d.Rules[0].Tier)
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
func planBSRules(want []*compute.ForwardingRule, observed []*compute.ForwardingRule, p Params) (del []string, ins []*compute.ForwardingRule, err error) {
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
	sort.Strings(del)
	return del, ins, nil
}

// ensureBackendService is Ensure for the backend-service backend. When it
// fails, what it remembered of the shared groups is forgotten, so the next
// reconcile reads them (a group deleted by hand is found and recreated).
func ensureBackendService(ctx context.Context, api *computeclient.Client, p Params, d *Desired, o *Observed) (status *v1.LoadBalancerStatus, err error) {
	zones := sortedZones(d.Groups)
	defer func() {
		if err != nil {
			for _, zone := range zones {
				forgetGroup(api, igLink(p, zone))
			}
		}
	}()
	var obs *observedBS
	obs, err = observeBS(ctx, api, p, d, zones, o.BackendService)
	if err != nil {
		return nil, err
	}
	pl := &Plan{}
	if err := planAddress(d, o, p, pl); err != nil {
		return nil, err
	}
	pb, err := planBackendService(d, obs, p)
	if err != nil {
		return nil, err
	}
	if pl.ReplaceAddress {
		if err := replaceAddress(ctx, api, p, d, o); err != nil {
			return nil, err
		}
	}
	if pb.ReplaceBS {
		if err := deleteRules(ctx, api, p, o); err != nil {
			return nil, err
		}
		if err := api.DeleteRegionBackendService(ctx, p.Region, d.Base); err != nil && !computeclient.IsNotFound(err) {
			return nil, fmt.Errorf("delete backend service %s: %w", d.Base, err)
		}
	}
	if d.Scheme == "INTERNAL" && len(d.SourceRanges) == 0 {
		// Clients of an internal load balancer: the VPC's own ranges.
		if d.SourceRanges, err = api.NetworkRanges(ctx, p.NetworkURL); err != nil {
			return nil, fmt.Errorf("read the ranges of network %s: %w", p.NetworkURL, err)
		}
	}
	v4 := d.serves(v1.IPv4Protocol) || d.Scheme == "INTERNAL"
	v6, err := observeIPv6(ctx, api, p, d)
	if err != nil {
		return nil, err
	}
	if !v4 {
		pl.InsertAddress = nil
	}
	// 1. Address, health check, the groups that are missing.
	err = parallel(
		func() error { return insertAddress(ctx, api, p, pl) },
		func() error { return v6.ensure(ctx, api, p) },
		func() error {
			switch {
			case pb.InsertHC != nil:
				if err := api.InsertRegionHealthCheck(ctx, p.Region, pb.InsertHC); err != nil && !computeclient.IsConflict(err) {
					return fmt.Errorf("insert health check %s: %w", pb.InsertHC.Name, err)
				}
			case pb.UpdateHC != nil:
				if err := api.UpdateRegionHealthCheck(ctx, p.Region, pb.UpdateHC); err != nil {
					return fmt.Errorf("update health check %s: %w", pb.UpdateHC.Name, err)
				}
			}
			return nil
		},
		func() error {
			var fns []func() error
			for _, ig := range pb.InsertIGs {
				zone := ig.Zone
				ig.Zone = ""
				fns = append(fns, func() error {
					if err := api.InsertInstanceGroup(ctx, zone, ig); err != nil && !computeclient.IsConflict(err) {
						return fmt.Errorf("insert instance group %s: %w", ig.Name, err)
					}
					return nil
				})
			}
			return parallel(fns...)
		})
	if err != nil {
		return nil, err
	}
	// 2. Firewalls, group membership, the backend service.
	var rules []firewall.Rule
	if v4 {
		rules = d.Firewalls(p, pl.IP)
	}
	if v6.ip != "" {
		rules = append(rules, d.FirewallsIPv6(p, v6.ip)...)
	}
	fwPlan := firewall.Diff(rules, o.Firewalls, p.Owner, firewall.ForService(d.UID))
	for _, c := range fwPlan.Conflicts {
		return nil, &ServiceError{Reason: "NameCollision", Message: fmt.Sprintf("firewall rule %s: %s", c.Name, c.Reason)}
	}
	err = parallel(
		func() error { return firewall.Apply(ctx, api, fwPlan) },
		func() error { return applyMembership(ctx, api, p, d, pb) },
		func() error {
			switch {
			case pb.InsertBS != nil:
				if err := api.InsertRegionBackendService(ctx, p.Region, pb.InsertBS); err != nil && !computeclient.IsConflict(err) {
					return fmt.Errorf("insert backend service %s: %w", pb.InsertBS.Name, err)
				}
			case pb.PatchBS != nil:
				if pb.RecreateRules {
					if err := deleteRules(ctx, api, p, o); err != nil {
						return err
					}
				}
				if err := api.PatchRegionBackendService(ctx, p.Region, pb.PatchBS); err != nil {
					return fmt.Errorf("patch backend service %s: %w", pb.PatchBS.Name, err)
				}
			}
			return nil
		})
	if err != nil {
		return nil, err
	}
	// 3. Forwarding rules on the address, to the backend service.
	del, ins, err := planBSRules(bsRules(d, p, pb.BSLink, pl.IP, v6.ip), o.Rules, p)
	if err != nil {
		return nil, err
	}
	pl.DeleteRules, pl.InsertRules = del, ins
	if err := applyRules(ctx, api, p, pl); err != nil {
		return nil, err
	}
	// 4. What this backend replaced: target pools, legacy checks.
	var fns []func() error
	for _, tp := range o.Pools {
		if hasPrefixName(tp.Name, d.Base) && p.Owner.Owns(tp.Name, tp.Description) {
			fns = append(fns, func() error {
				if err := api.DeleteTargetPool(ctx, p.Region, tp.Name); err != nil && !computeclient.IsNotFound(err) {
					return fmt.Errorf("delete target pool %s: %w", tp.Name, err)
				}
				return nil
			})
		}
	}
	if hc := o.OwnHealthCheck; hc != nil && p.Owner.Owns(hc.Name, hc.Description) {
		fns = append(fns, func() error { return deleteHealthCheck(ctx, api, hc.Name) })
	}
	if pb.DeleteOwnRegionHC != "" {
		fns = append(fns, func() error { return deleteRegionHealthCheck(ctx, api, p.Region, pb.DeleteOwnRegionHC) })
	}
	if v6.release != "" {
		fns = append(fns, func() error {
			if err := api.DeleteAddress(ctx, p.Region, v6.release); err != nil && !computeclient.IsNotFound(err) {
				return fmt.Errorf("release address %s: %w", v6.release, err)
			}
			return nil
		})
	}
	if (!v4 || pl.AddressName != d.Base) && o.OwnedAddress != nil && p.Owner.Owns(o.OwnedAddress.Name, o.OwnedAddress.Description) {
		name := o.OwnedAddress.Name
		fns = append(fns, func() error {
			if err := api.DeleteAddress(ctx, p.Region, name); err != nil && !computeclient.IsNotFound(err) {
				return fmt.Errorf("release address %s: %w", name, err)
			}
			return nil
		})
	}
	if err := parallel(fns...); err != nil {
		return nil, err
	}
	var ingress []v1.LoadBalancerIngress
	for _, f := range d.Families {
		ip := pl.IP
		if f == v1.IPv6Protocol {
			// Never the IPv4 address: an internal IPv6 load balancer is
			// refused by Desire, and has no IPv6 address here.
			ip = v6.ip
		}
		if ip != "" && (f == v1.IPv6Protocol || v4) {
			ingress = append(ingress, v1.LoadBalancerIngress{IP: ip, IPMode: ptr.To(v1.LoadBalancerIPModeVIP)})
		}
	}
	rememberBuilt(api, d.Base, zones)
	return &v1.LoadBalancerStatus{Ingress: ingress}, nil
}

// ipv6State is the Service's external IPv6 address: the one it has, one to
// reserve, or one to release when the Service no longer asks for IPv6.
type ipv6State struct {
	name    string
	ip      string
	insert  *compute.Address
	release string
}

// IPv6AddressName is the Service's external IPv6 address.
func IPv6AddressName(base string) string { return base + "-v6" }

// observeIPv6 reads the Service's IPv6 address (always: a Service that
// stopped asking for IPv6 still has one to release) and, when it asks for
// IPv6, checks that the subnetwork has an external IPv6 range.
func observeIPv6(ctx context.Context, api *computeclient.Client, p Params, d *Desired) (*ipv6State, error) {
	st := &ipv6State{name: IPv6AddressName(d.Base)}
	a, err := api.GetAddress(ctx, p.Region, st.name)
	if err != nil && !computeclient.IsNotFound(err) {
		return nil, err
	}
	want := d.serves(v1.IPv6Protocol) && d.Scheme != "INTERNAL"
	switch {
	case a != nil && !p.Owner.Owns(a.Name, a.Description):
		if want {
			return nil, collision("address", a.Name)
		}
	case a != nil && want:
		st.ip = a.Address
	case a != nil:
		st.release = a.Name
	case want:
		sub, err := api.GetSubnetwork(ctx, d.Subnetwork)
		if err != nil {
			return nil, fmt.Errorf("read subnetwork %s: %w", d.Subnetwork, err)
		}
		if sub.ExternalIpv6Prefix == "" {
			return nil, &ServiceError{Reason: "NoIPv6Range", Message: fmt.Sprintf(
				"the subnetwork %s has no external IPv6 range: make it dual-stack (stackType IPV4_IPV6, ipv6AccessType EXTERNAL) or remove IPv6 from spec.ipFamilies", sub.Name)}
		}
		st.insert = &compute.Address{Name: st.name, AddressType: "EXTERNAL", IpVersion: "IPV6", Ipv6EndpointType: "NETLB",
			NetworkTier: "PREMIUM", Subnetwork: d.Subnetwork, Description: d.Description}
	}
	return st, nil
}

func (st *ipv6State) ensure(ctx context.Context, api *computeclient.Client, p Params) error {
	if st.insert == nil {
		return nil
	}
	if err := api.InsertAddress(ctx, p.Region, st.insert); err != nil && !computeclient.IsConflict(err) {
		return fmt.Errorf("reserve address %s: %w", st.name, err)
	}
	a, err := api.GetAddress(ctx, p.Region, st.name)
	if err != nil {
		return fmt.Errorf("read address %s: %w", st.name, err)
	}
	st.ip = a.Address
	return nil
}

// replaceAddress removes the Service's rules and its owned address of the
// other type, so the new one can be reserved under the same name.
func replaceAddress(ctx context.Context, api *computeclient.Client, p Params, d *Desired, o *Observed) error {
	if err := deleteRules(ctx, api, p, o); err != nil {
		return err
	}
	if err := api.DeleteAddress(ctx, p.Region, d.Base); err != nil && !computeclient.IsNotFound(err) {
		return fmt.Errorf("release address %s: %w", d.Base, err)
	}
	o.OwnedAddress, o.Address = nil, nil
	return nil
}

// deleteRules deletes the Service's owned forwarding rules.
func deleteRules(ctx context.Context, api *computeclient.Client, p Params, o *Observed) error {
	var fns []func() error
	for _, fr := range o.Rules {
		if p.Owner.Owns(fr.Name, fr.Description) {
			fns = append(fns, func() error {
				if err := api.DeleteForwardingRule(ctx, p.Region, fr.Name); err != nil && !computeclient.IsNotFound(err) {
					return fmt.Errorf("delete forwarding rule %s: %w", fr.Name, err)
				}
				return nil
			})
		}
	}
	if err := parallel(fns...); err != nil {
		return err
	}
	o.Rules = nil
	return nil
}

// groupLocks serialise membership changes of one shared instance group in
// this process: the Services reconciled at once all want the same change,
// and the first one makes it.
var groupLocks sync.Map // group link -> *sync.Mutex

// groupSets remembers, per shared group, the newest node set applied to it.
// The service controller publishes a node set without waiting for the
// calls in flight, each of which took the set current when it started
// (nodeset.VersionOf its context): a call that reaches a group after one
// with a newer set must not undo it.
var groupSets nodeset.Applied // groupKey -> newest version

// applyMembership brings each zone's shared group to the desired members.
// The plan only says whether a zone needs a change: under the group's lock,
// the members are read again and the change recomputed, so that the
// Services reconciled at once make it once. A change that still races with
// another process (memberAlreadyExists, memberNotFound) is re-read and
// retried.
func applyMembership(ctx context.Context, api *computeclient.Client, p Params, d *Desired, pb *planBS) error {
	zones := map[string]bool{}
	for z := range pb.Add {
		zones[z] = true
	}
	for z := range pb.Remove {
		zones[z] = true
	}
	var fns []func() error
	for zone := range zones {
		fns = append(fns, func() error { return syncGroup(ctx, api, p, zone, d.Groups[zone]) })
	}
	return parallel(fns...)
}

func syncGroup(ctx context.Context, api *computeclient.Client, p Params, zone string, want []string) error {
	name := InstanceGroupName(p.Owner, zone)
	mu, _ := groupLocks.LoadOrStore(igLink(p, zone), &sync.Mutex{})
	mu.(*sync.Mutex).Lock()
	defer mu.(*sync.Mutex).Unlock()
	if !groupSets.Admit(groupKey{api, igLink(p, zone)}, nodeset.VersionOf(ctx)) {
		// A newer node set was applied here: this one is out of date,
		// and its caller is queued again with the newer one.
		return nil
	}
	// The worker that held the lock before may just have made the group
	// what this one wants: then there is nothing to read or write.
	if cachedInSync(api, igLink(p, zone), want) {
		return nil
	}
	var err error
	for attempt := 0; attempt < 3; attempt++ {
		var have []string
		if have, err = api.ListInstanceGroupInstances(ctx, zone, name); err != nil {
			return fmt.Errorf("list instance group %s: %w", name, err)
		}
		add, remove := setDiff(want, have)
		if len(add) == 0 && len(remove) == 0 {
			rememberGroup(api, igLink(p, zone), want)
			return nil
		}
		err = nil
		for _, batch := range batches(add) {
			if e := api.AddInstanceGroupInstances(ctx, zone, name, batch); e != nil {
				err = fmt.Errorf("add %d instances to instance group %s: %w", len(batch), name, e)
			}
		}
		for _, batch := range batches(remove) {
			if e := api.RemoveInstanceGroupInstances(ctx, zone, name, batch); e != nil {
				err = fmt.Errorf("remove %d instances from instance group %s: %w", len(batch), name, e)
			}
		}
		if err == nil {
			rememberGroup(api, igLink(p, zone), want)
			return nil
		}
		forgetGroup(api, igLink(p, zone))
		if !(computeclient.IsConflict(err) || computeclient.IsNotFound(err)) {
			return err
		}
	}
	return err
}

func deleteRegionHealthCheck(ctx context.Context, api *computeclient.Client, region, name string) error {
	err := api.DeleteRegionHealthCheck(ctx, region, name)
	if err == nil || computeclient.IsNotFound(err) || computeclient.IsInUse(err) {
		return nil
	}
	return fmt.Errorf("delete health check %s: %w", name, err)
}

// deleteBackendService removes a Service's backend service (bs, as
// observed; nil when it has none) and regional health checks, and the shared
// groups once no backend service uses them. Without a backend service it only
// reads: a health check left by a crash before the backend service existed
// is deleted, nothing else is tried.
func deleteBackendService(ctx context.Context, api *computeclient.Client, p Params, base string, bs *compute.BackendService) error {
	if bs == nil {
		hc, err := api.GetRegionHealthCheck(ctx, p.Region, base)
		if computeclient.IsNotFound(err) {
			return nil
		}
		if err != nil {
			return err
		}
		if p.Owner.Owns(hc.Name, hc.Description) {
			return deleteRegionHealthCheck(ctx, api, p.Region, base)
		}
		return nil
	}
	if !p.Owner.Owns(bs.Name, bs.Description) {
		return nil
	}
	if err := api.DeleteRegionBackendService(ctx, p.Region, bs.Name); err != nil && !computeclient.IsNotFound(err) {
		return fmt.Errorf("delete backend service %s: %w", bs.Name, err)
	}
	var fns []func() error
	for _, hc := range bs.HealthChecks {
		fns = append(fns, func() error { return deleteRegionHealthCheck(ctx, api, p.Region, lastSegment(hc)) })
	}
	for _, b := range bs.Backends {
		parts := strings.Split(b.Group, "/")
		if len(parts) < 4 {
			continue
		}
		zone, name := parts[len(parts)-3], parts[len(parts)-1]
		fns = append(fns, func() error {
			// In use by another Service's backend service: it stays.
			err := api.DeleteInstanceGroup(ctx, zone, name)
			if err == nil {
				forgetGroup(api, b.Group)
			}
			if err == nil || computeclient.IsNotFound(err) || computeclient.IsInUse(err) {
				return nil
			}
			return fmt.Errorf("delete instance group %s: %w", name, err)
		})
	}
	return parallel(fns...)
}

func lastSegment(s string) string { return s[strings.LastIndex(s, "/")+1:] }
