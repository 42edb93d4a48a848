package filter

import (
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestAIPDialectOnInstance(t *testing.T) {
	runMatchCases(t, instanceJSON, []matchCase{
		{name: "equality on a string is exact", filter: `name = k8s-node-1`, want: true},
		{name: "equality on a string is not a regular expression", filter: `name = k8s-.*`, want: false},
		{name: "equality does not match a prefix", filter: `name = k8s-node`, want: false},
		{name: "a double-quoted value is accepted", filter: `name = "k8s-node-1"`, want: true},
		{name: "a single-quoted value is accepted", filter: `name = 'k8s-node-1'`, want: true},
		{name: "a quoted value may contain spaces", filter: `cpuPlatform = "Intel Skylake"`, want: true},
		{name: "a quoted value may contain an escaped quote", filter: `cpuPlatform != "Intel \"Skylake\""`, want: true},
		{name: "spaces around the comparator are optional", filter: `name=k8s-node-1`, want: true},
		{name: "inequality holds for a different value", filter: `name != example-instance`, want: true},
		{name: "inequality fails for the same value", filter: `name != k8s-node-1`, want: false},
		{name: "a wildcard matches a prefix", filter: `name = "k8s-*"`, want: true},
		{name: "an unquoted wildcard matches a prefix", filter: `name = k8s-*`, want: true},
		{name: "a wildcard matches a suffix", filter: `name = "*-1"`, want: true},
		{name: "a wildcard matches inside", filter: `zone = "*/zones/us-*-a"`, want: true},
		{name: "a wildcard still anchors the rest", filter: `name = "k8s-*-2"`, want: false},
		{name: "a wildcard treats other characters literally", filter: `name = "k8s.node*"`, want: false},
		{name: "inequality with a wildcard negates the match", filter: `name != "gke-*"`, want: true},
		{name: "a nested boolean equals true", filter: `scheduling.automaticRestart = true`, want: true},
		{name: "a nested boolean does not equal false", filter: `scheduling.automaticRestart = false`, want: false},
		{name: "a false boolean equals false", filter: `canIpForward = false`, want: true},
		{name: "a label equals its value", filter: `labels.env = prod`, want: true},
		{name: "a missing label does not satisfy equality", filter: `labels.owner = alice`, want: false},
		{name: "a missing label satisfies inequality", filter: `labels.owner != alice`, want: true},
		{name: "a missing field does not satisfy an ordering", filter: `labels.owner > a`, want: false},
		{name: "has-star holds for a present label", filter: `labels.env:*`, want: true},
		{name: "has-star fails for a missing label", filter: `labels.owner:*`, want: false},
		{name: "has-star holds for a present object", filter: `scheduling:*`, want: true},
		{name: "has-star fails for a null field", filter: `shieldedInstanceConfig:*`, want: false},
		{name: "has on a map holds when the key is present", filter: `labels:env`, want: true},
		{name: "has on a map fails when the key is missing", filter: `labels:owner`, want: false},
		{name: "has on a string behaves like equality", filter: `labels.env:prod`, want: true},
		{name: "has on a string is not a substring match", filter: `labels.env:pro`, want: false},
		{name: "has on a string accepts a wildcard", filter: `labels.env:"pr*"`, want: true},
		{name: "has on a repeated field holds when an element equals", filter: `tags.items:k8s-node`, want: true},
		{name: "has on a repeated field fails when no element equals", filter: `tags.items:k8s`, want: false},
		{name: "equality on a repeated field holds when an element equals", filter: `tags.items = k8s-node`, want: true},
		{name: "inequality on a repeated field fails when an element equals", filter: `tags.items != k8s-node`, want: false},
		{name: "an IP address needs no quotes", filter: `networkInterfaces.networkIP = 10.0.0.2`, want: true},
		{name: "a path through an array holds for the second element", filter: `networkInterfaces.networkIP = 10.1.0.2`, want: true},
		{name: "a path through two arrays holds for a nested element", filter: `networkInterfaces.accessConfigs.natIP = 34.1.2.3`, want: true},
		{name: "a path through an array fails when no element equals", filter: `networkInterfaces.networkIP = 10.0.0.3`, want: false},
		{name: "an int64 string compares numerically with greater-than", filter: `disks.diskSizeGb > 1000`, want: true},
		{name: "numeric order is not lexical order", filter: `disks.diskSizeGb > 900`, want: true},
		{name: "less-than holds for a smaller number", filter: `labels.tier < 2`, want: true},
		{name: "less-or-equal holds for an equal number", filter: `labels.tier <= 1`, want: true},
		{name: "greater-or-equal fails for a smaller number", filter: `labels.tier >= 2`, want: false},
		{name: "an int64 id compares exactly beyond float precision", filter: `id > 7752282213453434522`, want: true},
		{name: "an int64 id is not greater than itself", filter: `id > 7752282213453434523`, want: false},
		{name: "a quoted number still compares numerically", filter: `labels.tier = "1.0"`, want: true},
		{name: "a timestamp compares lexically", filter: `creationTimestamp > "2024-01-01T00:00:00Z"`, want: true},
		{name: "an unquoted timestamp needs no quotes", filter: `creationTimestamp < 2024-01-01T00:00:00Z`, want: false},
		{name: "strings order lexically", filter: `status >= RUN`, want: true},
		{name: "an object does not equal a value", filter: `scheduling = true`, want: false},
		{name: "a field name may not be a regular expression operator", filter: `name != eq`, want: true},
		{name: "lower-case and is an ordinary value", filter: `name != and`, want: true},
	})
}

func TestAIPDialectOnFirewall(t *testing.T) {
	runMatchCases(t, firewallJSON, []matchCase{
		{name: "a JSON number equals an integer", filter: `priority = 1000`, want: true},
		{name: "a JSON number equals the same number written differently", filter: `priority = 1e3`, want: true},
		{name: "a JSON number compares numerically", filter: `priority < 65535`, want: true},
		{name: "a fractional JSON number compares numerically", filter: `weight >= 0.25`, want: true},
		{name: "a fractional number compares with an integer", filter: `weight < 1`, want: true},
		{name: "a negative number is a value", filter: `priority > -1`, want: true},
		{name: "the largest uint64 id compares exactly", filter: `id > 18446744073709551614`, want: true},
		{name: "the largest uint64 id equals itself", filter: `id = 18446744073709551615`, want: true},
		{name: "a CIDR needs no quotes", filter: `sourceRanges = 0.0.0.0/0`, want: true},
		{name: "has on a repeated CIDR field holds", filter: `sourceRanges:0.0.0.0/0`, want: true},
		{name: "a repeated field nested in an array holds for any element", filter: `allowed.ports = 443`, want: true},
		{name: "a path through an array reaches a field of each element", filter: `allowed.IPProtocol = tcp`, want: true},
		{name: "a URL value needs no quotes", filter: `network = https://www.googleapis.com/compute/v1/projects/p/global/networks/default`, want: true},
		{name: "a wildcard matches the end of a URL", filter: `network = "*/networks/default"`, want: true},
		{name: "the discovery document's example of ANDed parentheses", filter: "(direction = INGRESS)\n(disabled = false)", want: true},
		{name: "an AIP form of the firewall lookup", filter: `name = "k8s-fw-*" AND targetTags = k8s-node`, want: true},
	})
}

// TestAIPPrecedence checks the AIP-160 rule that OR binds tighter than AND
// (google.aip.dev/160: "`a AND b OR c` evaluates: `a AND (b OR c)`"), and
// that NOT and '-' bind tightest.
func TestAIPPrecedence(t *testing.T) {
	// Eight resources, one for each combination of the booleans x, y and z,
	// named by their values: "x-z" has x and z true and y false.
	var resources []map[string]any
	for bits := range 8 {
		name := []byte("---")
		resource := map[string]any{}
		for i, field := range []string{"x", "y", "z"} {
			resource[field] = bits&(4>>i) != 0
			if resource[field] == true {
				name[i] = field[0]
			}
		}
		resource["name"] = string(name)
		resources = append(resources, resource)
	}
	tests := []struct {
		name   string
		filter string
		want   []string
	}{
		{
			name:   "OR binds tighter than AND on its right",
			filter: `x = true AND y = true OR z = true`, // x AND (y OR z)
			want:   []string{"x-z", "xy-", "xyz"},
		},
		{
			name:   "OR binds tighter than AND on its left",
			filter: `x = true OR y = true AND z = true`, // (x OR y) AND z
			want:   []string{"-yz", "x-z", "xyz"},
		},
		{
			name:   "OR binds tighter than juxtaposition",
			filter: `x = true y = true OR z = true`, // x AND (y OR z)
			want:   []string{"x-z", "xy-", "xyz"},
		},
		{
			name:   "the discovery document's example groups the OR first",
			filter: "(x = true) OR\n(y = true) AND\n(z = true)",
			want:   []string{"-yz", "x-z", "xyz"},
		},
		{
			name:   "parentheses override precedence",
			filter: `(x = true AND y = true) OR z = true`,
			want:   []string{"--z", "-yz", "x-z", "xy-", "xyz"},
		},
		{
			name:   "NOT binds tighter than OR",
			filter: `NOT x = true OR y = true`, // (NOT x) OR y
			want:   []string{"---", "--z", "-y-", "-yz", "xy-", "xyz"},
		},
		{
			name:   "minus binds tighter than AND",
			filter: `-x = true AND y = true`, // (NOT x) AND y
			want:   []string{"-y-", "-yz"},
		},
		{
			name:   "NOT applies to a whole parenthesised expression",
			filter: `NOT (x = true OR y = true)`,
			want:   []string{"---", "--z"},
		},
		{
			name:   "NOT may be written directly before a parenthesis",
			filter: `NOT(x = true OR y = true)`,
			want:   []string{"---", "--z"},
		},
		{
			name:   "minus negates a parenthesised expression",
			filter: `-(x = true) z = true`,
			want:   []string{"--z", "-yz"},
		},
		{
			name:   "a chain of ORs holds when any holds",
			filter: `x = true OR y = true OR z = true`,
			want:   []string{"--z", "-y-", "-yz", "x--", "x-z", "xy-", "xyz"},
		},
		{
			name:   "nested parentheses group as written",
			filter: `((x = true OR y = true) AND (NOT z = true))`,
			want:   []string{"-y-", "x--", "xy-"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, err := Parse(tc.filter)
			if err != nil {
				t.Fatalf("Parse(%q) returned error: %v", tc.filter, err)
			}
			got := []string{}
			for _, resource := range resources {
				if f.Match(resource) {
					got = append(got, fmt.Sprint(resource["name"]))
				}
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Parse(%q) matched the wrong resources (-want +got):\n%s", tc.filter, diff)
			}
		})
	}
}
