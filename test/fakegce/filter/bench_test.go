package filter

import (
	"encoding/json"
	"fmt"
	"testing"
)

// firewalls returns n decoded firewall-like resources, half of them named
// like the load balancer's k8s-fw- rules.
func firewalls(n int) []map[string]any {
	resources := make([]map[string]any, n)
	for i := range resources {
		prefix := "k8s-fw-"
		if i%2 == 1 {
			prefix = "default-allow-"
		}
		resources[i] = map[string]any{
			"kind":              "compute#firewall",
			"id":                fmt.Sprint(1000000000000 + i),
			"creationTimestamp": "2024-03-05T10:20:30.123-08:00",
			"name":              fmt.Sprintf("%sa%031x", prefix, i),
			"network":           "https://www.googleapis.com/compute/v1/projects/p/global/networks/default",
			"priority":          json.Number("1000"),
			"direction":         "INGRESS",
			"sourceRanges":      []any{"0.0.0.0/0"},
			"targetTags":        []any{"k8s-node", fmt.Sprintf("node-%d", i%7)},
			"allowed": []any{map[string]any{
				"IPProtocol": "tcp",
				"ports":      []any{"80", "443"},
			}},
			"disabled": false,
		}
	}
	return resources
}

// BenchmarkMatch10000 reports the time to match 10,000 firewalls; the fake
// server's list calls need this to stay well under 50 ms.
func BenchmarkMatch10000(b *testing.B) {
	resources := firewalls(10000)
	for _, expr := range []string{
		`name eq k8s-fw-.*`,
		`name = "k8s-fw-*" AND targetTags = k8s-node AND priority <= 1000`,
	} {
		f, err := Parse(expr)
		if err != nil {
			b.Fatalf("Parse(%q) returned error: %v", expr, err)
		}
		b.Run(expr, func(b *testing.B) {
			for b.Loop() {
				matched := 0
				for _, resource := range resources {
					if f.Match(resource) {
						matched++
					}
				}
				if matched != 5000 {
					b.Fatalf("matched %d firewalls, want 5000", matched)
				}
			}
			b.ReportMetric(b.Elapsed().Seconds()*1000/float64(b.N), "ms/10000")
		})
	}
}
