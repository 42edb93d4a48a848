package firewall_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"google.golang.org/api/compute/v1"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/firewall"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/ownership"
)

// observed is the rule as the API would hand it back.
func observed(r firewall.Rule, edits ...func(*compute.Firewall)) *compute.Firewall {
	fw := r.Firewall()
	for _, e := range edits {
		e(fw)
	}
	return fw
}

func rules(rs ...firewall.Rule) []firewall.Rule { return rs }

func firewalls(fws ...*compute.Firewall) []*compute.Firewall { return fws }

func TestDiff(t *testing.T) {
	web := newRule("web", webUID)
	webName := web.Name
	tests := []struct {
		name     string
		desired  []firewall.Rule
		observed []*compute.Firewall
		scope    firewall.Scope
		want     firewall.Plan
	}{
		{
			name:     "a no-change resync makes an empty plan even with reordered ranges, ports and tags",
			desired:  rules(newRule("web", webUID, withSourceRanges("10.0.0.0/8", "192.168.0.0/16"), withTargetTags("a", "b"), withPorts("tcp", "80", "443", "81"))),
			observed: firewalls(observed(newRule("web", webUID, withSourceRanges("192.168.0.0/16", "10.0.0.0/8"), withTargetTags("b", "a", "b"), withPorts("TCP", "443", "80-81")))),
			scope:    firewall.ForService(webUID),
		},
		{
			name:     "defaults compare equal: priority 0 is 1000 and an empty direction is INGRESS",
			desired:  rules(newRule("web", webUID, withPriority(0), withDirection(""))),
			observed: firewalls(observed(web)),
			scope:    firewall.ForService(webUID),
		},
		{
			name:     "the same network given as a partial link compares equal",
			desired:  rules(newRule("web", webUID, withNetwork("projects/fake-project/global/networks/default"))),
			observed: firewalls(observed(web)),
		},
		{
			name:     "a new rule is one insert",
			desired:  rules(web),
			observed: nil,
			want:     firewall.Plan{Inserts: rules(firewall.Normalize(web))},
		},
		{
			name:     "a changed source range is one patch",
			desired:  rules(newRule("web", webUID, withSourceRanges("10.0.0.0/8"))),
			observed: firewalls(observed(newRule("web", webUID, withSourceRanges("172.16.0.0/12")))),
			want:     firewall.Plan{Patches: []firewall.Patch{{Name: webName, Rule: newRule("web", webUID, withSourceRanges("10.0.0.0/8"))}}},
		},
		{
			name:     "an added port is one patch",
			desired:  rules(newRule("web", webUID, withPorts("tcp", "80", "443"))),
			observed: firewalls(observed(web)),
			want:     firewall.Plan{Patches: []firewall.Patch{{Name: webName, Rule: newRule("web", webUID, withPorts("tcp", "80", "443"))}}},
		},
		{
			name:     "a changed description is one patch",
			desired:  rules(newRule("web", webUID, withDescription(owner.Description(map[string]string{ownership.ServiceUIDKey: webUID, ownership.ServiceKey: "shop/web"})))),
			observed: firewalls(observed(web)),
			want: firewall.Plan{Patches: []firewall.Patch{{Name: webName,
				Rule: newRule("web", webUID, withDescription(owner.Description(map[string]string{ownership.ServiceUIDKey: webUID, ownership.ServiceKey: "shop/web"})))}}},
		},
		{
			name:     "a rule disabled by hand is patched back",
			desired:  rules(web),
			observed: firewalls(observed(web, func(fw *compute.Firewall) { fw.Disabled = true })),
			want:     firewall.Plan{Patches: []firewall.Patch{{Name: webName, Rule: web}}},
		},
		{
			name:     "a rule given source tags by hand is patched back",
			desired:  rules(web),
			observed: firewalls(observed(web, func(fw *compute.Firewall) { fw.SourceTags = []string{"bastion"} })),
			want:     firewall.Plan{Patches: []firewall.Patch{{Name: webName, Rule: web}}},
		},
		{
			name:     "an owned rule of the Service that no desired rule names is deleted",
			desired:  rules(web),
			observed: firewalls(observed(web), observed(newRule("web-udp", webUID))),
			scope:    firewall.ForService(webUID),
			want:     firewall.Plan{Deletes: []string{owner.ResourceName("fw", "web-udp")}},
		},
		{
			name:     "an owned rule that no desired rule names is kept when the scope is not given",
			desired:  rules(web),
			observed: firewalls(observed(web), observed(newRule("web-udp", webUID))),
		},
		{
			name:     "an owned rule of another Service is kept, even when observed holds it",
			desired:  rules(web),
			observed: firewalls(observed(web), observed(newRule("api", apiUID))),
			scope:    firewall.ForService(webUID),
		},
		{
			name:     "a foreign rule that no desired rule names is never deleted, even with the Service's UID in its description",
			desired:  nil,
			observed: firewalls(observed(newRule("web", webUID, withDescription(`{"cloud-provider-vpc.io/service-uid":"`+webUID+`"}`)))),
			scope:    firewall.ForService(webUID),
		},
		{
			name:     "a rule with the cluster's prefix whose marker names another cluster is foreign",
			desired:  nil,
			observed: firewalls(observed(newRule("web", webUID, withDescription(ownership.ForCluster("staging").Description(map[string]string{ownership.ServiceUIDKey: webUID}))))),
			scope:    firewall.ForService(webUID),
		},
		{
			name:     "a foreign rule with a desired name is a conflict, not a patch",
			desired:  rules(newRule("web", webUID, withPorts("tcp", "443"))),
			observed: firewalls(observed(newRule("web", webUID, foreign()))),
			scope:    firewall.ForService(webUID),
			want: firewall.Plan{Conflicts: []firewall.Conflict{{Name: webName,
				Reason: `a firewall rule of this name exists without cluster "prod-east"'s ownership marker; rename or remove it`}}},
		},
		{
			name:    "a desired rule without the cluster's marker is a conflict and is not inserted",
			desired: rules(newRule("web", webUID, foreign())),
			want: firewall.Plan{Conflicts: []firewall.Conflict{{Name: webName,
				Reason: `the desired rule lacks cluster "prod-east"'s name prefix "` + owner.Prefix() + `" or ownership marker`}}},
		},
		{
			name:    "two desired rules of one name are a conflict; the first is kept",
			desired: rules(web, newRule("web", webUID, withPorts("tcp", "443"))),
			want: firewall.Plan{
				Inserts:   rules(web),
				Conflicts: []firewall.Conflict{{Name: webName, Reason: "two desired firewall rules share this name"}},
			},
		},
		{
			name:     "a network change is a delete and an insert",
			desired:  rules(newRule("web", webUID, withNetwork(otherNetwork))),
			observed: firewalls(observed(web)),
			scope:    firewall.ForService(webUID),
			want: firewall.Plan{
				Deletes: []string{webName},
				Inserts: rules(newRule("web", webUID, withNetwork(otherNetwork))),
			},
		},
		{
			name:     "a direction change is a delete and an insert",
			desired:  rules(newRule("web", webUID, withDirection(firewall.Egress))),
			observed: firewalls(observed(web)),
			want: firewall.Plan{
				Deletes: []string{webName},
				Inserts: rules(newRule("web", webUID, withDirection(firewall.Egress))),
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := firewall.Diff(tt.desired, tt.observed, owner, tt.scope)
			if diff := cmp.Diff(tt.want, got, cmpopts.IgnoreFields(firewall.Plan{}, "Owner"), cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("Diff (-want +got):\n%s", diff)
			}
			if got.Owner.Name() != owner.Name() {
				t.Errorf("plan owner = %q, want %q", got.Owner.Name(), owner.Name())
			}
			if tt.want.Empty() != got.Empty() {
				t.Errorf("Empty() = %v, want %v", got.Empty(), tt.want.Empty())
			}
		})
	}
}

