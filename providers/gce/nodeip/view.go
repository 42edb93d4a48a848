package nodeip

import (
	"context"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"sync"

	"google.golang.org/api/compute/v1"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/computeclient"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/firewall"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/ownership"
)

// firewallView is the controller's memory of its own firewall rules, so
// that a reconcile that changes nothing makes no call to the cloud. It is
// loaded by one list at start, re-read by a list every resync interval,
// and updated with what Apply wrote after every change; a name it does not
// know is read with one get.
//
// Writes are stamped with a clock so that a list that was under way while a
// rule changed cannot put back the rule as it was before the change.
type firewallView struct {
	api   *computeclient.Client
	owner ownership.Cluster
	// isOurs says whether a listed rule is one of this controller's.
	isOurs func(fw *compute.Firewall) bool

	mu      sync.Mutex
	clock   uint64
	entries map[string]viewEntry
	// listed: a full list was loaded, so a name without an entry is absent.
	listed bool
}

type viewEntry struct {
	rule    *observedRule // nil: no such rule
	unknown bool          // must be read before it is trusted
	at      uint64
}

// observedRule is a rule as the API holds it, with what reconciles read
// from it worked out once.
type observedRule struct {
	fw *compute.Firewall
	// owned: it carries the cluster's marker.
	owned bool
	// admits are the single addresses it lets traffic to (none unless
	// owned and enabled).
	admits map[netip.Addr]bool
	norm   firewall.Rule
	// plain: none of the fields a Rule does not write is set (denied,
	// source tags, service accounts, disabled).
	plain bool
}

// admitted are the addresses the rule admits (none for no rule).
func (o *observedRule) admitted() map[netip.Addr]bool {
	if o == nil {
		return nil
	}
	return o.admits
}

func (v *firewallView) observe(fw *compute.Firewall) *observedRule {
	if fw == nil {
		return nil
	}
	return &observedRule{
		fw: fw, owned: v.owner.Owns(fw.Name, fw.Description), admits: admitted(fw, v.owner),
		norm:  firewall.Normalize(firewall.FromFirewall(fw)),
		plain: len(fw.Denied) == 0 && len(fw.SourceTags) == 0 && len(fw.SourceServiceAccounts) == 0 && len(fw.TargetServiceAccounts) == 0 && !fw.Disabled,
	}
}

// inSync reports, cheaply, that a reconcile of the rule would make no
// call: the observed rule is the desired one (a normalised Rule), or both
// are none. It may answer false for rules firewall.Diff finds equal (then
// the firewall worker runs Diff and makes no call); it never answers true
// for rules Diff would change.
func (o *observedRule) inSync(desired *firewall.Rule) bool {
	if desired == nil {
		return o == nil || !o.owned
	}
	if o == nil || !o.owned || !o.plain {
		return false
	}
	d, n := desired, &o.norm
	return d.Name == n.Name && firewall.SameNetwork(d.Network, n.Network) && d.Direction == n.Direction && d.Priority == n.Priority &&
		slices.Equal(d.SourceRanges, n.SourceRanges) && slices.Equal(d.DestinationRanges, n.DestinationRanges) &&
		slices.Equal(d.TargetTags, n.TargetTags) && firewall.SameDescription(d.Description, n.Description) &&
		slices.EqualFunc(d.Allowed, n.Allowed, func(a, b firewall.Allow) bool { return a.Protocol == b.Protocol && slices.Equal(a.Ports, b.Ports) })
}

// serviceRules are a Service's rules as the view last saw them, one entry
// per name in the order asked for (nil: no such rule).
type serviceRules []*observedRule

// exists: some rule of the Service exists, ours or not.
func (s serviceRules) exists() bool {
	return slices.ContainsFunc(s, func(o *observedRule) bool { return o != nil })
}

// owned: some rule of the Service carries the cluster's marker.
func (s serviceRules) owned() bool {
	return slices.ContainsFunc(s, func(o *observedRule) bool { return o != nil && o.owned })
}

// admitted are the addresses the rules admit together. The map may be a
// rule's own: callers must not change it.
func (s serviceRules) admitted() map[netip.Addr]bool {
	var out map[netip.Addr]bool
	shared := false
	for _, o := range s {
		a := o.admitted()
		switch {
		case len(a) == 0:
		case out == nil:
			out, shared = a, true
		default:
			if shared {
				out, shared = maps.Clone(out), false
			}
			maps.Copy(out, a)
		}
	}
	return out
}

