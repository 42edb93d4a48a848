package nlb

import (
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"google.golang.org/api/compute/v1"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/ownership"
)

func TestPlan(t *testing.T) {
	svc := newService("web")
	d, err := Desire(svc, nodesFor("us-central1-a", "n1", "n2"), testParams)
	if err != nil {
		t.Fatal(err)
	}
	owner := testParams.Owner
	inst := func(n string) string {
		return "https://www.googleapis.com/compute/v1/projects/fake-project/zones/us-central1-a/instances/" + n
	}
	hcLink := ownership.LinkBase + "projects/p1/global/httpHealthChecks/" + d.HealthCheck.Name
	poolLink := ownership.LinkBase + "projects/p1/regions/us-central1/targetPools/" + d.Base
	current := func() *Observed {
		return &Observed{
			Address:      &compute.Address{Name: d.Base, Address: "203.0.113.9", NetworkTier: "PREMIUM", Description: d.Description},
			OwnedAddress: &compute.Address{Name: d.Base, Address: "203.0.113.9", NetworkTier: "PREMIUM", Description: d.Description},
			HealthCheck: &compute.HttpHealthCheck{Name: d.HealthCheck.Name, Port: 10256, RequestPath: "/healthz", CheckIntervalSec: 8,
				TimeoutSec: 1, HealthyThreshold: 1, UnhealthyThreshold: 3, Description: owner.Description(nil)},
			Pools: []*compute.TargetPool{{Name: d.Base, Instances: []string{inst("n1"), inst("n2")}, HealthChecks: []string{hcLink},
				SessionAffinity: "NONE", Description: d.Description}},
			Rules: []*compute.ForwardingRule{{Name: d.Base + "-tcp", IPAddress: "203.0.113.9", IPProtocol: "TCP", PortRange: "80-80",
				NetworkTier: "PREMIUM", Target: poolLink, Description: d.Description}},
		}
	}
	tests := []struct {
		name   string
		change func(o *Observed)
		want   poolPlan
		err    string
	}{
		{name: "nothing to do when the cloud matches", change: func(o *Observed) {},
			want: poolPlan{}},
		{name: "everything missing is created",
			change: func(o *Observed) { *o = Observed{} },
			want: poolPlan{
				InsertAddress: &compute.Address{Name: d.Base, AddressType: "EXTERNAL", NetworkTier: "PREMIUM", Description: d.Description},
				InsertHC:      &compute.HttpHealthCheck{Name: d.HealthCheck.Name, Port: 10256, RequestPath: "/healthz", CheckIntervalSec: 8, TimeoutSec: 1, HealthyThreshold: 1, UnhealthyThreshold: 3},
				InsertPool:    &compute.TargetPool{Name: d.Base, Instances: []string{inst("n1"), inst("n2")}, HealthChecks: []string{hcLink}, SessionAffinity: "NONE", Description: d.Description},
				InsertRules: []*compute.ForwardingRule{{Name: d.Base + "-tcp", IPProtocol: "TCP", PortRange: "80-80", NetworkTier: "PREMIUM",
					LoadBalancingScheme: "EXTERNAL", Target: poolLink, Description: d.Description}},
			}},
		{name: "a node that left is removed and one that joined is added",
			change: func(o *Observed) { o.Pools[0].Instances = []string{inst("n2"), inst("n3")} },
			want:   poolPlan{AddInstances: []string{inst("n1")}, RemoveInstances: []string{inst("n3")}}},
		{name: "a changed port range recreates the rule on the same address",
			change: func(o *Observed) { o.Rules[0].PortRange = "8080-8080" },
			want: poolPlan{DeleteRules: []string{d.Base + "-tcp"}, InsertRules: []*compute.ForwardingRule{{Name: d.Base + "-tcp", IPProtocol: "TCP",
				PortRange: "80-80", NetworkTier: "PREMIUM", LoadBalancingScheme: "EXTERNAL", Target: poolLink, Description: d.Description}}}},
		{name: "a rule of a protocol the Service dropped is deleted",
			change: func(o *Observed) {
				o.Rules = append(o.Rules, &compute.ForwardingRule{Name: d.Base + "-udp", IPProtocol: "UDP", Description: d.Description})
			},
			want: poolPlan{DeleteRules: []string{d.Base + "-udp"}}},
		{name: "a pool made by hand with the Service's name is a collision",
			change: func(o *Observed) { o.Pools[0].Description = "" },
			err:    "NameCollision"},
		{name: "an address of another tier cannot be changed in place",
			change: func(o *Observed) { o.OwnedAddress.NetworkTier = "STANDARD"; o.Address = o.OwnedAddress },
			err:    "TierChange"},
		{name: "a health check with another port is updated",
			change: func(o *Observed) { o.HealthCheck.Port = 10249 },
			want: poolPlan{UpdateHC: &compute.HttpHealthCheck{Name: d.HealthCheck.Name, Port: 10256, RequestPath: "/healthz", CheckIntervalSec: 8,
				TimeoutSec: 1, HealthyThreshold: 1, UnhealthyThreshold: 3}}},
	}
	ignore := cmpopts.IgnoreFields(poolPlan{}, "IP", "AddressName", "HealthCheck", "PoolName")
	ignoreHCDesc := cmpopts.IgnoreFields(compute.HttpHealthCheck{}, "Description")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := current()
			tt.change(o)
			got, err := planTargetPool(d, o, testParams)
			if tt.err != "" {
				var se *ServiceError
				if !errors.As(err, &se) || se.Reason != tt.err {
					t.Fatalf("err = %v, want a %s", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(&tt.want, got, ignore, ignoreHCDesc); diff != "" {
				t.Errorf("plan (-want +got):\n%s", diff)
			}
			if (tt.want.InsertAddress == nil && tt.want.InsertPool == nil && len(tt.want.InsertRules) == 0 &&
				len(tt.want.DeleteRules) == 0 && len(tt.want.AddInstances) == 0 && tt.want.UpdateHC == nil) != got.Empty() {
				t.Errorf("Empty() = %v", got.Empty())
			}
		})
	}
}

func TestANewPoolIsInsertedWithTheInstancesAnInsertTakesAndTheRestAdded(t *testing.T) {
	for _, tt := range []struct {
		name               string
		nodes, insert, add int
	}{
		{name: "200 nodes all go in the insert", nodes: 200, insert: 200},
		{name: "201 nodes: one is added after the insert", nodes: 201, insert: 200, add: 1},
		{name: "450 nodes: 250 are added after the insert", nodes: 450, insert: 200, add: 250},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var names []string
			for i := range tt.nodes {
				names = append(names, fmt.Sprintf("n%03d", i))
			}
			d, err := Desire(newService("web"), nodesFor("us-central1-a", names...), testParams)
			if err != nil {
				t.Fatal(err)
			}
			pl, err := planTargetPool(d, &Observed{}, testParams)
			if err != nil {
				t.Fatal(err)
			}
			if got := len(pl.InsertPool.Instances); got != tt.insert {
				t.Errorf("the insert carries %d instances, want %d", got, tt.insert)
			}
			if got := len(pl.AddInstances); got != tt.add {
				t.Errorf("%d instances are added after the insert, want %d", got, tt.add)
			}
			if diff := cmp.Diff(d.Pool.Instances, append(slices.Clone(pl.InsertPool.Instances), pl.AddInstances...)); diff != "" {
				t.Errorf("inserted and added instances are not the desired ones (-want +got):\n%s", diff)
			}
		})
	}
}
