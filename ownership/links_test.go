package ownership

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// parsed is what the parse side reads from a link.
type parsed struct {
	Relative                    string
	HasProject                  bool
	Project, Zone, Region, Name string
}

func parse(link string) parsed {
	rel, ok := RelativeLink(link)
	return parsed{Relative: rel, HasProject: ok, Project: ProjectOf(link), Zone: ZoneOf(link), Region: RegionOf(link), Name: LastSegment(link)}
}

func TestEachBuiltLinkIsTheAPIsAndParsesBack(t *testing.T) {
	p := InProject("p1")
	tests := []struct {
		name, link, want string
		parsed           parsed
	}{
		{"an instance", p.Instance("us-central1-a", "node-1"),
			"https://www.googleapis.com/compute/v1/projects/p1/zones/us-central1-a/instances/node-1",
			parsed{"projects/p1/zones/us-central1-a/instances/node-1", true, "p1", "us-central1-a", "", "node-1"}},
		{"an instance group", p.InstanceGroup("us-central1-b", "ig"),
			"https://www.googleapis.com/compute/v1/projects/p1/zones/us-central1-b/instanceGroups/ig",
			parsed{"projects/p1/zones/us-central1-b/instanceGroups/ig", true, "p1", "us-central1-b", "", "ig"}},
		{"a target pool", p.TargetPool("us-central1", "pool"),
			"https://www.googleapis.com/compute/v1/projects/p1/regions/us-central1/targetPools/pool",
			parsed{"projects/p1/regions/us-central1/targetPools/pool", true, "p1", "", "us-central1", "pool"}},
		{"a regional backend service", p.BackendService("europe-west1", "bs"),
			"https://www.googleapis.com/compute/v1/projects/p1/regions/europe-west1/backendServices/bs",
			parsed{"projects/p1/regions/europe-west1/backendServices/bs", true, "p1", "", "europe-west1", "bs"}},
		{"a regional health check", p.HealthCheck("us-central1", "hc"),
			"https://www.googleapis.com/compute/v1/projects/p1/regions/us-central1/healthChecks/hc",
			parsed{"projects/p1/regions/us-central1/healthChecks/hc", true, "p1", "", "us-central1", "hc"}},
		{"a legacy HTTP health check", p.HTTPHealthCheck("hc"),
			"https://www.googleapis.com/compute/v1/projects/p1/global/httpHealthChecks/hc",
			parsed{"projects/p1/global/httpHealthChecks/hc", true, "p1", "", "", "hc"}},
		{"a subnetwork", InProject("host").Subnetwork("us-central1", "nodes"),
			"https://www.googleapis.com/compute/v1/projects/host/regions/us-central1/subnetworks/nodes",
			parsed{"projects/host/regions/us-central1/subnetworks/nodes", true, "host", "", "us-central1", "nodes"}},
		{"a network", InProject("host").Network("shared"),
			"https://www.googleapis.com/compute/v1/projects/host/global/networks/shared",
			parsed{"projects/host/global/networks/shared", true, "host", "", "", "shared"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.link != tt.want {
				t.Errorf("link = %q, want %q", tt.link, tt.want)
			}
			if diff := cmp.Diff(tt.parsed, parse(tt.link)); diff != "" {
				t.Errorf("parsed (-want +got):\n%s", diff)
			}
			if full, ok := FullLink(tt.parsed.Relative); !ok || full != tt.link {
				t.Errorf("FullLink(%q) = %q, %v, want the built link", tt.parsed.Relative, full, ok)
			}
		})
	}
}

func TestLinksOfOtherRootsAndPartialLinksParse(t *testing.T) {
	tests := []struct {
		name, link string
		want       parsed
		full       string // FullLink's answer, "" when it has none
	}{
		{"a fake endpoint's root", "http://127.0.0.1:8080/compute/v1/projects/p/zones/z/instances/i",
			parsed{"projects/p/zones/z/instances/i", true, "p", "z", "", "i"},
			"https://www.googleapis.com/compute/v1/projects/p/zones/z/instances/i"},
		{"a beta root", "https://compute.googleapis.com/compute/beta/projects/p/regions/r/subnetworks/s",
			parsed{"projects/p/regions/r/subnetworks/s", true, "p", "", "r", "s"},
			"https://www.googleapis.com/compute/v1/projects/p/regions/r/subnetworks/s"},
		{"a partial link with a project", "projects/host/global/networks/vpc",
			parsed{"projects/host/global/networks/vpc", true, "host", "", "", "vpc"},
			"https://www.googleapis.com/compute/v1/projects/host/global/networks/vpc"},
		{"a partial link without a project", "global/networks/default",
			parsed{"", false, "", "", "", "default"}, ""},
		{"a zonal partial link", "zones/us-central1-a/instances/vm",
			parsed{"", false, "", "us-central1-a", "", "vm"}, ""},
		{"a bare name", "default", parsed{"", false, "", "", "", "default"}, ""},
		{"a trailing slash", "projects/p/global/networks/vpc/",
			parsed{"projects/p/global/networks/vpc/", true, "p", "", "", "vpc"},
			"https://www.googleapis.com/compute/v1/projects/p/global/networks/vpc/"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, parse(tt.link)); diff != "" {
				t.Errorf("parsed (-want +got):\n%s", diff)
			}
			full, ok := FullLink(tt.link)
			if full != tt.full || ok != (tt.full != "") {
				t.Errorf("FullLink = %q, %v, want %q", full, ok, tt.full)
			}
		})
	}
}

func TestSameLinkIgnoresTheRootAndMatchesPartialLinks(t *testing.T) {
	const full = "https://www.googleapis.com/compute/v1/projects/p/zones/z/instances/i"
	tests := []struct {
		name, a, b string
		want       bool
	}{
		{"the same link", full, full, true},
		{"another endpoint's root", full, "http://127.0.0.1:1/compute/v1/projects/p/zones/z/instances/i", true},
		{"a partial link with the project", full, "projects/p/zones/z/instances/i", true},
		{"a partial link without the project", "zones/z/instances/i", full, true},
		{"a bare name", full, "i", true},
		{"another project", full, "projects/q/zones/z/instances/i", false},
		{"another zone, partially", full, "zones/y/instances/i", false},
		{"a name that only ends the same", full, "xi", false},
		{"an empty link", full, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := SameLink(tt.a, tt.b); got != tt.want {
				t.Errorf("SameLink(%q, %q) = %v, want %v", tt.a, tt.b, got, tt.want)
			}
		})
	}
}
