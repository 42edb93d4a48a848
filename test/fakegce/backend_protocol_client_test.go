package fakegce_test

import (
	"testing"

	"google.golang.org/api/compute/v1"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/test/fakegce/fakegcetest"
)

func TestABackendServiceProtocolMustFitTheForwardingRulesThatUseIt(t *testing.T) {
	c := start(t)
	defaultNetwork(t, c)
	insertRegionHealthCheck(t, c, "hc")
	wait(t, c)(c.Compute.RegionBackendServices.Insert(c.Project, region, &compute.BackendService{Name: "bs",
		LoadBalancingScheme: "EXTERNAL", Protocol: "TCP", HealthChecks: []string{"regions/" + region + "/healthChecks/hc"}}).Do())
	toBS := func(name, proto string) *compute.ForwardingRule {
		fr := &compute.ForwardingRule{Name: name, IPProtocol: proto, LoadBalancingScheme: "EXTERNAL",
			BackendService: "regions/" + region + "/backendServices/bs"}
		if proto == "L3_DEFAULT" {
			fr.AllPorts = true
		} else {
			fr.Ports = []string{"53"}
		}
		return fr
	}
	setProtocol := func(c *fakegcetest.Cloud, proto string) error {
		bs, err := c.Compute.RegionBackendServices.Get(c.Project, region, "bs").Do()
		if err != nil {
			t.Fatal(err)
		}
		_, err = doneOp(c)(c.Compute.RegionBackendServices.Patch(c.Project, region, "bs", &compute.BackendService{Protocol: proto, Fingerprint: bs.Fingerprint}).Do())
		return err
	}
	steps := []struct {
		name string
		do   func() error
		want int
	}{
		{"a TCP rule on a TCP backend service is accepted", func() error {
			_, err := doneOp(c)(c.Compute.ForwardingRules.Insert(c.Project, region, toBS("tcp", "TCP")).Do())
			return err
		}, 0},
		{"a UDP rule on a TCP backend service is 400", func() error {
			_, err := doneOp(c)(c.Compute.ForwardingRules.Insert(c.Project, region, toBS("udp", "UDP")).Do())
			return err
		}, 400},
		{"the backend service cannot turn UDP under its TCP rule", func() error { return setProtocol(c, "UDP") }, 400},
		{"UNSPECIFIED serves any L3/L4 rule, the TCP one too", func() error { return setProtocol(c, "UNSPECIFIED") }, 0},
		{"an L3_DEFAULT rule on an UNSPECIFIED backend service is accepted", func() error {
			_, err := doneOp(c)(c.Compute.ForwardingRules.Insert(c.Project, region, toBS("l3", "L3_DEFAULT")).Do())
			return err
		}, 0},
		{"the backend service cannot turn TCP under its L3_DEFAULT rule", func() error { return setProtocol(c, "TCP") }, 400},
		{"once its rules are gone, the protocol changes", func() error {
			for _, name := range []string{"tcp", "l3"} {
				wait(t, c)(c.Compute.ForwardingRules.Delete(c.Project, region, name).Do())
			}
			return setProtocol(c, "UDP")
		}, 0},
	}
	for _, s := range steps {
		if code, reason := apiError(t, s.do()); code != s.want || (code != 0 && reason != "invalid") {
			t.Errorf("%s: got %d %s, want %d", s.name, code, reason, s.want)
		}
	}
}