// firewalls are the rules that exist.
func (s serviceRules) firewalls() []*compute.Firewall {
	var out []*compute.Firewall
	for _, o := range s {
		if o != nil {
			out = append(out, o.fw)
		}
	}
	return out
}

// inSync reports, cheaply, that a reconcile of the rules named would make
// no call (see observedRule.inSync): s holds the rules of names, in order.
func (s serviceRules) inSync(names []string, desired []firewall.Rule) bool {
	for i, name := range names {
		var d *firewall.Rule
		for j := range desired {
			if desired[j].Name == name {
				d = &desired[j]
			}
		}
		if !s[i].inSync(d) {
			return false
		}
	}
	return true
}

func newFirewallView(api *computeclient.Client, owner ownership.Cluster, isOurs func(*compute.Firewall) bool) *firewallView {
	return &firewallView{api: api, owner: owner, isOurs: isOurs, entries: map[string]viewEntry{}}
}

// peek returns the rule as last seen, without a call; known is false when
// the view cannot say.
func (v *firewallView) peek(name string) (rule *observedRule, known bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	e, ok := v.entries[name]
	switch {
	case ok && !e.unknown:
		return e.rule, true
	case !ok && v.listed:
		return nil, true
	}
	return nil, false
}

// peekAll is peek of each name; known is false when the view cannot say
// for one of them.
func (v *firewallView) peekAll(names []string) (rules serviceRules, known bool) {
	rules, known = make(serviceRules, len(names)), true
	for i, name := range names {
		var ok bool
		rules[i], ok = v.peek(name)
		known = known && ok
	}
	return rules, known
}

// getAll is get of each name.
func (v *firewallView) getAll(ctx context.Context, names []string) (serviceRules, error) {
	rules := make(serviceRules, len(names))
	for i, name := range names {
		r, err := v.get(ctx, name)
		if err != nil {
			return nil, err
		}
		rules[i] = r
	}
	return rules, nil
}

// get returns the rule, reading it from the API when the view cannot say.
func (v *firewallView) get(ctx context.Context, name string) (*observedRule, error) {
	if r, known := v.peek(name); known {
		return r, nil
	}
	start := v.now()
	fw, err := v.api.GetFirewall(ctx, name)
	if computeclient.IsNotFound(err) {
		fw, err = nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("get firewall %s: %w", name, err)
	}
	r := v.observe(fw)
	v.mu.Lock()
	defer v.mu.Unlock()
	if e, ok := v.entries[name]; !ok || e.at <= start {
		v.entries[name] = viewEntry{rule: r, at: start}
	}
	return r, nil
}

// set records what the API now holds under name (nil: nothing).
func (v *firewallView) set(name string, fw *compute.Firewall) {
	r := v.observe(fw)
	v.mu.Lock()
	defer v.mu.Unlock()
	v.clock++
	v.entries[name] = viewEntry{rule: r, at: v.clock}
}

// forget makes the view read name again: a write to it failed halfway.
func (v *firewallView) forget(name string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.clock++
	v.entries[name] = viewEntry{unknown: true, at: v.clock}
}

func (v *firewallView) now() uint64 {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.clock
}

// refresh re-reads every rule of the cluster with one list and keeps the
// controller's own. Entries written since the list began are kept. It
// returns the rules (as they were, and as they are) whose entry changed.
func (v *firewallView) refresh(ctx context.Context) ([]*compute.Firewall, error) {
	start := v.now()
	fws, err := v.api.ListFirewalls(ctx, v.owner.NamePattern())
	if err != nil {
		return nil, fmt.Errorf("list firewalls of cluster %s: %w", v.owner.Name(), err)
	}
	seen := map[string]*observedRule{}
	for _, fw := range fws {
		if v.isOurs(fw) {
			seen[fw.Name] = v.observe(fw)
		}
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	var changed []*compute.Firewall
	for name, e := range v.entries {
		if _, ok := seen[name]; !ok && e.at <= start {
			delete(v.entries, name)
			if e.rule != nil {
				changed = append(changed, e.rule.fw)
			}
		}
	}
	for name, r := range seen {
		e, ok := v.entries[name]
		if ok && e.at > start {
			continue
		}
		switch {
		case !ok && v.listed, ok && (e.unknown || e.rule == nil):
			changed = append(changed, r.fw)
		case ok && !r.inSync(&e.rule.norm):
			changed = append(changed, e.rule.fw, r.fw)
		}
		v.entries[name] = viewEntry{rule: r, at: start}
	}
	v.listed = true
	return changed, nil
}
