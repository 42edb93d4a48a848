package fakegce_test

import (
	"testing"

	"google.golang.org/api/compute/v1"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/test/fakegce"
)

// With the default settings an operation behaves as every recorded insert
// of the real API does: the answer is RUNNING, a poll later
// finds it DONE (fixtures/gcp-http-logs: every insert answers RUNNING,
// progress 0, and its poll DONE). The methods the recordings show DONE in
// their first answer (an address's and a forwarding rule's setLabels, an
// instance group's addInstances) are DONE at once.
func TestWithDefaultSettingsAnInsertIsDoneOnlyLater(t *testing.T) {
	c := start(t)
	op, err := c.Compute.Networks.Insert(c.Project, newNetwork("default")).Do()
	if err != nil {
		t.Fatal(err)
	}
	if op.Status != "RUNNING" || op.Progress != 0 || op.EndTime != "" {
		t.Errorf("insert answered %s, progress %d, endTime %q; want RUNNING, 0 and none", op.Status, op.Progress, op.EndTime)
	}
	if done := waitDone(t, c, op); done.Status != "DONE" || done.Progress != 100 || done.EndTime == "" || done.Error != nil {
		t.Errorf("after waiting: %s, progress %d, endTime %q, error %v; want DONE, 100, an endTime and no error",
			done.Status, done.Progress, done.EndTime, done.Error)
	}
	if _, err := c.Compute.Networks.Get(c.Project, "default").Do(); err != nil {
		t.Errorf("the network once its operation is DONE: %v", err)
	}

	a := insertAddress(t, c, "addr")
	op, err = c.Compute.Addresses.SetLabels(c.Project, region, "addr", &compute.RegionSetLabelsRequest{
		Labels: map[string]string{"k": "v"}, LabelFingerprint: a.LabelFingerprint}).Do()
	if err != nil || op.Status != "DONE" {
		t.Errorf("setLabels answered %v (err %v), want DONE at once as recorded", op, err)
	}
	wait(t, c)(c.Compute.InstanceGroups.Insert(c.Project, zone, &compute.InstanceGroup{Name: "ig"}).Do())
	insertInstance(t, c, newInstance("vm"))
	op, err = c.Compute.InstanceGroups.AddInstances(c.Project, zone, "ig", &compute.InstanceGroupsAddInstancesRequest{
		Instances: []*compute.InstanceReference{{Instance: "zones/" + zone + "/instances/vm"}}}).Do()
	if err != nil || op.Status != "DONE" {
		t.Errorf("addInstances answered %v (err %v), want DONE at once as recorded", op, err)
	}
}

func TestNoOpLatencyMakesEveryOperationDoneInItsFirstAnswer(t *testing.T) {
	c := start(t, withOpLatency(fakegce.NoOpLatency))
	op, err := c.Compute.Networks.Insert(c.Project, newNetwork("default")).Do()
	if err != nil || op.Status != "DONE" {
		t.Fatalf("insert answered %v (err %v), want DONE", op, err)
	}
}
