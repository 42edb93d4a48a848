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
