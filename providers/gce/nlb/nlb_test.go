package nlb

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"google.golang.org/api/compute/v1"
	v1 "k8s.io/api/core/v1"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/computeclient"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/ownership"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/test/fakegce"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/test/fakegce/fakegcetest"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/test/fixture"
)

// Builders.

// newService is an external LoadBalancer Service with policy Cluster and a
// UID made from its name's length, on TCP port 80 unless an option gives
// ports.
func newService(name string, opts ...fixture.ServiceOption) *v1.Service {
	defaults := []fixture.ServiceOption{fixture.UID("0b1c2d3e-0000-4000-8000-" + fmt.Sprintf("%012d", len(name))),
		fixture.LoadBalancer(), fixture.TrafficPolicy(v1.ServiceExternalTrafficPolicyCluster)}
	opts = append(append(defaults, opts...), fixture.PortsIfNone(v1.ServicePort{Name: "http", Protocol: v1.ProtocolTCP, Port: 80}))
	return fixture.Service(name, opts...)
}

func nodesFor(zone string, names ...string) []*v1.Node {
	var out []*v1.Node
	for _, n := range names {
		out = append(out, fixture.Node(n, fixture.ProviderID("gce://fake-project/"+zone+"/"+n)))
	}
	return out
}

// lbCloud is fake-gce with a network and instances, and a client for it.
type lbCloud struct {
	*fakegcetest.Cloud
	api *computeclient.Client
	p   Params
	b   *Balancer
}

// lb is the cloud's Balancer with the Params as the test set them last: one
// shared state for the whole test, as a provider holds one per cluster.
func (lc *lbCloud) lb() *Balancer {
	if lc.b == nil {
		lc.b = New(lc.api, lc.p)
	}
	return lc.b.with(lc.p)
}

func newLBCloud(t testing.TB, cfg fakegce.Config, instances ...string) *lbCloud {
	t.Helper()
	fc := fakegcetest.Start(t, cfg)
	ctx := context.Background()
	fixture.InsertNetwork(t, fc, fc.Project, fixture.AutoNetwork("default"))
	for _, name := range instances {
		op, err := fc.Compute.Instances.Insert(fc.Project, "us-central1-a", &compute.Instance{Name: name, MachineType: "zones/us-central1-a/machineTypes/e2-medium",
			Disks:             []*compute.AttachedDisk{{Boot: true, AutoDelete: true, InitializeParams: &compute.AttachedDiskInitializeParams{SourceImage: "projects/debian-cloud/global/images/family/debian-12"}}},
			NetworkInterfaces: []*compute.NetworkInterface{{Network: "global/networks/default"}}, Tags: &compute.Tags{Items: []string{"k8s-node"}}}).Do()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := fc.Compute.ZoneOperations.Wait(fc.Project, "us-central1-a", op.Name).Do(); err != nil {
			t.Fatal(err)
		}
	}
	api, err := computeclient.New(ctx, computeclient.Config{Project: fc.Project, Endpoint: fc.Endpoint, HTTPClient: fc.HTTP.Client(), QPS: 1000, Burst: 1000})
	if err != nil {
		t.Fatal(err)
	}
	return &lbCloud{Cloud: fc, api: api, p: Params{
		Owner: ownership.ForCluster("test"), Project: fc.Project, Region: "us-central1",
		NetworkURL: "https://www.googleapis.com/compute/v1/projects/fake-project/global/networks/default",
		NodeTags:   []string{"k8s-node"}, HealthCheckRanges: []netip.Prefix{netip.MustParsePrefix("35.191.0.0/16")},
	}}
}

// callCount counts the compute requests since the last reset, by kind.
type callCount struct{ reads, writes, waits int }

func (c callCount) String() string {
	return fmt.Sprintf("%d reads, %d writes, %d operation waits", c.reads, c.writes, c.waits)
}

func (lc *lbCloud) calls() callCount {
	var n callCount
	for _, c := range lc.Server.Calls() {
		switch {
		case strings.HasSuffix(c.API, "Operations.wait") || strings.HasSuffix(c.API, "Operations.get"):
			n.waits++
		case c.Method == "GET" || strings.HasSuffix(c.API, ".getHealth") || strings.HasSuffix(c.API, ".listInstances"):
			n.reads++
		default:
			n.writes++
		}
	}
	return n
}

// owned lists the resource paths in fake-gce (operations aside).
func (lc *lbCloud) owned() []string {
	var out []string
	for k := range lc.Server.State() {
		if strings.Contains(k, "/operations/") {
			continue
		}
		if strings.Contains(k, lc.p.Owner.Prefix()) {
			out = append(out, k)
		}
	}
	return out
}
