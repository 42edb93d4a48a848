package fakegce_test

import (
	"testing"

	"google.golang.org/api/compute/v1"
)

// A field the client did not send stays absent where the real API leaves it
// out, and is "" where the API answers it empty: both are in the
// recordings of the real API (fixtures/gcp-http-logs), kind by kind.
func TestFieldsAClientDidNotSendAreAnsweredAsTheAPIAnswersThem(t *testing.T) {
	c := start(t)
	customNet := newNetwork("net", customMode)
	wait(t, c)(c.Compute.Networks.Insert(c.Project, customNet).Do())
	wait(t, c)(c.Compute.Networks.Insert(c.Project, newNetwork("bare", customMode)).Do())
	wait(t, c)(c.Compute.Networks.Patch(c.Project, "bare", &compute.Network{RoutingConfig: &compute.NetworkRoutingConfig{RoutingMode: "GLOBAL"}}).Do())
	wait(t, c)(c.Compute.Subnetworks.Insert(c.Project, region, newSubnetwork("sub", "net", "10.2.0.0/16")).Do())
	wait(t, c)(c.Compute.Routes.Insert(c.Project, &compute.Route{Name: "r", Network: "global/networks/net",
		DestRange: "0.0.0.0/0", NextHopIp: "10.2.1.5", Priority: 100}).Do())
	insertFirewall(t, c, newFirewall("fw", onNetwork("net")))
	insertAddress(t, c, "addr")
	vm := newInstance("vm")
	vm.NetworkInterfaces[0].Network = "global/networks/net"
	insertInstance(t, c, vm)
	wait(t, c)(c.Compute.HealthChecks.Insert(c.Project, &compute.HealthCheck{Name: "hc", Type: "TCP",
		TcpHealthCheck: &compute.TCPHealthCheck{Port: 80}}).Do())
	wait(t, c)(c.Compute.InstanceGroups.Insert(c.Project, zone, &compute.InstanceGroup{Name: "ig"}).Do())

	tests := []struct {
		name string
		path string
		// absent are left out; empty are answered "".
		absent, empty []string
	}{
		{name: "a custom-mode network", path: "global/networks/net",
			absent: []string{"description", "mtu", "routingConfig"}},
		{name: "a patched network without subnetworks", path: "global/networks/bare", absent: []string{"subnetworks"}},
		{name: "a subnetwork", path: "regions/" + region + "/subnetworks/sub",
			absent: []string{"description", "enableFlowLogs"}},
		{name: "a route", path: "global/routes/r", absent: []string{"description", "routeType"}},
		{name: "a regional address", path: "regions/" + region + "/addresses/addr",
			absent: []string{"ipVersion"}, empty: []string{"description"}},
		{name: "an instance", path: "zones/" + zone + "/instances/vm", absent: []string{"description"}},
		{name: "its boot disk", path: "zones/" + zone + "/disks/vm", absent: []string{"description"}},
		{name: "a health check", path: "global/healthChecks/hc", absent: []string{"description"}},
		{name: "a firewall", path: "global/firewalls/fw", empty: []string{"description"}},
		{name: "an instance group", path: "zones/" + zone + "/instanceGroups/ig", empty: []string{"description"}},
	}
	for _, tt := range tests {
		t.Run(tt.name+" answers as the recording does", func(t *testing.T) {
			code, obj := rawJSON(t, c, "GET", computePath(c, tt.path), nil)
			if code != 200 {
				t.Fatalf("GET %s = %d %v", tt.path, code, obj)
			}
			for _, f := range tt.absent {
				if v, ok := obj[f]; ok {
					t.Errorf("%s = %s, want it absent", f, jsonText(v))
				}
			}
			for _, f := range tt.empty {
				if v, ok := obj[f]; !ok || v != "" {
					t.Errorf("%s = %s (present %v), want \"\"", f, jsonText(v), ok)
				}
			}
		})
	}
	t.Run("an instance group's listInstances answer has no id or selfLink", func(t *testing.T) {
		code, obj := rawJSON(t, c, "POST", computePath(c, "zones/"+zone+"/instanceGroups/ig/listInstances"), map[string]any{})
		if code != 200 {
			t.Fatalf("listInstances = %d %v", code, obj)
		}
		for _, f := range []string{"id", "selfLink"} {
			if v, ok := obj[f]; ok {
				t.Errorf("%s = %s, want it absent", f, jsonText(v))
			}
		}
	})
}
