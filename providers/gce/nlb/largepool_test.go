package nlb

import (
	"context"
	"fmt"
	"testing"

	"golang.org/x/sync/errgroup"
	"google.golang.org/api/compute/v1"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/providers/gce/annotations"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/test/fakegce"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/test/fixture"
)

// A cluster larger than a target pool's insert takes: the pool is created
// with the first 200 instances and the rest are added, all in one reconcile.
func TestATargetPoolOfMoreNodesThanAnInsertTakesIsCreatedAndFilled(t *testing.T) {
	const n = 450
	lc := newLBCloud(t, fakegce.Config{})
	names := make([]string, n)
	var g errgroup.Group
	g.SetLimit(16)
	for i := range names {
		names[i] = fmt.Sprintf("node-%03d", i)
		g.Go(func() error {
			op, err := lc.Compute.Instances.Insert(lc.Project, "us-central1-a", &compute.Instance{Name: names[i], MachineType: "zones/us-central1-a/machineTypes/e2-medium",
				Disks: []*compute.AttachedDisk{{Boot: true, AutoDelete: true,
					InitializeParams: &compute.AttachedDiskInitializeParams{SourceImage: "projects/debian-cloud/global/images/family/debian-12"}}},
				NetworkInterfaces: []*compute.NetworkInterface{{Network: "global/networks/default"}}}).Do()
			if err == nil {
				_, err = lc.WaitOperation(context.Background(), op)
			}
			return err
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatalf("setup: %v", err)
	}
	svc := newService("big", fixture.Annotation(annotations.Backend, BackendTargetPool))
	nodes := nodesFor("us-central1-a", names...)
	ensure(t, lc, svc, nodes)
	pool, err := lc.Compute.TargetPools.Get(lc.Project, "us-central1", lc.p.Owner.LoadBalancerBase(string(svc.UID))).Do()
	if err != nil {
		t.Fatal(err)
	}
	if len(pool.Instances) != n {
		t.Errorf("the pool has %d instances, want all %d nodes", len(pool.Instances), n)
	}
	resyncMakesNoWrites(t, lc, svc, nodes)
}
