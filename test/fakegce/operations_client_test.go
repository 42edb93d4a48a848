package fakegce_test

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/api/compute/v1"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/test/fakegce"
)

// opShape is what a test checks of an operation, beyond its name and times.
type opShape struct {
	Kind, OperationType, Status string
	Zone, Region                string
	TargetLink                  string
	SelfLinkPrefix              bool
	HasTargetID                 bool
	Progress                    int64
}

func shapeOf(op *compute.Operation, selfLinkPrefix string) opShape {
	return opShape{
		Kind: op.Kind, OperationType: op.OperationType, Status: op.Status,
		Zone: op.Zone, Region: op.Region, TargetLink: op.TargetLink,
		SelfLinkPrefix: strings.HasPrefix(op.SelfLink, selfLinkPrefix) && strings.HasSuffix(op.SelfLink, "/"+op.Name),
		HasTargetID:    op.TargetId != 0, Progress: op.Progress,
	}
}

func TestEveryMutationAnswersAnOperationOfItsScope(t *testing.T) {
	// Operations DONE in their first answer, so that each answer shows every
	// field an operation ends with.
	c := start(t, withOpLatency(fakegce.NoOpLatency))
	defaultNetwork(t, c)
	p := "projects/" + c.Project
	tests := []struct {
		name      string
		do        func() (*compute.Operation, error)
		want      opShape
		opsPrefix string
		getTarget func() (uint64, error)
	}{
		{
			name: "a firewall insert is a global operation",
			do: func() (*compute.Operation, error) {
				return c.Compute.Firewalls.Insert(c.Project, newFirewall("fw")).Do()
			},
			want: opShape{Kind: "compute#operation", OperationType: "insert", Status: "DONE", TargetLink: link(p + "/global/firewalls/fw"),
				SelfLinkPrefix: true, HasTargetID: true, Progress: 100},
			opsPrefix: link(p + "/global/operations/"),
			getTarget: func() (uint64, error) { f, err := c.Compute.Firewalls.Get(c.Project, "fw").Do(); return id(f, err) },
		},
		{
			name: "an address insert is a regional operation",
			do: func() (*compute.Operation, error) {
				return c.Compute.Addresses.Insert(c.Project, region, &compute.Address{Name: "addr"}).Do()
			},
			want: opShape{Kind: "compute#operation", OperationType: "insert", Status: "DONE", Region: link(p + "/regions/" + region),
				TargetLink: link(p + "/regions/" + region + "/addresses/addr"), SelfLinkPrefix: true, HasTargetID: true, Progress: 100},
			opsPrefix: link(p + "/regions/" + region + "/operations/"),
			getTarget: func() (uint64, error) {
				a, err := c.Compute.Addresses.Get(c.Project, region, "addr").Do()
				return id(a, err)
			},
		},
		{
			name: "an instance insert is a zonal operation",
			do: func() (*compute.Operation, error) {
				return c.Compute.Instances.Insert(c.Project, zone, newInstance("vm")).Do()
			},
			want: opShape{Kind: "compute#operation", OperationType: "insert", Status: "DONE", Zone: link(p + "/zones/" + zone),
				TargetLink: link(p + "/zones/" + zone + "/instances/vm"), SelfLinkPrefix: true, HasTargetID: true, Progress: 100},
			opsPrefix: link(p + "/zones/" + zone + "/operations/"),
			getTarget: func() (uint64, error) {
				i, err := c.Compute.Instances.Get(c.Project, zone, "vm").Do()
				return id(i, err)
			},
		},
		{
			name: "a firewall patch is a global operation of type patch",
			do: func() (*compute.Operation, error) {
				return c.Compute.Firewalls.Patch(c.Project, "fw", &compute.Firewall{Description: "patched"}).Do()
			},
			want: opShape{Kind: "compute#operation", OperationType: "patch", Status: "DONE", TargetLink: link(p + "/global/firewalls/fw"),
				SelfLinkPrefix: true, HasTargetID: true, Progress: 100},
			opsPrefix: link(p + "/global/operations/"),
			getTarget: func() (uint64, error) { f, err := c.Compute.Firewalls.Get(c.Project, "fw").Do(); return id(f, err) },
		},
		{
			name: "setting an instance's tags is a zonal operation of type setTags",
			do: func() (*compute.Operation, error) {
				in, err := c.Compute.Instances.Get(c.Project, zone, "vm").Do()
				if err != nil {
					return nil, err
				}
				return c.Compute.Instances.SetTags(c.Project, zone, "vm", &compute.Tags{Items: []string{"web"}, Fingerprint: in.Tags.Fingerprint}).Do()
			},
			want: opShape{Kind: "compute#operation", OperationType: "setTags", Status: "DONE", Zone: link(p + "/zones/" + zone),
				TargetLink: link(p + "/zones/" + zone + "/instances/vm"), SelfLinkPrefix: true, HasTargetID: true, Progress: 100},
			opsPrefix: link(p + "/zones/" + zone + "/operations/"),
			getTarget: func() (uint64, error) {
				i, err := c.Compute.Instances.Get(c.Project, zone, "vm").Do()
				return id(i, err)
			},
		},
		{
			name: "a firewall delete is a global operation of type delete",
			do:   func() (*compute.Operation, error) { return c.Compute.Firewalls.Delete(c.Project, "fw").Do() },
			want: opShape{Kind: "compute#operation", OperationType: "delete", Status: "DONE", TargetLink: link(p + "/global/firewalls/fw"),
				SelfLinkPrefix: true, HasTargetID: true, Progress: 100},
			opsPrefix: link(p + "/global/operations/"),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var wantID uint64
			if tt.getTarget == nil {
				// A delete names the resource it removed: read its id first.
				f, err := c.Compute.Firewalls.Get(c.Project, "fw").Do()
				if err != nil {
					t.Fatal(err)
				}
				wantID = f.Id
			}
			op, err := tt.do()
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, shapeOf(op, tt.opsPrefix)); diff != "" {
				t.Errorf("operation (-want +got):\n%s", diff)
			}
			if tt.getTarget != nil {
				var err error
				if wantID, err = tt.getTarget(); err != nil {
					t.Fatal(err)
				}
			}
			if op.TargetId != wantID {
				t.Errorf("targetId = %d, want the resource's id %d", op.TargetId, wantID)
			}
			for _, ts := range []string{op.InsertTime, op.StartTime, op.EndTime} {
				if _, err := time.Parse(time.RFC3339, ts); err != nil {
					t.Errorf("operation time %q is not RFC 3339: %v", ts, err)
				}
			}
		})
	}
}

