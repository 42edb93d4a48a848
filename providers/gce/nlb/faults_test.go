package nlb

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"google.golang.org/api/compute/v1"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/ownership"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/test/fakegce"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/test/fixture"
)

// instantOps is fake-gce with operations DONE in their first answer: the
// faults below count POSTs, and the client's operation waits are POSTs too
// when operations take time.
var instantOps = fakegce.Config{OpLatency: fakegce.NoOpLatency}

// cleanRun counts the writes of a create and a delete without faults, and
// the resources the create leaves.
func cleanRun(t *testing.T) (createWrites, deleteWrites, resources int) {
	lc := newLBCloud(t, instantOps, "node-1", "node-2")
	svc := newService("web", fixture.Ports("TCP", 80, 443), fixture.Ports("UDP", 53))
	lc.Server.ResetCalls()
	ensure(t, lc, svc, nodesFor("us-central1-a", "node-1", "node-2"))
	createWrites, resources = lc.calls().writes, len(lc.owned())
	lc.Server.ResetCalls()
	if err := lc.lb().Delete(context.Background(), svc); err != nil {
		t.Fatal(err)
	}
	return createWrites, lc.calls().writes, resources
}

// TestACrashAtAnyCallIsRepairedByTheNextReconcile fails the Nth mutating
// call of a create (and then of a delete), for every N, and checks that the
// next reconcile converges with nothing leaked and nothing duplicated.
func TestACrashAtAnyCallIsRepairedByTheNextReconcile(t *testing.T) {
	writes, deleteWrites, resources := cleanRun(t)
	if writes < 7 || resources != 7 {
		t.Fatalf("a create made %d writes and %d resources; want at least 7 and 7", writes, resources)
	}
	for n := 1; n <= writes; n++ {
		for _, failOp := range []bool{false, true} {
			lc := newLBCloud(t, instantOps, "node-1", "node-2")
			svc := newService("web", fixture.Ports("TCP", 80, 443), fixture.Ports("UDP", 53))
			nodes := nodesFor("us-central1-a", "node-1", "node-2")
			faultNth(t, lc, n, failOp)
			if _, err := lc.lb().Ensure(context.Background(), svc, nodes); err == nil {
				t.Fatalf("call %d failing (operation failure %v): Ensure succeeded", n, failOp)
			}
			lc.Server.SetFaults(nil)
			ensure(t, lc, svc, nodes)
			resyncMakesNoWrites(t, lc, svc, nodes)
			if got, want := len(lc.owned()), resources; got != want {
				t.Errorf("call %d failing: %d owned resources after convergence, want %d: %v", n, got, want, lc.owned())
			}
			// The delete, failing at each of its calls too.
			for m := 1; m <= deleteWrites; m++ {
				faultNth(t, lc, m, failOp)
				err := lc.lb().Delete(context.Background(), svc)
				lc.Server.SetFaults(nil)
				if err == nil {
					break
				}
			}
			if err := lc.lb().Delete(context.Background(), svc); err != nil {
				t.Fatalf("call %d: delete after faults: %v", n, err)
			}
			if left := lc.owned(); len(left) != 0 {
				t.Errorf("call %d failing: leaked %v", n, left)
			}
		}
	}
}

// faultNth makes the nth mutating call from now fail: with a 503 answer, or
// accepted and its operation failed.
func faultNth(t *testing.T, lc *lbCloud, n int, failOp bool) {
	t.Helper()
	// The first n-1 calls of each verb fire a harmless rule (1ns of latency)
	// and so pass; the nth fails. A create sends only POSTs and a delete only
	// DELETEs, so this is the nth mutating call.
	rules := []fakegce.FaultRule{{Latency: "1ns", Count: n - 1}, {Code: 503, FailOperation: failOp, Count: 1}}
	if n == 1 {
		rules = rules[1:]
	}
	var expanded []fakegce.FaultRule
	for _, r := range rules {
		for _, m := range []string{"POST", "PATCH", "PUT", "DELETE"} {
			r := r
			r.Method = m
			expanded = append(expanded, r)
		}
	}
	if err := lc.Server.SetFaults(expanded); err != nil {
		t.Fatal(err)
	}
}

func TestForeignResourcesAreNeverTouched(t *testing.T) {
	lc := newLBCloud(t, fakegce.Config{}, "node-1")
	svc := newService("web")
	base := lc.p.Owner.LoadBalancerBase(string(svc.UID))
	// Someone made a target pool with the Service's name by hand.
	op, err := lc.Compute.TargetPools.Insert(lc.Project, "us-central1", &compute.TargetPool{Name: base, Description: "made by hand"}).Do()
	if err == nil {
		_, err = lc.WaitOperation(context.Background(), op)
	}
	if err != nil {
		t.Fatal(err)
	}
	// And another cluster has its own load balancer.
	other := lc.p
	other.Owner = ownership.ForCluster("other")
	if _, err := New(lc.api, other).Ensure(context.Background(), newService("web"), nodesFor("us-central1-a", "node-1")); err != nil {
		t.Fatal(err)
	}
	before := lc.Server.State()
	_, err = lc.lb().Ensure(context.Background(), svc, nodesFor("us-central1-a", "node-1"))
	var se *ServiceError
	if !errors.As(err, &se) || se.Reason != "NameCollision" {
		t.Fatalf("Ensure with a foreign pool of its name: %v, want a NameCollision", err)
	}
	if err := lc.lb().Delete(context.Background(), svc); err != nil {
		t.Fatal(err)
	}
	after := lc.Server.State()
	for k, v := range before {
		if string(after[k]) != string(v) && !isOurs(lc, k) {
			t.Errorf("a foreign resource changed: %s", k)
		}
	}
	if _, err := lc.Compute.TargetPools.Get(lc.Project, "us-central1", base).Do(); err != nil {
		t.Errorf("the hand-made pool is gone: %v", err)
	}
}

// isOurs: the key is one of the cluster's resources, or not a load
// balancer resource at all (operations, instances).
func isOurs(lc *lbCloud, key string) bool {
	if slices.Contains(lc.owned(), key) {
		return true
	}
	for _, kind := range []string{"/targetPools/", "/forwardingRules/", "/addresses/", "/firewalls/", "/httpHealthChecks/"} {
		if strings.Contains(key, kind) {
			return false
		}
	}
	return true
}
