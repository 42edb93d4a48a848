package ownership

import (
	"regexp"
	"strings"
	"testing"
)

var validName = regexp.MustCompile(`^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$`)

func TestResourceNamesAreValidAndOwned(t *testing.T) {
	tests := []struct {
		name    string
		cluster string
		kind    string
		id      string
	}{
		{name: "a default cluster name and a node UID", cluster: "kubernetes", kind: "r", id: "5f0c1d2e-8a1b-4c3d-9e8f-0a1b2c3d4e5f"},
		{name: "a cluster name with capitals and dots", cluster: "Prod.EU_West", kind: "fw", id: "abc"},
		{name: "a long cluster name", cluster: strings.Repeat("very-long-cluster-", 5), kind: "r", id: "5f0c1d2e-8a1b-4c3d-9e8f-0a1b2c3d4e5f"},
		{name: "an id too long to fit", cluster: "c", kind: "hc", id: strings.Repeat("x", 80)},
		{name: "a cluster name with no letters", cluster: "---", kind: "r", id: "1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := ForCluster(tt.cluster)
			n := c.ResourceName(tt.kind, tt.id)
			if !validName.MatchString(n) || len(n) > 63 {
				t.Fatalf("ResourceName = %q, not a valid compute name", n)
			}
			if !c.Owns(n, c.Description(nil)) {
				t.Errorf("cluster does not own its own resource %q", n)
			}
			if len(c.Prefix()) > 20 {
				t.Errorf("Prefix %q is longer than 20 characters", c.Prefix())
			}
		})
	}
}

func TestOwnsRequiresPrefixAndMarker(t *testing.T) {
	c := ForCluster("kubernetes")
	other := ForCluster("other")
	name := c.ResourceName("r", "node-uid")
	tests := []struct {
		name        string
		resource    string
		description string
		want        bool
	}{
		{name: "our name and our marker", resource: name, description: c.Description(map[string]string{NodeKey: "n1"}), want: true},
		{name: "our name without a marker", resource: name, description: "", want: false},
		{name: "our name with free text", resource: name, description: "created by hand", want: false},
		{name: "our name with another cluster's marker", resource: name, description: other.Description(nil), want: false},
		{name: "a foreign name with our marker", resource: "default-route-1", description: c.Description(nil), want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := c.Owns(tt.resource, tt.description); got != tt.want {
				t.Errorf("Owns(%q, %q) = %v, want %v", tt.resource, tt.description, got, tt.want)
			}
		})
	}
}

func TestPrefixesDifferBetweenClusters(t *testing.T) {
	if ForCluster("a").Prefix() == ForCluster("A").Prefix() {
		t.Errorf("clusters a and A share a prefix")
	}
}

// Two service projects of one Shared VPC host write their firewall rules and
// routes into the host project, on one network: a cluster of one name in
// each must own only its own.
func TestClustersOfOneNameInTwoServiceProjectsOwnOnlyTheirOwn(t *testing.T) {
	a := ForCluster("prod").InServiceProject("team-a")
	b := ForCluster("prod").InServiceProject("team-b")
	host := ForCluster("prod")
	if a.Prefix() == b.Prefix() || a.Prefix() == host.Prefix() {
		t.Fatalf("prefixes %q, %q and %q are not all different", a.Prefix(), b.Prefix(), host.Prefix())
	}
	tests := []struct {
		name  string
		owner Cluster
		of    Cluster
		want  bool
	}{
		{name: "a service project's cluster owns its own rule", owner: a, of: a, want: true},
		{name: "a service project's cluster does not own the other service project's rule", owner: a, of: b, want: false},
		{name: "a service project's cluster does not own the host project's cluster's rule", owner: a, of: host, want: false},
		{name: "the host project's cluster does not own a service project's rule", owner: host, of: a, want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			name := tt.of.ResourceName("fw", "5f0c1d2e8a1b4c3d9e8f0a1b2c3d4e5f")
			desc := tt.of.Description(nil)
			if got := tt.owner.Owns(name, desc); got != tt.want {
				t.Errorf("Owns(%q, %q) = %v, want %v", name, desc, got, tt.want)
			}
			// The marker alone decides too: a rule named like the owner's
			// but marked by the other cluster is not the owner's.
			if got := tt.owner.Owns(tt.owner.ResourceName("fw", "x"), desc); got != tt.want {
				t.Errorf("Owns(owner's name, %q) = %v, want %v", desc, got, tt.want)
			}
		})
	}
}

// A cluster whose project holds its network keeps the names and marker it
// had before service projects were told apart: its resources stay its own
// after an upgrade.
func TestAClusterOutsideASharedVPCKeepsItsNamesAndMarker(t *testing.T) {
	c := ForCluster("prod")
	// The prefix every release so far gave the cluster "prod".
	if got, want := c.Prefix(), "cpv-prod-6754-"; got != want {
		t.Errorf("Prefix = %q, want %q", got, want)
	}
	if got, want := c.Description(map[string]string{NodeKey: "n1"}), `{"cloud-provider-vpc.io/cluster":"prod","cloud-provider-vpc.io/node":"n1"}`; got != want {
		t.Errorf("Description = %s, want %s", got, want)
	}
	if got, want := c.InServiceProject("").Prefix(), c.Prefix(); got != want {
		t.Errorf("InServiceProject(\"\").Prefix() = %q, want the plain prefix %q", got, want)
	}
}

func TestFirewallModeReadsTheKeyAndClassifiesOlderRulesByName(t *testing.T) {
	c := ForCluster("prod")
	base := c.ResourceName("lb", "0a1b2c3d4e5f60718293a4b5c6d7e8f9")
	svc := map[string]string{ServiceKey: "default/web", ServiceUIDKey: "0a1b2c3d-4e5f-6071-8293-a4b5c6d7e8f9"}
	with := func(mode string) map[string]string {
		keys := map[string]string{ModeKey: mode}
		for k, v := range svc {
			keys[k] = v
		}
		return keys
	}
	tests := []struct {
		name string
		rule string
		keys map[string]string
		want string
	}{
		{name: "a nodeip rule that records its mode", rule: base + "-nip", keys: with(ModeNodeIP), want: ModeNodeIP},
		{name: "an external rule that records its mode", rule: base + "-fw", keys: with(ModeExternal), want: ModeExternal},
		{name: "the recorded mode wins over the name", rule: base + "-nip", keys: with(ModeExternal), want: ModeExternal},
		{name: "an older IPv4 nodeip rule, by its name", rule: base + "-nip", keys: svc, want: ModeNodeIP},
		{name: "an older IPv6 nodeip rule, by its name", rule: base + "-nip6", keys: svc, want: ModeNodeIP},
		{name: "an older client rule is the external mode's", rule: base + "-fw", keys: svc, want: ModeExternal},
		{name: "an older IPv6 health-check rule is the external mode's", rule: base + "-hc6", keys: svc, want: ModeExternal},
		{name: "a rule without any keys is the external mode's", rule: base + "-fw6", keys: nil, want: ModeExternal},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := FirewallMode(tt.rule, tt.keys); got != tt.want {
				t.Errorf("FirewallMode(%q, %v) = %q, want %q", tt.rule, tt.keys, got, tt.want)
			}
		})
	}
}