func id[T interface {
	*compute.Firewall | *compute.Address | *compute.Instance
}](r T, err error) (uint64, error) {
	if err != nil {
		return 0, err
	}
	switch v := any(r).(type) {
	case *compute.Firewall:
		return v.Id, nil
	case *compute.Address:
		return v.Id, nil
	case *compute.Instance:
		return v.Id, nil
	}
	return 0, nil
}

func TestAnOperationAdvancesAndTheResourceChangesWhenItIsDone(t *testing.T) {
	// Long enough that a loaded machine still sees the operation RUNNING
	// before it is DONE.
	const latency = 2 * time.Second
	c := start(t, withOpLatency(latency))
	defaultNetwork(t, c)
	begin := time.Now()
	op, err := c.Compute.Firewalls.Insert(c.Project, newFirewall("fw")).Do()
	if err != nil {
		t.Fatal(err)
	}
	// As every mutation recorded against the real API answers.
	if op.Status != "RUNNING" || op.StartTime == "" || op.Progress != 0 {
		t.Errorf("insert answered %s (startTime %q, progress %d), want RUNNING with a startTime and progress 0", op.Status, op.StartTime, op.Progress)
	}
	if _, err := c.Compute.Firewalls.Get(c.Project, "fw").Do(); !isCode(t, err, 404) {
		t.Errorf("get before the operation is done: %v, want 404", err)
	}
	done, err := c.Compute.GlobalOperations.Wait(c.Project, op.Name).Do()
	if err != nil {
		t.Fatal(err)
	}
	if elapsed := time.Since(begin); done.Status != "DONE" || elapsed < latency {
		t.Errorf("wait returned %s after %v, want DONE after at least %v", done.Status, elapsed, latency)
	}
	if done.Progress != 100 || done.EndTime == "" || done.Error != nil {
		t.Errorf("done operation: progress %d, endTime %q, error %v; want 100, a time, no error", done.Progress, done.EndTime, done.Error)
	}
	if _, err := c.Compute.Firewalls.Get(c.Project, "fw").Do(); err != nil {
		t.Errorf("get after the operation is done: %v", err)
	}

	// A patch and a delete change the resource when they are done too.
	patch, err := c.Compute.Firewalls.Patch(c.Project, "fw", &compute.Firewall{Description: "patched"}).Do()
	if err != nil {
		t.Fatal(err)
	}
	if fw, err := c.Compute.Firewalls.Get(c.Project, "fw").Do(); err != nil || fw.Description != "" {
		t.Errorf("description while the patch is pending = %q (%v), want the old one", fw.Description, err)
	}
	waitDone(t, c, patch)
	if fw, err := c.Compute.Firewalls.Get(c.Project, "fw").Do(); err != nil || fw.Description != "patched" {
		t.Errorf("description after the patch = %q (%v), want patched", fw.Description, err)
	}
	del, err := c.Compute.Firewalls.Delete(c.Project, "fw").Do()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Compute.Firewalls.Get(c.Project, "fw").Do(); err != nil {
		t.Errorf("get while the delete is pending: %v, want the firewall still there", err)
	}
	waitDone(t, c, del)
	if _, err := c.Compute.Firewalls.Get(c.Project, "fw").Do(); !isCode(t, err, 404) {
		t.Errorf("get after the delete: %v, want 404", err)
	}
}

