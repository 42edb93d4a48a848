package fakegce_test

import (
	"net/http"
	"testing"

	"google.golang.org/api/compute/v1"
)

// A dual-stack backend service's backends are checked over IPv4 and IPv6,
// and backendServices.getHealth answers the two apart (healthState,
// ipv6HealthState): the packet lab's data plane reports each.
func TestReportedIPv6HealthIsTheIPv6HealthStateOfADualStackBackendService(t *testing.T) {
	c := start(t)
	p := c.Project
	wait(t, c)(c.Compute.Networks.Insert(p, &compute.Network{Name: "net", ForceSendFields: []string{"AutoCreateSubnetworks"}}).Do())
	wait(t, c)(c.Compute.Subnetworks.Insert(p, region, &compute.Subnetwork{Name: "ds", Network: "global/networks/net", IpCidrRange: "10.0.0.0/24",
		StackType: "IPV4_IPV6", Ipv6AccessType: "EXTERNAL"}).Do())
	sub, err := c.Compute.Subnetworks.Get(p, region, "ds").Do()
	if err != nil {
		t.Fatal(err)
	}
	vm := newInstance("vm1")
	vm.NetworkInterfaces = []*compute.NetworkInterface{{Network: "global/networks/net", Subnetwork: sub.SelfLink,
		StackType: "IPV4_IPV6", Ipv6Address: "2600:1900:4000:1::2"}}
	insertInstance(t, c, vm)
	insertRegionHealthCheck(t, c, "hc")
	wait(t, c)(c.Compute.InstanceGroups.Insert(p, zone, &compute.InstanceGroup{Name: "ig", Network: "global/networks/net"}).Do())
	wait(t, c)(c.Compute.InstanceGroups.AddInstances(p, zone, "ig", &compute.InstanceGroupsAddInstancesRequest{
		Instances: []*compute.InstanceReference{{Instance: "zones/" + zone + "/instances/vm1"}}}).Do())
	wait(t, c)(c.Compute.RegionBackendServices.Insert(p, region, &compute.BackendService{Name: "bs", LoadBalancingScheme: "EXTERNAL", Protocol: "TCP",
		HealthChecks: []string{"regions/" + region + "/healthChecks/hc"},
		Backends:     []*compute.Backend{{Group: "zones/" + zone + "/instanceGroups/ig"}}}).Do())
	bsLink := "regions/" + region + "/backendServices/bs"
	wait(t, c)(c.Compute.ForwardingRules.Insert(p, region, &compute.ForwardingRule{Name: "fr", IPProtocol: "TCP", PortRange: "80",
		LoadBalancingScheme: "EXTERNAL", BackendService: bsLink}).Do())
	health := func() *compute.HealthStatus {
		t.Helper()
		h, err := c.Compute.RegionBackendServices.GetHealth(p, region, "bs", &compute.ResourceGroupReference{
			Group: "zones/" + zone + "/instanceGroups/ig"}).Do()
		if err != nil || len(h.HealthStatus) != 1 {
			t.Fatalf("getHealth = %+v (%v)", h, err)
		}
		return h.HealthStatus[0]
	}
	if st := health(); st.Ipv6HealthState != "" || st.Ipv6Address != "" {
		t.Errorf("an IPv4-only backend service's health = %+v, want no IPv6 state", st)
	}

	wait(t, c)(c.Compute.ForwardingRules.Insert(p, region, &compute.ForwardingRule{Name: "fr6", IPProtocol: "TCP", PortRange: "80",
		LoadBalancingScheme: "EXTERNAL", BackendService: bsLink, IpVersion: "IPV6", Subnetwork: sub.SelfLink}).Do())
	if st := health(); st.HealthState != "HEALTHY" || st.Ipv6HealthState != "HEALTHY" || st.Ipv6Address != "2600:1900:4000:1::2" {
		t.Errorf("health nobody reported = %+v, want HEALTHY over both (it is running)", st)
	}
	check := "projects/" + p + "/regions/" + region + "/healthChecks/hc"
	inst := link("projects/" + p + "/zones/" + zone + "/instances/vm1")
	if code, body := rawJSON(t, c, "PUT", "/admin/v1/health", map[string]any{"health": []map[string]string{
		{"healthCheck": check, "instance": inst, "healthState": "HEALTHY"},
		{"healthCheck": check, "instance": inst, "healthState": "UNHEALTHY", "ipVersion": "IPV6"},
	}}); code != http.StatusNoContent {
		t.Fatalf("PUT health = %d %v, want 204", code, body)
	}
	if st := health(); st.HealthState != "HEALTHY" || st.Ipv6HealthState != "UNHEALTHY" {
		t.Errorf("health = %s, IPv6 %s; want HEALTHY, IPv6 UNHEALTHY as reported", st.HealthState, st.Ipv6HealthState)
	}
	_, body := rawJSON(t, c, "GET", "/admin/v1/health", nil)
	if l, _ := body["health"].([]any); len(l) != 2 || l[1].(map[string]any)["ipVersion"] != "IPV6" {
		t.Errorf("GET health = %v, want the IPv4 report, then the IPv6 one", body)
	}
	if code, _ := rawJSON(t, c, "PUT", "/admin/v1/health", map[string]any{"health": []map[string]string{
		{"healthCheck": check, "instance": inst, "healthState": "HEALTHY", "ipVersion": "6"}}}); code != http.StatusBadRequest {
		t.Errorf("PUT health with ipVersion 6 = %d, want 400", code)
	}
}