func TestDiffOutputIsSortedByName(t *testing.T) {
	got := firewall.Diff(rules(newRule("c", webUID), newRule("a", webUID), newRule("b", webUID)), nil, owner, firewall.Scope{})
	var names []string
	for _, r := range got.Inserts {
		names = append(names, r.Name)
	}
	want := []string{owner.ResourceName("fw", "a"), owner.ResourceName("fw", "b"), owner.ResourceName("fw", "c")}
	if diff := cmp.Diff(want, names); diff != "" {
		t.Errorf("insert order (-want +got):\n%s", diff)
	}
}

// One comparison of network links serves the firewall package and nodeip:
// links from another base URL, or partial ones, name the same network.
func TestSameNetwork(t *testing.T) {
	const full = "https://www.googleapis.com/compute/v1/projects/p/global/networks/default"
	for _, tc := range []struct {
		a, b string
		want bool
	}{
		{full, full, true},
		{full, "http://127.0.0.1:8085/compute/v1/projects/p/global/networks/default", true},
		{full, "projects/p/global/networks/default", true},
		{full, "global/networks/default", true},
		{full, "default", true},
		{full, "projects/q/global/networks/default", false},
		{full, "https://www.googleapis.com/compute/v1/projects/p/global/networks/other", false},
		{"global/networks/a", "global/networks/b", false},
	} {
		if got := firewall.SameNetwork(tc.a, tc.b); got != tc.want {
			t.Errorf("SameNetwork(%q, %q) = %v, want %v", tc.a, tc.b, got, tc.want)
		}
		if got := firewall.SameNetwork(tc.b, tc.a); got != tc.want {
			t.Errorf("SameNetwork(%q, %q) = %v, want %v (not symmetric)", tc.b, tc.a, got, tc.want)
		}
	}
}
