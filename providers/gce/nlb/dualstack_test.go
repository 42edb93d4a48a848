package nlb

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"testing"

	v1 "k8s.io/api/core/v1"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/ownership"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/providers/gce/annotations"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/test/fakegce"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/test/fixture"
)

func TestDualStackServicesGetAnIPv6ForwardingRule(t *testing.T) {
	lc := newLBCloud(t, fakegce.Config{}, "node-1", "node-2")
	dualStackSubnetwork(t, lc)
	svc := newService("web", fixture.Annotation(annotations.Backend, BackendService))
	svc.Spec.IPFamilies = []v1.IPFamily{v1.IPv6Protocol, v1.IPv4Protocol}
	nodes := nodesFor("us-central1-a", "node-1", "node-2")
	st, err := lc.lb().Ensure(context.Background(), svc, nodes)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Ingress) != 2 || !netip.MustParseAddr(st.Ingress[0].IP).Is6() || !netip.MustParseAddr(st.Ingress[1].IP).Is4() {
		t.Fatalf("status = %+v, want the IPv6 address then the IPv4 one (spec.ipFamilies order)", st.Ingress)
	}
	base := lc.p.Owner.LoadBalancerBase(string(svc.UID))
	fr, err := lc.Compute.ForwardingRules.Get(lc.Project, "us-central1", base+"-tcp-v6").Do()
	if err != nil || fr.IpVersion != "IPV6" || fr.IPAddress != st.Ingress[0].IP+"/96" || fr.BackendService == "" {
		t.Errorf("IPv6 rule = %+v, %v", fr, err)
	}
	for _, name := range []string{base + "-fw6", base + "-hc6"} {
		if _, err := lc.Compute.Firewalls.Get(lc.Project, name).Do(); err != nil {
			t.Errorf("firewall %s: %v", name, err)
		}
	}
	resyncMakesNoWrites(t, lc, svc, nodes)

	// Single-stack IPv4 again: the IPv6 rule, address and firewall rules go.
	svc.Spec.IPFamilies = []v1.IPFamily{v1.IPv4Protocol}
	ensure(t, lc, svc, nodes)
	if _, err := lc.Compute.Addresses.Get(lc.Project, "us-central1", ownership.IPv6AddressName(base)).Do(); err == nil {
		t.Errorf("the IPv6 address was kept")
	}
	if _, err := lc.Compute.ForwardingRules.Get(lc.Project, "us-central1", base+"-tcp-v6").Do(); err == nil {
		t.Errorf("the IPv6 rule was kept")
	}
	resyncMakesNoWrites(t, lc, svc, nodes)
	svc.Spec.IPFamilies = []v1.IPFamily{v1.IPv4Protocol, v1.IPv6Protocol}
	ensure(t, lc, svc, nodes)
	if err := lc.lb().Delete(context.Background(), svc); err != nil {
		t.Fatal(err)
	}
	if left := lc.owned(); len(left) != 0 {
		t.Errorf("left after delete: %v", left)
	}
}

func TestIPv6NeedsABackendServiceAndADualStackSubnetwork(t *testing.T) {
	lc := newLBCloud(t, fakegce.Config{}, "node-1")
	lc.p.SubnetworkURL = "https://www.googleapis.com/compute/v1/projects/fake-project/regions/us-central1/subnetworks/default"
	for _, tt := range []struct {
		name    string
		backend string
		reason  string
	}{
		{name: "on a target pool", backend: BackendTargetPool, reason: "IPv6NeedsBackendService"},
		{name: "on an IPv4-only subnetwork", backend: BackendService, reason: "NoIPv6Range"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			svc := newService("web", fixture.Annotation(annotations.Backend, tt.backend))
			svc.Spec.IPFamilies = []v1.IPFamily{v1.IPv4Protocol, v1.IPv6Protocol}
			_, err := lc.lb().Ensure(context.Background(), svc, nodesFor("us-central1-a", "node-1"))
			var se *ServiceError
			if !errors.As(err, &se) || se.Reason != tt.reason {
				t.Errorf("err = %v, want %s", err, tt.reason)
			}
		})
	}
}

func TestIPv6ThatCannotBeServedIsRefusedWithACondition(t *testing.T) {
	lc := newLBCloud(t, fakegce.Config{}, "node-1")
	dualStackSubnetwork(t, lc)
	nodes := nodesFor("us-central1-a", "node-1")
	// Created on a target pool when that was the default; the default is
	// now a backend service, which the Service does not name.
	kept := newService("kept-on-a-pool")
	lc.p.DefaultBackend = BackendTargetPool
	ensure(t, lc, kept, nodes)
	lc.p.DefaultBackend = BackendService
	kept.Spec.IPFamilies = []v1.IPFamily{v1.IPv4Protocol, v1.IPv6Protocol}
	for _, tt := range []struct {
		name   string
		svc    *v1.Service
		reason string
	}{
		{name: "a dual-stack Service kept on its target pool", svc: kept, reason: "IPv6NeedsBackendService"},
		{name: "an internal dual-stack Service", svc: newService("internal", fixture.Annotation(annotations.GKELoadBalancerType, "Internal")), reason: "InternalIPv6"},
		{name: "an internal IPv6-only Service", svc: newService("internal-v6", fixture.Annotation(annotations.GKELoadBalancerType, "Internal")), reason: "InternalIPv6"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if len(tt.svc.Spec.IPFamilies) == 0 {
				tt.svc.Spec.IPFamilies = []v1.IPFamily{v1.IPv4Protocol, v1.IPv6Protocol}
				if strings.HasSuffix(tt.svc.Name, "-v6") {
					tt.svc.Spec.IPFamilies = []v1.IPFamily{v1.IPv6Protocol}
				}
			}
			lc.Server.ResetCalls()
			st, err := lc.lb().Ensure(context.Background(), tt.svc, nodes)
			var se *ServiceError
			if !errors.As(err, &se) || se.Reason != tt.reason || !strings.Contains(se.Message, "spec.ipFamilies") {
				t.Errorf("Ensure = %+v, %v; want a %s error naming spec.ipFamilies", st, err, tt.reason)
			}
			if n := lc.calls(); n.writes != 0 {
				t.Errorf("a refused Service made %s; want 0 writes", n)
			}
		})
	}
}
