package fakegce_test

import (
	"strings"
	"testing"

	"google.golang.org/api/compute/v1"
)

// A client whose API base is fake-gce's own endpoint builds its links from
// that base: the upstream GCE provider's network URL is api-endpoint +
// "projects/P/global/networks/N" (kubernetes/cloud-provider-gcp
// providers/gce/gce.go, gceNetworkURL). fake-gce takes a link rooted at any
// endpoint's /compute/v1/ or /compute/beta/ and answers the canonical one.
func TestLinksRootedAtTheClientsEndpointAreAcceptedAndAnsweredCanonical(t *testing.T) {
	c := start(t)
	defaultNetwork(t, c)
	insertInstance(t, c, newInstance("vm"))
	p := "projects/" + c.Project
	beta := strings.TrimSuffix(c.Endpoint, "v1/") + "beta/"
	tests := []struct {
		name string
		root string
	}{
		{"the fake's own /compute/v1/", c.Endpoint},
		{"the fake's own /compute/beta/", beta},
		{"another endpoint's /compute/v1/", "https://compute-example.p.googleapis.com/compute/v1/"},
	}
	for i, tt := range tests {
		t.Run("a firewall's network and a target pool's instances rooted at "+tt.name, func(t *testing.T) {
			fw := newFirewall(strings.Repeat("f", i+1))
			fw.Network = tt.root + p + "/global/networks/default"
			insertFirewall(t, c, fw)
			got, err := c.Compute.Firewalls.Get(c.Project, fw.Name).Do()
			if err != nil {
				t.Fatal(err)
			}
			if want := link(p + "/global/networks/default"); got.Network != want {
				t.Errorf("network = %s, want %s", got.Network, want)
			}
			tp := &compute.TargetPool{Name: strings.Repeat("t", i+1),
				Instances: []string{tt.root + p + "/zones/" + zone + "/instances/vm"}}
			insertTargetPool(t, c, tp)
			pool, err := c.Compute.TargetPools.Get(c.Project, region, tp.Name).Do()
			if err != nil {
				t.Fatal(err)
			}
			if want := link(p + "/zones/" + zone + "/instances/vm"); len(pool.Instances) != 1 || pool.Instances[0] != want {
				t.Errorf("instances = %v, want [%s]", pool.Instances, want)
			}
		})
	}
}

func TestALinkOutsideAComputePathIsStillMalformed(t *testing.T) {
	c := start(t)
	defaultNetwork(t, c)
	for _, network := range []string{
		c.HTTP.URL + "/projects/" + c.Project + "/global/networks/default",
		c.HTTP.URL + "/storage/v1/projects/" + c.Project + "/global/networks/default",
	} {
		fw := newFirewall("fw")
		fw.Network = network
		_, err := c.Compute.Firewalls.Insert(c.Project, fw).Do()
		if code, reason := apiError(t, err); code != 400 || reason != "invalid" {
			t.Errorf("network %s: got %d %q (%v), want 400 invalid", network, code, reason, err)
		}
	}
}
