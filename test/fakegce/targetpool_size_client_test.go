package fakegce_test

import (
	"fmt"
	"strings"
	"testing"

	"google.golang.org/api/compute/v1"
)

// A target pool is created with at most 200 instances; addInstance takes
// the rest (the upstream GCE provider's rule, kubernetes/kubernetes#27829).
func TestATargetPoolIsCreatedWithAtMost200Instances(t *testing.T) {
	c := start(t)
	defaultNetwork(t, c)
	var names []string
	for i := range 201 {
		names = append(names, fmt.Sprintf("vm-%03d", i))
		wait(t, c)(c.Compute.Instances.Insert(c.Project, zone, newInstance(names[i])).Do())
	}
	_, err := c.Compute.TargetPools.Insert(c.Project, region, newTargetPool("too-many", names...)).Do()
	if code, reason := apiError(t, err); code != 400 || reason != "invalid" || !strings.Contains(err.Error(), "'resource.instances': '201'") {
		t.Errorf("insert with 201 instances: %v, want 400 invalid naming resource.instances", err)
	}
	insertTargetPool(t, c, newTargetPool("pool", names[:200]...))
	wait(t, c)(c.Compute.TargetPools.AddInstance(c.Project, region, "pool", &compute.TargetPoolsAddInstanceRequest{
		Instances: []*compute.InstanceReference{{Instance: "zones/" + zone + "/instances/" + names[200]}}}).Do())
	tp, err := c.Compute.TargetPools.Get(c.Project, region, "pool").Do()
	if err != nil || len(tp.Instances) != 201 {
		t.Fatalf("pool after addInstance: %d instances, %v; want 201", len(tp.Instances), err)
	}
}
