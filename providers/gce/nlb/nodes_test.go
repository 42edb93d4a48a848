package nlb

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"

	"google.golang.org/api/compute/v1"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/providers/gce/annotations"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/servicecontroller/nodeset"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/test/fakegce"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/test/fixture"
)

func TestANodeChangeOnlyTouchesTheSharedGroups(t *testing.T) {
	lc := newLBCloud(t, fakegce.Config{}, "node-1", "node-2", "node-3")
	lc.p.DefaultBackend = BackendService
	// Names of other lengths: newService derives the UID from the length.
	web, api := newService("web", fixture.Ports("TCP", 80)), newService("api-server", fixture.Ports("TCP", 443))
	two := nodesFor("us-central1-a", "node-1", "node-2")
	three := nodesFor("us-central1-a", "node-1", "node-2", "node-3")
	ensure(t, lc, web, two)
	ensure(t, lc, api, two)
	ctx := context.Background()

	// node-3 joins the same zone: the first Service adds it to the shared
	// group (one read of the group under its lock, one write); the second
	// finds the group in sync and makes no call at all.
	lc.Server.ResetCalls()
	done, err := lc.lb().UpdateNodes(ctx, web, three)
	if !done || err != nil {
		t.Fatalf("UpdateNodes(web) = %v, %v; want handled", done, err)
	}
	if got, want := writesSince(lc), []string{"instanceGroups.addInstances"}; !slices.Equal(got, want) {
		t.Errorf("writes %v, want %v", got, want)
	}
	if c := lc.calls(); c.reads != 1 {
		t.Errorf("the first Service made %s, want 1 read (the group)", c)
	}
	lc.Server.ResetCalls()
	if done, err := lc.lb().UpdateNodes(ctx, api, three); !done || err != nil {
		t.Fatalf("UpdateNodes(api) = %v, %v; want handled", done, err)
	}
	if n := len(lc.Server.Calls()); n != 0 {
		t.Errorf("the second Service made %d calls, want none", n)
	}
	resyncMakesNoWrites(t, lc, web, three)
}

func TestANodeChangeTheShortcutCannotAnswer(t *testing.T) {
	lc := newLBCloud(t, fakegce.Config{}, "node-1", "node-2")
	lc.p.DefaultBackend = BackendService
	ctx := context.Background()
	nodes := nodesFor("us-central1-a", "node-1")

	never := newService("never-ensured", fixture.Ports("TCP", 80))
	if done, _ := lc.lb().UpdateNodes(ctx, never, nodes); done {
		t.Errorf("a Service this process never ensured was handled by the shortcut")
	}

	pool := newService("target-pool", fixture.Ports("TCP", 80), fixture.Annotation(annotations.Backend, BackendTargetPool))
	ensure(t, lc, pool, nodes)
	if done, _ := lc.lb().UpdateNodes(ctx, pool, nodesFor("us-central1-a", "node-1", "node-2")); done {
		t.Errorf("a target pool's node change was handled by the shortcut")
	}

	web := newService("web", fixture.Ports("TCP", 80))
	ensure(t, lc, web, nodes)
	moved := append(nodesFor("us-central1-a", "node-1"), nodesFor("us-central1-b", "node-9")...)
	if done, _ := lc.lb().UpdateNodes(ctx, web, moved); done {
		t.Errorf("a node in a new zone (the backend service's backends change) was handled by the shortcut")
	}

	// Switched to a target pool: the shortcut no longer applies.
	web.Annotations[annotations.Backend] = BackendTargetPool
	ensure(t, lc, web, nodes)
	if done, _ := lc.lb().UpdateNodes(ctx, web, nodesFor("us-central1-a", "node-1", "node-2")); done {
		t.Errorf("a Service switched to a target pool was handled by the shortcut")
	}
	if err := lc.lb().Delete(ctx, web); err != nil {
		t.Fatal(err)
	}
}

