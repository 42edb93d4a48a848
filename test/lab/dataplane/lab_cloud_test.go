package dataplane

import (
	"context"
	"testing"

	"google.golang.org/api/compute/v1"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/test/fakegce"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/test/fakegce/fakegcetest"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/test/fixture"
)

// The lab's cloud: fake-gce with the contract's network, driven through the
// compute client as the CCM drives it.

type labCloud struct {
	*fakegcetest.Cloud
	t testing.TB
}

func startLabCloud(t testing.TB) *labCloud {
	t.Helper()
	c := &labCloud{Cloud: fakegcetest.Start(t, fakegce.Config{ExternalIPRange: "203.0.113.0/24"}), t: t}
	fixture.InsertNetwork(t, c.Cloud, c.Project, fixture.CustomNetwork("default"))
	fixture.InsertSubnetwork(t, c.Cloud, c.Project, region, &compute.Subnetwork{Name: "nodes",
		Network: "global/networks/default", IpCidrRange: "10.128.0.0/20", StackType: "IPV4_IPV6", Ipv6AccessType: "EXTERNAL"})
	return c
}

// do fails the test when a mutation fails, and waits for its operation.
func (c *labCloud) do(op *compute.Operation, err error) {
	c.t.Helper()
	if err != nil {
		c.t.Fatalf("request: %v", err)
	}
	if op, err = c.WaitOperation(context.Background(), op); err != nil {
		c.t.Fatalf("wait for operation: %v", err)
	}
	if op.Error != nil && len(op.Error.Errors) > 0 {
		c.t.Fatalf("operation %s on %s: %s", op.OperationType, op.TargetLink, op.Error.Errors[0].Message)
	}
}

// addInstance creates a running instance with an ephemeral natIP and returns it.
func (c *labCloud) addInstance(name, internal string, tags ...string) *compute.Instance {
	c.t.Helper()
	return c.addDualStackInstance(name, internal, "", tags...)
}

// addDualStackInstance creates a running instance with an ephemeral natIP
// and, when ipv6 is set, that IPv6 address (stackType IPV4_IPV6).
func (c *labCloud) addDualStackInstance(name, internal, ipv6 string, tags ...string) *compute.Instance {
	c.t.Helper()
	nic := &compute.NetworkInterface{Network: "global/networks/default",
		Subnetwork: "regions/" + region + "/subnetworks/nodes", NetworkIP: internal,
		AccessConfigs: []*compute.AccessConfig{{Name: "External NAT", Type: "ONE_TO_ONE_NAT"}}}
	if ipv6 != "" {
		nic.StackType, nic.Ipv6Address = "IPV4_IPV6", ipv6
	}
	c.do(c.Compute.Instances.Insert(c.Project, zone, &compute.Instance{
		Name:        name,
		MachineType: "zones/" + zone + "/machineTypes/e2-medium",
		Disks: []*compute.AttachedDisk{{Boot: true, AutoDelete: true,
			InitializeParams: &compute.AttachedDiskInitializeParams{SourceImage: "projects/debian-cloud/global/images/family/debian-12"}}},
		NetworkInterfaces: []*compute.NetworkInterface{nic},
		Tags:              &compute.Tags{Items: tags},
	}).Do())
	in, err := c.Compute.Instances.Get(c.Project, zone, name).Do()
	if err != nil {
		c.t.Fatalf("get instance %s: %v", name, err)
	}
	return in
}

func (c *labCloud) allowIngress(name string, sources []string, tcpPorts ...string) {
	c.t.Helper()
	c.do(c.Compute.Firewalls.Insert(c.Project, &compute.Firewall{Name: name, Network: "global/networks/default",
		Direction: "INGRESS", SourceRanges: sources,
		Allowed: []*compute.FirewallAllowed{{IPProtocol: "tcp", Ports: tcpPorts}}}).Do())
}

// addPassthrough creates an HTTP health check, a target pool of the
// instances and a TCP forwarding rule for port, and returns the rule's address.
func (c *labCloud) addPassthrough(port string, healthPort int64, instances ...string) string {
	c.t.Helper()
	c.do(c.Compute.HttpHealthChecks.Insert(c.Project, &compute.HttpHealthCheck{Name: "hc", Port: healthPort,
		RequestPath: "/healthz", CheckIntervalSec: 1, TimeoutSec: 1, HealthyThreshold: 1, UnhealthyThreshold: 1}).Do())
	pool := &compute.TargetPool{Name: "pool", HealthChecks: []string{"global/httpHealthChecks/hc"}}
	for _, in := range instances {
		pool.Instances = append(pool.Instances, "zones/"+zone+"/instances/"+in)
	}
	c.do(c.Compute.TargetPools.Insert(c.Project, region, pool).Do())
	c.do(c.Compute.ForwardingRules.Insert(c.Project, region, &compute.ForwardingRule{Name: "fr", IPProtocol: "TCP",
		PortRange: port, LoadBalancingScheme: "EXTERNAL", Target: "regions/" + region + "/targetPools/pool"}).Do())
	fr, err := c.Compute.ForwardingRules.Get(c.Project, region, "fr").Do()
	if err != nil {
		c.t.Fatalf("get forwarding rule: %v", err)
	}
	return fr.IPAddress
}

// poolHealth is targetPools.getHealth's answer for one instance.
func (c *labCloud) poolHealth(instance string) (string, error) {
	h, err := c.Compute.TargetPools.GetHealth(c.Project, region, "pool",
		&compute.InstanceReference{Instance: "zones/" + zone + "/instances/" + instance}).Context(context.Background()).Do()
	if err != nil {
		return "", err
	}
	if len(h.HealthStatus) == 0 {
		return "", nil
	}
	return h.HealthStatus[0].HealthState, nil
}
