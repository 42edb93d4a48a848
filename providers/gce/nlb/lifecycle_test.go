package nlb

import (
	"context"
	"slices"
	"strings"
	"testing"

	v1 "k8s.io/api/core/v1"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/test/fakegce"
)

func ensure(t *testing.T, lc *lbCloud, svc *v1.Service, nodes []*v1.Node) string {
	t.Helper()
	st, err := lc.lb().Ensure(context.Background(), svc, nodes)
	if err != nil {
		t.Fatalf("Ensure: %v", err)
	}
	if len(st.Ingress) == 0 || len(st.Ingress) != len(svc.Spec.IPFamilies) && len(svc.Spec.IPFamilies) > 0 {
		t.Fatalf("status = %+v, want an ingress per IP family", st)
	}
	for _, in := range st.Ingress {
		if in.IP == "" || in.IPMode == nil || *in.IPMode != v1.LoadBalancerIPModeVIP {
			t.Fatalf("status = %+v, want VIP ingresses", st)
		}
	}
	return st.Ingress[0].IP
}

// resyncMakesNoWrites ensures again and checks it wrote nothing.
func resyncMakesNoWrites(t *testing.T, lc *lbCloud, svc *v1.Service, nodes []*v1.Node) {
	t.Helper()
	lc.Server.ResetCalls()
	ensure(t, lc, svc, nodes)
	if n := lc.calls(); n.writes != 0 {
		t.Errorf("a no-change resync made %s; want 0 writes", n)
	}
}

func writesSince(lc *lbCloud) []string {
	var out []string
	for _, c := range lc.Server.Calls() {
		if c.Method != "GET" && !strings.Contains(c.API, "Operations.") && !strings.HasSuffix(c.API, ".listInstances") {
			out = append(out, strings.TrimPrefix(c.API, "compute."))
		}
	}
	slices.Sort(out)
	return out
}

func TestLifecycleOfAnExternalLoadBalancer(t *testing.T) {
	lc := newLBCloud(t, fakegce.Config{}, "node-1", "node-2", "node-3", "node-4")
	svc := newService("web")
	nodes := nodesFor("us-central1-a", "node-1", "node-2", "node-3")
	ip := ensure(t, lc, svc, nodes)
	base := lc.p.Owner.LoadBalancerBase(string(svc.UID))

	pool, err := lc.Compute.TargetPools.Get(lc.Project, "us-central1", base).Do()
	if err != nil {
		t.Fatal(err)
	}
	if len(pool.Instances) != 3 || len(pool.HealthChecks) != 1 || !strings.HasSuffix(pool.HealthChecks[0], lc.p.Owner.SharedHealthCheckName()) {
		t.Errorf("pool = %d instances, health checks %v", len(pool.Instances), pool.HealthChecks)
	}
	fr, err := lc.Compute.ForwardingRules.Get(lc.Project, "us-central1", base+"-tcp").Do()
	if err != nil || fr.IPAddress != ip || fr.PortRange != "80-80" || !strings.HasSuffix(fr.Target, "/targetPools/"+base) {
		t.Errorf("forwarding rule = %+v, %v", fr, err)
	}
	addr, err := lc.Compute.Addresses.Get(lc.Project, "us-central1", base).Do()
	if err != nil || addr.Address != ip || addr.Status != "IN_USE" {
		t.Errorf("address = %+v, %v", addr, err)
	}
	fw, err := lc.Compute.Firewalls.Get(lc.Project, base+"-fw").Do()
	if err != nil || !slices.Equal(fw.DestinationRanges, []string{ip + "/32"}) || !slices.Equal(fw.SourceRanges, []string{"0.0.0.0/0"}) ||
		fw.Allowed[0].IPProtocol != "tcp" || !slices.Equal(fw.Allowed[0].Ports, []string{"80"}) {
		t.Errorf("firewall = %+v, %v", fw, err)
	}
	resyncMakesNoWrites(t, lc, svc, nodes)

	steps := []struct {
		name       string
		change     func()
		wantWrites []string
	}{
		{name: "source ranges change: one firewall patch",
			change:     func() { svc.Spec.LoadBalancerSourceRanges = []string{"198.51.100.0/24"} },
			wantWrites: []string{"firewalls.patch"}},
		{name: "a node joins: one addInstance",
			change:     func() { nodes = append(nodes, nodesFor("us-central1-a", "node-4")...) },
			wantWrites: []string{"targetPools.addInstance"}},
		{name: "a node leaves: one removeInstance",
			change:     func() { nodes = nodes[1:] },
			wantWrites: []string{"targetPools.removeInstance"}},
		{name: "externalTrafficPolicy Local: a per-Service health check swapped into the pool, the health-check firewall follows",
			change: func() {
				svc.Spec.ExternalTrafficPolicy = v1.ServiceExternalTrafficPolicyLocal
				svc.Spec.HealthCheckNodePort = 31234
			},
			wantWrites: []string{"firewalls.patch", "httpHealthChecks.insert", "targetPools.addHealthCheck", "targetPools.removeHealthCheck"}},
		{name: "back to Cluster: the shared check again, the per-Service one deleted",
			change:     func() { svc.Spec.ExternalTrafficPolicy = v1.ServiceExternalTrafficPolicyCluster },
			wantWrites: []string{"firewalls.patch", "httpHealthChecks.delete", "targetPools.addHealthCheck", "targetPools.removeHealthCheck"}},
		{name: "session affinity: a new pool, setTarget, the old pool deleted",
			change:     func() { svc.Spec.SessionAffinity = v1.ServiceAffinityClientIP },
			wantWrites: []string{"forwardingRules.setTarget", "targetPools.delete", "targetPools.insert"}},
		{name: "a port added: the forwarding rule recreated on the same address, the firewall patched",
			change: func() {
				svc.Spec.Ports = append(svc.Spec.Ports, v1.ServicePort{Name: "https", Protocol: v1.ProtocolTCP, Port: 443})
			},
			wantWrites: []string{"firewalls.patch", "forwardingRules.delete", "forwardingRules.insert"}},
		{name: "a UDP port: a second forwarding rule on the same address",
			change: func() {
				svc.Spec.Ports = append(svc.Spec.Ports, v1.ServicePort{Name: "dns", Protocol: v1.ProtocolUDP, Port: 53})
			},
			wantWrites: []string{"firewalls.patch", "forwardingRules.insert"}},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			st.change()
			lc.Server.ResetCalls()
			if got := ensure(t, lc, svc, nodes); got != ip {
				t.Errorf("the IP changed from %s to %s", ip, got)
			}
			if got := writesSince(lc); !slices.Equal(got, st.wantWrites) {
				t.Errorf("writes = %v, want %v", got, st.wantWrites)
			}
			resyncMakesNoWrites(t, lc, svc, nodes)
		})
	}

	if err := lc.lb().Delete(context.Background(), svc); err != nil {
		t.Fatal(err)
	}
	if left := lc.owned(); len(left) != 0 {
		t.Errorf("resources left after delete: %v", left)
	}
	if err := lc.lb().Delete(context.Background(), svc); err != nil {
		t.Errorf("a second delete: %v", err)
	}
}
