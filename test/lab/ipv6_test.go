package lab_test

// The health checks of IPv6 forwarding rules, probed over IPv6.

import (
	"context"
	"fmt"
	"net/netip"
	"os/exec"
	"strings"
	"testing"
	"time"

	"google.golang.org/api/compute/v1"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/test/lab/topology"
)

// A dual-stack external load balancer is two forwarding rules, IPv4 and
// IPv6, to one backend service; GCE checks its backends over each family,
// over IPv6 from 2600:1901:8001::/48 for an external passthrough load
// balancer ("Probe IP ranges and firewall rules",
// https://cloud.google.com/load-balancing/docs/health-check-concepts#ip-ranges),
// which the CCM's -hc6 rule opens (providers/gce/nlb, checkerRanges). Here
// the check is the CCM's for externalTrafficPolicy Cluster (kube-proxy's
// /healthz on 10256), of node-1, which kube-proxy answers on the node's
// IPv6 address; an -hc6 rule open to the internal checkers' range
// (2600:2d00:1:b029::/64) fails it, and the IPv4 check passes throughout.
//
// The rules are made through the compute API, as the CCM makes them: this
// control plane serves IPv4 Services only, so no Service asks for them.
func TestTheIPv6ChecksOfADualStackLoadBalancerCrossTheIPv6HealthCheckRule(t *testing.T) {
	requireLab(t)
	t.Parallel()
	ctx := context.Background()
	c, project := e.cloud.Compute, e.cloud.Project
	const name, port = "lab-dual", 8096
	do := func(what string) func(*compute.Operation, error) {
		return func(op *compute.Operation, err error) {
			t.Helper()
			if err := e.cloud.Wait(ctx, op, err); err != nil {
				t.Fatalf("%s: %v", what, err)
			}
		}
	}
	group := fmt.Sprintf("zones/%s/instanceGroups/%s", zones[0], name)
	do("insert health check")(c.RegionHealthChecks.Insert(project, region, &compute.HealthCheck{Name: name, Type: "HTTP",
		HttpHealthCheck:  &compute.HTTPHealthCheck{Port: 10256, RequestPath: "/healthz"},
		CheckIntervalSec: 1, TimeoutSec: 1, HealthyThreshold: 1, UnhealthyThreshold: 1}).Context(ctx).Do())
	t.Cleanup(func() { c.RegionHealthChecks.Delete(project, region, name).Context(ctx).Do() })
	do("insert instance group")(c.InstanceGroups.Insert(project, zones[0], &compute.InstanceGroup{Name: name,
		Network: "global/networks/" + network}).Context(ctx).Do())
	t.Cleanup(func() { c.InstanceGroups.Delete(project, zones[0], name).Context(ctx).Do() })
	do("add node-1 to the group")(c.InstanceGroups.AddInstances(project, zones[0], name, &compute.InstanceGroupsAddInstancesRequest{
		Instances: []*compute.InstanceReference{{Instance: fmt.Sprintf("zones/%s/instances/node-1", zones[0])}}}).Context(ctx).Do())
	do("insert backend service")(c.RegionBackendServices.Insert(project, region, &compute.BackendService{Name: name,
		LoadBalancingScheme: "EXTERNAL", Protocol: "TCP", HealthChecks: []string{"regions/" + region + "/healthChecks/" + name},
		Backends: []*compute.Backend{{Group: group}}}).Context(ctx).Do())
	t.Cleanup(func() {
		op, err := c.RegionBackendServices.Delete(project, region, name).Context(ctx).Do()
		e.cloud.Wait(ctx, op, err)
	})
	for _, fr := range []*compute.ForwardingRule{
		{Name: name},
		{Name: name + "-ipv6", IpVersion: "IPV6", Subnetwork: "regions/" + region + "/subnetworks/" + subnetwork},
	} {
		fr.IPProtocol, fr.PortRange, fr.LoadBalancingScheme = "TCP", fmt.Sprintf("%d-%d", port, port), "EXTERNAL"
		fr.BackendService = "regions/" + region + "/backendServices/" + name
		do("insert forwarding rule " + fr.Name)(c.ForwardingRules.Insert(project, region, fr).Context(ctx).Do())
		t.Cleanup(func() {
			op, err := c.ForwardingRules.Delete(project, region, fr.Name).Context(ctx).Do()
			e.cloud.Wait(ctx, op, err)
		})
	}
	for _, fw := range []*compute.Firewall{
		{Name: name + "-hc", SourceRanges: []string{"209.85.204.0/22"}},
		{Name: name + "-hc6", SourceRanges: []string{"2600:1901:8001::/48"}},
	} {
		fw.Network, fw.TargetTags = "global/networks/"+network, []string{nodeTag}
		fw.Allowed = []*compute.FirewallAllowed{{IPProtocol: "tcp", Ports: []string{"10256"}}}
		do("insert firewall " + fw.Name)(c.Firewalls.Insert(project, fw).Context(ctx).Do())
		t.Cleanup(func() { c.Firewalls.Delete(project, fw.Name).Context(ctx).Do() })
	}

	t.Cleanup(func() {
		if t.Failed() {
			logIPv6Path(t, node("node-1"))
		}
	})
	health := func(want4, want6 string) func() (bool, error) {
		return func() (bool, error) {
			h, err := c.RegionBackendServices.GetHealth(project, region, name, &compute.ResourceGroupReference{Group: group}).Context(ctx).Do()
			switch {
			case err != nil:
				return false, err
			case len(h.HealthStatus) != 1:
				return false, fmt.Errorf("getHealth answered %d statuses, want node-1's", len(h.HealthStatus))
			}
			st := h.HealthStatus[0]
			if ip, err := netip.ParseAddr(st.Ipv6Address); err != nil || ip != node("node-1").IPv6 {
				return false, fmt.Errorf("node-1's IPv6 address in getHealth is %q, want %s", st.Ipv6Address, node("node-1").IPv6)
			}
			return st.HealthState == want4 && st.Ipv6HealthState == want6, fmt.Errorf("node-1 is %s, over IPv6 %s", st.HealthState, st.Ipv6HealthState)
		}
	}
	eventually(t, lbWithin, "node-1 healthy over IPv4 and IPv6 with -hc6 open to 2600:1901:8001::/48", health("HEALTHY", "HEALTHY"))

	do("patch -hc6")(c.Firewalls.Patch(project, name+"-hc6", &compute.Firewall{SourceRanges: []string{"2600:2d00:1:b029::/64"}}).Context(ctx).Do())
	eventually(t, lbWithin, "node-1 unhealthy over IPv6 only with -hc6 open to 2600:2d00:1:b029::/64", health("HEALTHY", "UNHEALTHY"))
}

