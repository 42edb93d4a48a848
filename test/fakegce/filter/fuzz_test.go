package filter

import (
	"strings"
	"testing"
)

// FuzzParse checks that Parse never panics, that it enforces its length
// limit, and that Match never panics on what Parse accepts.
func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		``,
		`name eq k8s-fw-.*`,
		`(name eq k8s-.*) (network ne ".*/default")`,
		`name ne 'a\'b'`,
		`name = "k8s-*" AND targetTags = k8s-node`,
		`(x = true) OR (y = true) AND (z = true)`,
		`NOT labels.owner:* OR -tags.items:k8s-node`,
		`id > 18446744073709551614 disks.diskSizeGb <= 1e3`,
		`creationTimestamp >= 2024-01-01T00:00:00Z`,
		`labels:env allowed.ports != "80"`,
		strings.Repeat("(", 70) + "a = 1" + strings.Repeat(")", 70),
	} {
		f.Add(seed)
	}
	instance := decodeResource(f, instanceJSON)
	firewall := decodeResource(f, firewallJSON)
	f.Fuzz(func(t *testing.T, expr string) {
		filter, err := Parse(expr)
		if err != nil {
			if err.Error() == "" {
				t.Fatalf("Parse(%q) returned an empty error", expr)
			}
			return
		}
		if len(expr) > maxLength {
			t.Fatalf("Parse accepted %d bytes, more than the limit of %d", len(expr), maxLength)
		}
		filter.Match(instance)
		filter.Match(firewall)
		filter.Match(nil)
	})
}
