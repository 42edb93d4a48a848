package firewall

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"

	"google.golang.org/api/compute/v1"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/ownership"
)

// Scope says for which of the observed rules the desired set is complete,
// that is, which owned rules Diff may delete when no desired rule names them.
//
// A Service's rules are made by one of its two load balancer modes, and a
// Scope names both the Service and the mode: Diff deletes an owned rule
// whose description carries the Service's UID, that the mode made
// (ownership.FirewallMode) and that no desired rule names. So the external
// mode's reconcile never removes the nodeip mode's rules of the same
// Service, nor the other way round. The zero Scope is complete for nothing:
// Diff then inserts and patches the desired rules and deletes none. Diff
// checks the scope itself on every observed rule, so observed may hold more
// than the scope (all the cluster's rules, say) without putting rules of
// other Services, or of the other mode, at risk.
type Scope struct {
	// ServiceUID is the Service whose rules are covered; "": none.
	ServiceUID string
	// Mode is the mode whose rules are covered: ownership.ModeExternal or
	// ownership.ModeNodeIP; "": none.
	Mode string
}

// ForService is the scope of the external mode's rules of the Service with
// this UID: its load balancer's client and health-check rules.
func ForService(uid string) Scope { return Scope{ServiceUID: uid, Mode: ownership.ModeExternal} }

// ForNodeIP is the scope of the nodeip mode's rules of the Service with this
// UID.
func ForNodeIP(uid string) Scope { return Scope{ServiceUID: uid, Mode: ownership.ModeNodeIP} }

func (s Scope) covers(name, description string) bool {
	if s.ServiceUID == "" || s.Mode == "" {
		return false
	}
	keys, ok := ownership.Parse(description)
	return ok && keys[ownership.ServiceUIDKey] == s.ServiceUID && ownership.FirewallMode(name, keys) == s.Mode
}

// Plan is what Apply does: the calls that bring the observed rules to the
// desired ones, and the desired rules that cannot be had.
type Plan struct {
	// Owner is the cluster the plan acts for; Apply re-checks its marker on
	// every rule before it patches or deletes it.
	Owner     ownership.Cluster
	Inserts   []Rule
	Patches   []Patch
	Deletes   []string
	Conflicts []Conflict
}

// Patch brings the existing rule Name to Rule.
type Patch struct {
	Name string
	Rule Rule
}

// Conflict is a desired rule this cluster cannot have: its name belongs to a
// rule without the cluster's marker, or the rule itself lacks the marker. The
// caller surfaces it to the user; nothing is overwritten.
type Conflict struct {
	Name   string
	Reason string
}

func (c Conflict) Error() string { return "conflict: " + c.Reason }

// Empty reports whether the plan makes no call and reports no conflict.
func (p Plan) Empty() bool {
	return len(p.Inserts) == 0 && len(p.Patches) == 0 && len(p.Deletes) == 0 && len(p.Conflicts) == 0
}

// Diff compares the desired rules with the observed ones and returns the
// fewest calls that make them agree. It is pure.
//
//   - A desired rule with no observed rule of its name is inserted.
//   - One whose observed rule lacks owner's marker is a Conflict.
//   - One whose observed rule is owned but differs, once both are
//     normalised, is patched; if the network or direction differ, which the
//     API will not patch, the rule is deleted and inserted again.
//   - One that equals its observed rule makes no call.
//   - An observed rule no desired rule names is deleted only when owner owns
//     it and scope covers it (see Scope); otherwise it is left alone.
//
// A desired rule that owner would not recognise as its own (name without the
// cluster prefix, description without the marker) is a Conflict too: it could
// never be updated or collected.
func Diff(desired []Rule, observed []*compute.Firewall, owner ownership.Cluster, scope Scope) Plan {
	plan := Plan{Owner: owner}
	byName := map[string]*compute.Firewall{}
	for _, fw := range observed {
		if fw != nil {
			byName[fw.Name] = fw
		}
	}
	wanted := map[string]bool{}
	sorted := slices.Clone(desired)
	slices.SortStableFunc(sorted, func(a, b Rule) int { return strings.Compare(a.Name, b.Name) })
	for _, d := range sorted {
		d = Normalize(d)
		if wanted[d.Name] {
			plan.Conflicts = append(plan.Conflicts, Conflict{Name: d.Name, Reason: "two desired firewall rules share this name"})
			continue
		}
		wanted[d.Name] = true
		if !owner.Owns(d.Name, d.Description) {
			plan.Conflicts = append(plan.Conflicts, Conflict{Name: d.Name,
				Reason: fmt.Sprintf("the desired rule lacks cluster %q's name prefix %q or ownership marker", owner.Name(), owner.Prefix())})
			continue
		}
		fw, exists := byName[d.Name]
		switch {
		case !exists:
			plan.Inserts = append(plan.Inserts, d)
		case !owner.Owns(fw.Name, fw.Description):
			plan.Conflicts = append(plan.Conflicts, Conflict{Name: d.Name, Reason: foreignReason(owner)})
		case needsReplace(d, fw):
			plan.Deletes = append(plan.Deletes, d.Name)
			plan.Inserts = append(plan.Inserts, d)
		case !inSync(d, fw):
			plan.Patches = append(plan.Patches, Patch{Name: d.Name, Rule: d})
		}
	}
	for _, name := range slices.Sorted(maps.Keys(byName)) {
		fw := byName[name]
		if !wanted[name] && owner.Owns(fw.Name, fw.Description) && scope.covers(fw.Name, fw.Description) {
			plan.Deletes = append(plan.Deletes, name)
		}
	}
	slices.Sort(plan.Deletes)
	return plan
}

