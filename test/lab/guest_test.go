package lab_test

// GCE's guest environment on the nodes: the local routes it installs for
// the forwarding rules an instance backs.

import (
	"context"
	"fmt"
	"net/netip"
	"testing"

	"google.golang.org/api/compute/v1"
)

func TestANodeRefusesAForwardingRuleAddressKubeProxyHasNoRuleFor(t *testing.T) {
	requireLab(t)
	t.Parallel()
	// A forwarding rule whose address no Service's status names (a stale
	// status, or ipMode Proxy): kube-proxy has no rule for it. GCE delivers
	// the packet with its destination unchanged, and the guest agent has
	// made the address local on every instance that backs the rule (a
	// local route, proto 66), so the node answers with a reset. Without that
	// route the node would forward the packet back to the VPC router.
	ctx := context.Background()
	c, project := e.cloud.Compute, e.cloud.Project
	const name, port = "lab-stale", 8095
	node1 := fmt.Sprintf("https://www.googleapis.com/compute/v1/projects/%s/zones/%s/instances/node-1", project, zones[0])
	op, err := c.TargetPools.Insert(project, region, &compute.TargetPool{Name: name, Instances: []string{node1}}).Context(ctx).Do()
	if err := e.cloud.Wait(ctx, op, err); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.TargetPools.Delete(project, region, name).Context(ctx).Do() })
	op, err = c.Firewalls.Insert(project, &compute.Firewall{Name: name, Network: "global/networks/" + network,
		SourceRanges: []string{client.String() + "/32"}, TargetTags: []string{nodeTag},
		Allowed: []*compute.FirewallAllowed{{IPProtocol: "tcp", Ports: []string{fmt.Sprint(port)}}}}).Context(ctx).Do()
	if err := e.cloud.Wait(ctx, op, err); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Firewalls.Delete(project, name).Context(ctx).Do() })
	op, err = c.ForwardingRules.Insert(project, region, &compute.ForwardingRule{Name: name, IPProtocol: "TCP",
		PortRange: fmt.Sprintf("%d-%d", port, port), LoadBalancingScheme: "EXTERNAL",
		Target: fmt.Sprintf("projects/%s/regions/%s/targetPools/%s", project, region, name)}).Context(ctx).Do()
	if err := e.cloud.Wait(ctx, op, err); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		op, err := c.ForwardingRules.Delete(project, region, name).Context(ctx).Do()
		e.cloud.Wait(ctx, op, err)
	})
	fr, err := c.ForwardingRules.Get(project, region, name).Context(ctx).Do()
	if err != nil {
		t.Fatal(err)
	}
	addr := hostPort(netip.MustParseAddr(fr.IPAddress), port)
	eventually(t, lbWithin, "node-1 refuses "+addr, func() (bool, error) {
		got := howRefused(e.lab.Client, addr)
		return got == "refused", fmt.Errorf("the connection was %s", got)
	})
}
