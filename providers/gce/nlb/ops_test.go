package nlb

import (
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/api/compute/v1"
	v1 "k8s.io/api/core/v1"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/changeset"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/ownership"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/providers/gce/annotations"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/test/fixture"
)

// opsByStep lists a plan's ops as "step: verb kind name", in plan order.
func opsByStep(p *changeset.Plan) []string {
	var out []string
	for _, op := range p.Ops {
		out = append(out, fmt.Sprintf("%d: %s", op.Step, op.Key()))
	}
	return out
}

// The plans are made without a call: a Balancer with no client plans them.
var planner = New(nil, testParams)

func TestPlanTeardown(t *testing.T) {
	base := testParams.Owner.LoadBalancerBase("uid-1")
	mine := testParams.Owner.Description(map[string]string{ownership.ServiceUIDKey: "uid-1"})
	foreign := "made by hand"
	shared := testParams.Owner.Description(map[string]string{"cloud-provider-vpc.io/shared": "kube-proxy"})
	tests := []struct {
		name string
		o    observedTeardown
		want []string
	}{
		{name: "nothing observed: only the firewall rules are looked at again",
			want: []string{"2: delete firewall rules of " + base}},
		{name: "a target pool load balancer: rules, then the pool, then the rest and the shared check's release",
			o: observedTeardown{
				rules:        []*compute.ForwardingRule{{Name: base + "-tcp", Description: mine}, {Name: base + "-udp", Description: foreign}},
				clusterPools: []*compute.TargetPool{{Name: base, Description: mine}, {Name: "k8s-other-lb-x", Description: mine}},
				sharedHC:     &compute.HttpHealthCheck{Name: testParams.Owner.SharedHealthCheckName(), Description: shared},
				address:      &compute.Address{Name: base, Description: mine},
			},
			want: []string{
				"0: delete forwarding rule " + base + "-tcp",
				"1: delete target pool " + base,
				"2: delete firewall rules of " + base,
				"2: release shared resources of " + base,
				"2: delete address " + base,
			}},
		{name: "a backend service: its own check at once, the shared ones on release; the user's address stays",
			o: observedTeardown{
				service: &compute.BackendService{Name: base, Description: mine,
					HealthChecks: []string{ownership.LinkBase + "projects/p1/regions/us-central1/healthChecks/" + base},
					Backends:     []*compute.Backend{{Group: igLinkOf(testParams, "us-central1-a")}}},
				address: &compute.Address{Name: base, Description: foreign},
			},
			want: []string{
				"1: delete backend service " + base,
				"2: delete regional health check " + base,
				"2: release shared resources of " + base,
				"2: delete firewall rules of " + base,
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.o.base, tt.o.uid = base, "uid-1"
			if d := cmp.Diff(tt.want, opsByStep(planner.planTeardown(&tt.o))); d != "" {
				t.Errorf("plan (-want +got):\n%s", d)
			}
		})
	}
}

func TestPlanOfABackendService(t *testing.T) {
	svc := newService("web", fixture.Annotation(annotations.Backend, BackendService))
	svc.Spec.IPFamilies = []v1.IPFamily{v1.IPv4Protocol}
	d, err := Desire(svc, nodesFor("us-central1-a", "n1"), testParams)
	if err != nil {
		t.Fatal(err)
	}
	got, err := backendService{planner}.plan(d, &Observed{IPv6: &observedIPv6{}, Groups: map[string]*group{}})
	if err != nil {
		t.Fatal(err)
	}
	ig := testParams.Owner.InstanceGroupName("us-central1-a")
	want := []string{
		"2: insert address " + d.Base,
		"2: insert regional health check " + testParams.Owner.SharedHealthCheckName(),
		"2: insert instance group " + ig,
		"3: apply firewall rules of " + d.Base,
		"3: sync instance group " + ig,
		"3: insert backend service " + d.Base,
		"5: insert forwarding rule " + d.Base + "-tcp",
	}
	if diff := cmp.Diff(want, opsByStep(&got.Plan)); diff != "" {
		t.Errorf("a new load balancer's plan (-want +got):\n%s", diff)
	}
}