func foreignReason(owner ownership.Cluster) string {
	return fmt.Sprintf("a firewall rule of this name exists without cluster %q's ownership marker; rename or remove it", owner.Name())
}

// needsReplace reports whether the observed rule differs from the desired one
// in a field the API does not patch: network or direction.
func needsReplace(desired Rule, observed *compute.Firewall) bool {
	o := Normalize(FromFirewall(observed))
	return !SameNetwork(desired.Network, o.Network) || Normalize(desired).Direction != o.Direction
}

// inSync reports whether the observed rule already is the desired one: equal
// once both are normalised, and none of the fields a Rule does not write
// (denied, source tags, service accounts, disabled) set on it by hand.
func inSync(desired Rule, observed *compute.Firewall) bool {
	d, o := Normalize(desired), Normalize(FromFirewall(observed))
	return d.Name == o.Name &&
		SameNetwork(d.Network, o.Network) &&
		d.Direction == o.Direction &&
		d.Priority == o.Priority &&
		slices.Equal(d.SourceRanges, o.SourceRanges) &&
		slices.Equal(d.DestinationRanges, o.DestinationRanges) &&
		slices.Equal(d.TargetTags, o.TargetTags) &&
		slices.EqualFunc(d.Allowed, o.Allowed, func(a, b Allow) bool {
			return a.Protocol == b.Protocol && slices.Equal(a.Ports, b.Ports)
		}) &&
		SameDescription(d.Description, o.Description) &&
		len(observed.Denied) == 0 &&
		len(observed.SourceTags) == 0 &&
		len(observed.SourceServiceAccounts) == 0 &&
		len(observed.TargetServiceAccounts) == 0 &&
		!observed.Disabled
}

// SameNetwork compares network links by project and name, so that the full
// link the API returns equals the one a caller built with another base URL
// (a fake endpoint) or as a partial URL ("global/networks/default", which
// names no project and so matches the network of that name in any).
func SameNetwork(a, b string) bool {
	pa, na := networkID(a)
	pb, nb := networkID(b)
	return na == nb && (pa == pb || pa == "" || pb == "")
}

// networkID is a network link's project ("" for a partial link) and name
// (the link itself when it is a bare name).
func networkID(link string) (project, name string) {
	return ownership.ProjectOf(link), cmp.Or(ownership.SegmentAfter(link, "networks"), link)
}

// SameDescription compares two descriptions as the JSON objects ownership
// writes, so that key order and spacing make no patch. A description
// without ownership.ModeKey equals one that has it and is otherwise alike:
// a rule written before the key existed is not patched for the key alone
// (ownership.FirewallMode tells its mode by its name), and gets it with its
// next real change.
func SameDescription(a, b string) bool {
	if a == b {
		return true
	}
	ka, okA := ownership.Parse(a)
	kb, okB := ownership.Parse(b)
	if !okA || !okB {
		return false
	}
	_, modeA := ka[ownership.ModeKey]
	_, modeB := kb[ownership.ModeKey]
	if modeA != modeB {
		delete(ka, ownership.ModeKey)
		delete(kb, ownership.ModeKey)
	}
	return maps.Equal(ka, kb)
}