func TestTheResourceChangesWhenTheOperationIsDoneEvenWithoutPolling(t *testing.T) {
	c := start(t, withOpLatency(100*time.Millisecond))
	defaultNetwork(t, c)
	if _, err := c.Compute.Firewalls.Insert(c.Project, newFirewall("fw")).Do(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	if _, ok := c.Server.State()["projects/"+c.Project+"/global/firewalls/fw"]; !ok {
		t.Errorf("the firewall is not in the state 900ms after its operation was due")
	}
}

func TestWaitGivesUpAfterItsLimitWithTheOperationAsItIs(t *testing.T) {
	defer fakegce.SetWaitLimit(200 * time.Millisecond)()
	c := start(t, withOpLatency(10*time.Second))
	begin := time.Now()
	op, err := c.Compute.Networks.Insert(c.Project, newNetwork("net")).Do()
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.Compute.GlobalOperations.Wait(c.Project, op.Name).Do()
	if err != nil {
		t.Fatal(err)
	}
	if elapsed := time.Since(begin); got.Status == "DONE" || elapsed < 200*time.Millisecond || elapsed > 5*time.Second {
		t.Errorf("wait answered %s after %v, want the operation not DONE after the 200ms limit", got.Status, elapsed)
	}
}

func TestAConflictThatArisesWhileAnOperationIsPendingFailsThatOperation(t *testing.T) {
	c := start(t, withOpLatency(100*time.Millisecond))
	defaultNetwork(t, c)
	// Both inserts are accepted while neither exists; the second fails when it runs.
	first, err := c.Compute.Firewalls.Insert(c.Project, newFirewall("fw")).Do()
	if err != nil {
		t.Fatal(err)
	}
	second, err := c.Compute.Firewalls.Insert(c.Project, newFirewall("fw", withDescription("second"))).Do()
	if err != nil {
		t.Fatal(err)
	}
	if op := waitDone(t, c, first); op.Error != nil {
		t.Fatalf("first insert failed: %s", opErrorText(op))
	}
	op := waitDone(t, c, second)
	if op.Error == nil || len(op.Error.Errors) == 0 {
		t.Fatalf("second insert of the same name ended without error")
	}
	got := struct {
		Code       string
		HTTPStatus int64
		HTTPText   string
	}{op.Error.Errors[0].Code, op.HttpErrorStatusCode, op.HttpErrorMessage}
	want := struct {
		Code       string
		HTTPStatus int64
		HTTPText   string
	}{"RESOURCE_ALREADY_EXISTS", 409, "Conflict"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("failed operation (-want +got):\n%s", diff)
	}
	fw, err := c.Compute.Firewalls.Get(c.Project, "fw").Do()
	if err != nil || fw.Description != "" {
		t.Errorf("firewall after the failed insert: %v %v, want the first one unchanged", fw, err)
	}
}

func TestABadRequestAnswersAtOnceEvenWhenOperationsTakeTime(t *testing.T) {
	c := start(t, withOpLatency(time.Minute))
	_, err := c.Compute.Firewalls.Insert(c.Project, newFirewall("Bad_Name")).Do()
	if code, reason := apiError(t, err); code != 400 || reason != "invalid" {
		t.Errorf("insert with a bad name = %d %s, want 400 invalid", code, reason)
	}
}

func TestOperationsCanBeListedAndDeleted(t *testing.T) {
	c := start(t)
	defaultNetwork(t, c)
	insertFirewall(t, c, newFirewall("fw1"))
	insertFirewall(t, c, newFirewall("fw2"))
	ops, err := c.Compute.GlobalOperations.List(c.Project).Filter(`operationType = "insert"`).Do()
	if err != nil {
		t.Fatal(err)
	}
	var targets []string
	for _, op := range ops.Items {
		targets = append(targets, lastSegment(op.TargetLink))
	}
	if diff := cmp.Diff([]string{"default", "fw1", "fw2"}, sorted(targets)); diff != "" {
		t.Errorf("insert operations' targets (-want +got):\n%s", diff)
	}
	name := ops.Items[0].Name
	if err := c.Compute.GlobalOperations.Delete(c.Project, name).Do(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Compute.GlobalOperations.Get(c.Project, name).Do(); !isCode(t, err, 404) {
		t.Errorf("get of a deleted operation: %v, want 404", err)
	}
	agg, err := c.Compute.GlobalOperations.AggregatedList(c.Project).Do()
	if err != nil {
		t.Fatal(err)
	}
	if n := len(agg.Items["global"].Operations); n != 2 {
		t.Errorf("aggregated global operations = %d, want 2 after one delete", n)
	}
}

func TestRegionalAndZonalOperationsAreListedInTheirScope(t *testing.T) {
	c := start(t)
	defaultNetwork(t, c)
	insertAddress(t, c, "addr")
	insertInstance(t, c, newInstance("vm"))
	rops, err := c.Compute.RegionOperations.List(c.Project, region).Do()
	if err != nil {
		t.Fatal(err)
	}
	zops, err := c.Compute.ZoneOperations.List(c.Project, zone).Do()
	if err != nil {
		t.Fatal(err)
	}
	if len(rops.Items) != 1 || lastSegment(rops.Items[0].TargetLink) != "addr" {
		t.Errorf("region operations = %v, want the address insert", targetsOf(rops.Items))
	}
	if len(zops.Items) != 1 || lastSegment(zops.Items[0].TargetLink) != "vm" {
		t.Errorf("zone operations = %v, want the instance insert", targetsOf(zops.Items))
	}
	other, err := c.Compute.ZoneOperations.List(c.Project, "us-central1-b").Do()
	if err != nil || len(other.Items) != 0 {
		t.Errorf("operations of another zone = %v %v, want none", targetsOf(other.Items), err)
	}
}

func TestARepeatedRequestIDAnswersTheSameOperation(t *testing.T) {
	c := start(t)
	defaultNetwork(t, c)
	const rid = "5c4a7c1e-0000-4000-8000-000000000001"
	op1, err := c.Compute.Firewalls.Insert(c.Project, newFirewall("fw")).RequestId(rid).Do()
	if err != nil {
		t.Fatal(err)
	}
	op2, err := c.Compute.Firewalls.Insert(c.Project, newFirewall("fw")).RequestId(rid).Do()
	if err != nil {
		t.Fatalf("retried insert with the same requestId: %v, want the first operation", err)
	}
	if op1.Name != op2.Name || op2.Error != nil {
		t.Errorf("retry answered operation %s (error %v), want %s", op2.Name, op2.Error, op1.Name)
	}
	if op1.ClientOperationId != rid {
		t.Errorf("clientOperationId = %q, want the requestId %q", op1.ClientOperationId, rid)
	}
}

func targetsOf(ops []*compute.Operation) []string {
	var out []string
	for _, op := range ops {
		out = append(out, op.OperationType+" "+lastSegment(op.TargetLink))
	}
	return out
}

func isCode(t testing.TB, err error, code int) bool {
	t.Helper()
	got, _ := apiError(t, err)
	return got == code
}