// Workers that reach a shared group at once take turns on its lock; the
// first reads and changes it, and the others find it in sync from what the
// one before them wrote, without reading it again (docs/benchmarks.md).
func TestConcurrentWorkersReadASharedGroupOnce(t *testing.T) {
	lc := newLBCloud(t, fakegce.Config{}, "node-1", "node-2", "node-3")
	lc.p.DefaultBackend = BackendService
	ensure(t, lc, newService("web", fixture.Ports("TCP", 80)), nodesFor("us-central1-a", "node-1", "node-2"))
	d, err := Desire(newService("web", fixture.Ports("TCP", 80)), nodesFor("us-central1-a", "node-1", "node-2", "node-3"), lc.p)
	if err != nil {
		t.Fatal(err)
	}
	want := d.Groups["us-central1-a"]

	lc.Server.ResetCalls()
	var wg sync.WaitGroup
	errs := make(chan error, 10)
	for range 10 {
		wg.Go(func() { errs <- lc.lb().syncGroup(context.Background(), "us-central1-a", want) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if got, want := writesSince(lc), []string{"instanceGroups.addInstances"}; !slices.Equal(got, want) {
		t.Errorf("writes %v, want %v", got, want)
	}
	if c := lc.calls(); c.reads != 1 {
		t.Errorf("10 workers made %s, want 1 read of the group", c)
	}
}

// The service controller publishes node sets without waiting for the calls
// in flight, so a worker may reach the shared group with a set older than
// one another worker already applied there. Versions are compared: the
// older set is not applied, and the node the newer one added stays.
func TestAnOlderNodeSetCannotUndoANewerOneInASharedGroup(t *testing.T) {
	lc := newLBCloud(t, fakegce.Config{}, "node-1", "node-2", "node-3")
	lc.p.DefaultBackend = BackendService
	web, api := newService("web", fixture.Ports("TCP", 80)), newService("api-server", fixture.Ports("TCP", 443))
	older := nodeset.WithVersion(context.Background(), 1)
	newer := nodeset.WithVersion(context.Background(), 2)
	two := nodesFor("us-central1-a", "node-1", "node-2")
	three := nodesFor("us-central1-a", "node-1", "node-2", "node-3")

	if _, err := lc.lb().Ensure(newer, api, three); err != nil {
		t.Fatal(err)
	}
	lc.Server.ResetCalls()
	// web's ensure took the set of version 1, published before node-3
	// joined, and reaches the group after api's.
	if _, err := lc.lb().Ensure(older, web, two); err != nil {
		t.Fatal(err)
	}
	if done, err := lc.lb().UpdateNodes(older, api, two); !done || err != nil {
		t.Fatalf("UpdateNodes(api, older set) = %v, %v; want handled", done, err)
	}
	if w := writesSince(lc); slices.Contains(w, "instanceGroups.removeInstances") {
		t.Errorf("an older node set took a node out of the shared group: writes %v", w)
	}
	if got := groupMembers(t, lc, "us-central1-a"); !slices.Equal(got, []string{"node-1", "node-2", "node-3"}) {
		t.Errorf("the shared group has %v, want node-1, node-2 and node-3", got)
	}

	// The newest set is still applied, and so is a later one.
	lc.Server.ResetCalls()
	if done, err := lc.lb().UpdateNodes(nodeset.WithVersion(context.Background(), 3), web, two); !done || err != nil {
		t.Fatalf("UpdateNodes(web, version 3) = %v, %v; want handled", done, err)
	}
	if got := groupMembers(t, lc, "us-central1-a"); !slices.Equal(got, []string{"node-1", "node-2"}) {
		t.Errorf("after version 3 (node-3 gone) the shared group has %v, want node-1 and node-2", got)
	}
}

func groupMembers(t *testing.T, lc *lbCloud, zone string) []string {
	t.Helper()
	got, err := lc.Compute.InstanceGroups.ListInstances(lc.Project, zone, lc.p.Owner.InstanceGroupName(zone), &compute.InstanceGroupsListInstancesRequest{}).Do()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range got.Items {
		out = append(out, m.Instance[strings.LastIndex(m.Instance, "/")+1:])
	}
	slices.Sort(out)
	return out
}
