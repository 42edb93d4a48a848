package dataplane

import (
	"context"
	"fmt"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
	"google.golang.org/api/compute/v1"
)

// vpcLinkLocal is the VPC router's address on every instance link, the
// IPv6 default gateway of the instances (GCE's is a link-local address too).
const vpcLinkLocal = "fe80::1"

// addIPv6 gives instance N (of addNode) an IPv6 address: on its eth0, with a
// default route via the VPC router's link-local address, and a route to it
// in the vpc namespace.
func (l *labNet) addIPv6(t testing.TB, n int, ip netip.Addr) {
	t.Helper()
	node, link := l.nodes[n-1], fmt.Sprintf("i-%d", n)
	l.vpc.addrNoDAD(t, link, netip.MustParsePrefix(vpcLinkLocal+"/64"))
	node.addrNoDAD(t, "eth0", netip.PrefixFrom(ip, 128))
	l.vpc.route(t, netip.PrefixFrom(ip, 128).String(), "", link)
	node.route(t, "::/0", vpcLinkLocal, "eth0")
}

// addrNoDAD adds an IPv6 address that is usable at once (no duplicate
// address detection, which holds a new address tentative for a second).
func (l *labNS) addrNoDAD(t testing.TB, name string, p netip.Prefix) {
	t.Helper()
	link, err := l.nl.LinkByName(name)
	if err != nil {
		t.Fatalf("get link %s in %s: %v", name, l.name, err)
	}
	if err := l.nl.AddrReplace(link, &netlink.Addr{IPNet: ipNet(p), Flags: unix.IFA_F_NODAD}); err != nil {
		t.Fatalf("add %s to %s in %s: %v", p, name, l.name, err)
	}
}

// GCE checks the backends of a dual-stack Service's IPv6 forwarding rule
// over IPv6, from 2600:1901:8001::/48 for an external passthrough load
// balancer (https://cloud.google.com/load-balancing/docs/health-check-concepts#ip-ranges);
// a health-check firewall rule that opens another range (2600:2d00:1:b029::/64,
// the internal passthrough checkers') fails those checks and leaves the
// IPv4 ones alone.
func TestLabIPv6ChecksCrossTheFirewallsIPv6Rules(t *testing.T) {
	requireLab(t)
	c := startLabCloud(t)
	l := newLabNet(t)
	node1 := l.addNode(t, "10.128.0.2")
	sub, err := c.Compute.Subnetworks.Get(c.Project, region, "nodes").Do()
	if err != nil {
		t.Fatal(err)
	}
	v6 := netip.MustParsePrefix(sub.ExternalIpv6Prefix).Addr().As16()
	v6[15] = 2
	ip6 := netip.AddrFrom16(v6)
	l.addIPv6(t, 1, ip6)
	c.addDualStackInstance("node-1", "10.128.0.2", ip6.String(), "lab-node")
	var healthy atomic.Bool
	healthy.Store(true)
	node1.serveHealth(t, ":8081", &healthy)

	c.do(c.Compute.RegionHealthChecks.Insert(c.Project, region, &compute.HealthCheck{Name: "hc", Type: "HTTP",
		HttpHealthCheck:  &compute.HTTPHealthCheck{Port: 8081, RequestPath: "/healthz"},
		CheckIntervalSec: 1, TimeoutSec: 1, HealthyThreshold: 1, UnhealthyThreshold: 1}).Do())
	c.do(c.Compute.InstanceGroups.Insert(c.Project, zone, &compute.InstanceGroup{Name: "ig", Network: "global/networks/default"}).Do())
	c.do(c.Compute.InstanceGroups.AddInstances(c.Project, zone, "ig", &compute.InstanceGroupsAddInstancesRequest{
		Instances: []*compute.InstanceReference{{Instance: "zones/" + zone + "/instances/node-1"}}}).Do())
	c.do(c.Compute.RegionBackendServices.Insert(c.Project, region, &compute.BackendService{Name: "bs", LoadBalancingScheme: "EXTERNAL",
		Protocol: "TCP", HealthChecks: []string{"regions/" + region + "/healthChecks/hc"},
		Backends: []*compute.Backend{{Group: "zones/" + zone + "/instanceGroups/ig"}}}).Do())
	for _, fr := range []*compute.ForwardingRule{
		{Name: "fr", IPProtocol: "TCP", PortRange: "80"},
		{Name: "fr6", IPProtocol: "TCP", PortRange: "80", IpVersion: "IPV6", Subnetwork: sub.SelfLink},
	} {
		fr.LoadBalancingScheme, fr.BackendService = "EXTERNAL", "regions/"+region+"/backendServices/bs"
		c.do(c.Compute.ForwardingRules.Insert(c.Project, region, fr).Do())
	}
	c.allowIngress("hc", []string{"209.85.204.0/22"}, "8081")
	c.allowIngress("hc6", []string{"2600:1901:8001::/48"}, "8081")
	runDataPlane(t, c, l)
	l.dumpOnFailure(t)

	health := func(want4, want6 string) func() error {
		return func() error {
			h, err := c.Compute.RegionBackendServices.GetHealth(c.Project, region, "bs", &compute.ResourceGroupReference{
				Group: "zones/" + zone + "/instanceGroups/ig"}).Context(context.Background()).Do()
			switch {
			case err != nil:
				return err
			case len(h.HealthStatus) != 1:
				return fmt.Errorf("getHealth answered %d statuses, want 1", len(h.HealthStatus))
			case h.HealthStatus[0].HealthState != want4 || h.HealthStatus[0].Ipv6HealthState != want6:
				return fmt.Errorf("health %s, IPv6 %s", h.HealthStatus[0].HealthState, h.HealthStatus[0].Ipv6HealthState)
			}
			return nil
		}
	}
	t.Run("an -hc6 rule open to the external checkers' IPv6 range passes the IPv6 checks", func(t *testing.T) {
		eventually(t, 20*time.Second, "node-1 healthy over IPv4 and IPv6", health("HEALTHY", "HEALTHY"))
	})
	t.Run("an -hc6 rule open to the internal checkers' IPv6 range fails them, and the IPv4 checks still pass", func(t *testing.T) {
		c.do(c.Compute.Firewalls.Patch(c.Project, "hc6", &compute.Firewall{SourceRanges: []string{"2600:2d00:1:b029::/64"}}).Do())
		eventually(t, 20*time.Second, "node-1 healthy over IPv4 only", health("HEALTHY", "UNHEALTHY"))
	})
	t.Run("the external checkers' range again passes them", func(t *testing.T) {
		c.do(c.Compute.Firewalls.Patch(c.Project, "hc6", &compute.Firewall{SourceRanges: []string{"2600:1901:8001::/48"}}).Do())
		eventually(t, 20*time.Second, "node-1 healthy over IPv4 and IPv6", health("HEALTHY", "HEALTHY"))
	})
}