// logIPv6Path logs what an IPv6 probe of n meets: the vpc namespace's IPv6
// routes and table, and the node's addresses, routes, listeners and
// ip6tables rules, and whether a connection from the external checker's
// address to kube-proxy's health port gets through.
func logIPv6Path(t *testing.T, n *topology.Node) {
	for _, cmd := range [][]string{
		{"ip", "-n", e.lab.VPC, "-6", "addr"}, {"ip", "-n", e.lab.VPC, "-6", "route"},
		{"ip", "netns", "exec", e.lab.VPC, "nft", "list", "table", "ip6", "cpv_vpc"},
		{"ip", "-n", n.NS, "-6", "addr"}, {"ip", "-n", n.NS, "-6", "route"}, {"ip", "-n", n.NS, "-6", "neigh"},
		{"ip", "netns", "exec", n.NS, "ss", "-ltn"}, {"ip", "netns", "exec", n.NS, "ip6tables-save"},
		{"ip", "netns", "exec", n.NS, "nft", "list", "ruleset", "ip6"},
	} {
		out, err := exec.Command(cmd[0], cmd[1:]...).CombinedOutput()
		t.Logf("%s (%v):\n%s", strings.Join(cmd, " "), err, out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	conn, err := topology.Dial(ctx, e.lab.VPC, netip.MustParseAddr("2600:1901:8001::1"), "tcp", hostPort(n.IPv6, 10256))
	if err == nil {
		conn.Close()
	}
	t.Logf("connect from 2600:1901:8001::1 to %s: %v", hostPort(n.IPv6, 10256), err)
}
