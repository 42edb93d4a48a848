package fakegcetest_test

import (
	"context"
	"testing"

	"google.golang.org/api/compute/v1"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/test/fakegce"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/test/fakegce/fakegcetest"
)

func TestStartServesTheOfficialClient(t *testing.T) {
	c := fakegcetest.Start(t, fakegce.Config{})
	ctx := context.Background()
	op, err := c.Compute.Networks.Insert(c.Project, &compute.Network{Name: "net", AutoCreateSubnetworks: true}).Context(ctx).Do()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Compute.GlobalOperations.Wait(c.Project, op.Name).Do(); err != nil {
		t.Fatal(err)
	}
	op, err = c.Compute.Instances.Insert(c.Project, "us-central1-a", &compute.Instance{Name: "vm1", MachineType: "zones/us-central1-a/machineTypes/e2-medium",
		Disks:             []*compute.AttachedDisk{{Boot: true, AutoDelete: true, InitializeParams: &compute.AttachedDiskInitializeParams{SourceImage: "projects/debian-cloud/global/images/family/debian-12"}}},
		NetworkInterfaces: []*compute.NetworkInterface{{Network: "global/networks/net", AccessConfigs: []*compute.AccessConfig{{}}}}}).Do()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.WaitOperation(ctx, op); err != nil {
		t.Fatal(err)
	}
	inst, err := c.Compute.Instances.Get(c.Project, "us-central1-a", "vm1").Do()
	if err != nil {
		t.Fatal(err)
	}
	if inst.Status != "RUNNING" || inst.NetworkInterfaces[0].NetworkIP == "" || inst.NetworkInterfaces[0].AccessConfigs[0].NatIP == "" {
		t.Errorf("instance = %s %q %q, want RUNNING with internal and external addresses",
			inst.Status, inst.NetworkInterfaces[0].NetworkIP, inst.NetworkInterfaces[0].AccessConfigs[0].NatIP)
	}
	agg, err := c.Compute.Instances.AggregatedList(c.Project).Do()
	if err != nil {
		t.Fatal(err)
	}
	if len(agg.Items) != 3 || len(agg.Items["zones/us-central1-a"].Instances) != 1 || agg.Items["zones/us-central1-b"].Warning == nil {
		t.Errorf("aggregated list has scopes %v, want the 3 zones with the instance in us-central1-a", keys(agg.Items))
	}
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
