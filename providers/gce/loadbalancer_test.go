package gce

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"testing"

	"google.golang.org/api/compute/v1"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	cloudprovider "k8s.io/cloud-provider"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/computeclient"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/lbcondition"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/providers/gce/annotations"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/providers/gce/cloudconfig"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/test/fakegce"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/test/fixture"
)

// lbService is the external LoadBalancer Service "web" on TCP port 80,
// with the annotations given.
func lbService(annots map[string]string) *v1.Service {
	return namedLBService(metav1.NamespaceDefault, "web", "6a1d6c1e-1111-4222-8333-444455556666", annots)
}

func namedLBService(namespace, name, uid string, annots map[string]string) *v1.Service {
	opts := []fixture.ServiceOption{fixture.Namespace(namespace), fixture.UID(uid), fixture.LoadBalancer(),
		fixture.TrafficPolicy(v1.ServiceExternalTrafficPolicyCluster), fixture.HTTPPort(0, 0)}
	for k, v := range annots {
		opts = append(opts, fixture.Annotation(k, v))
	}
	return fixture.Service(name, opts...)
}

// problem is what a failed reconcile tells the Service's owner: the
// reason and message of its LoadBalancerReady condition and Warning event,
// which the service controller writes (servicecontroller's condition
// tests).
type problem struct{ reason, message string }

// ensureFails runs a reconcile that must fail and returns the problem its
// error carries (zero when it carries none: the owner is told nothing).
func ensureFails(t *testing.T, tc *testCloud, svc *v1.Service, nodes []*v1.Node) problem {
	t.Helper()
	_, err := tc.provider.EnsureLoadBalancer(context.Background(), cluster, svc, nodes)
	if err == nil {
		t.Fatal("EnsureLoadBalancer succeeded")
	}
	reason, message, _ := lbcondition.ProblemOf(err)
	return problem{reason, message}
}

func TestEnsureLoadBalancerInEachMode(t *testing.T) {
	tc := newTestCloud(t, fakegce.Config{}, func(c *cloudconfig.Config) { c.NodeTags = []string{"k8s-node"} })
	tc.addInstance(t, "us-central1-a", "node-1")
	nodes := []*v1.Node{node("node-1", "gce://fake-project/us-central1-a/node-1")}
	ctx := context.Background()

	svc := lbService(nil)
	st, err := tc.provider.EnsureLoadBalancer(ctx, cluster, svc, nodes)
	if err != nil || len(st.Ingress) != 1 || *st.Ingress[0].IPMode != v1.LoadBalancerIPModeVIP {
		t.Fatalf("external: %+v, %v", st, err)
	}
	if note := LoadBalancerNote(svc); note != (lbcondition.Note{}) {
		t.Errorf("note = %+v, want none: the condition is True, Provisioned", note)
	}
	if _, exists, err := tc.provider.GetLoadBalancer(ctx, cluster, svc); !exists || err != nil {
		t.Errorf("GetLoadBalancer = %v, %v", exists, err)
	}

	// Switched to nodeip: the external load balancer goes, the nodeip
	// controller takes over.
	svc.Annotations = map[string]string{annotations.Mode: "nodeip"}
	svc.Status.LoadBalancer = *st
	_, err = tc.provider.EnsureLoadBalancer(ctx, cluster, svc, nodes)
	if !errors.Is(err, cloudprovider.ImplementedElsewhere) {
		t.Fatalf("nodeip: err = %v, want ImplementedElsewhere", err)
	}
	if _, exists, _ := tc.provider.GetLoadBalancer(ctx, cluster, lbService(nil)); exists {
		t.Errorf("the external load balancer survived the switch to nodeip")
	}
	if err := tc.provider.EnsureLoadBalancerDeleted(ctx, cluster, svc); err != nil {
		t.Errorf("EnsureLoadBalancerDeleted: %v", err)
	}
}

func TestABadServiceGetsAWarningAndACondition(t *testing.T) {
	tc := newTestCloud(t, fakegce.Config{}, nil)
	svc := lbService(map[string]string{annotations.NetworkTier: "Gold"})
	tc.Server.ResetCalls()
	got := ensureFails(t, tc, svc, nil)
	want := problem{"InvalidServiceSetting", `cloud.google.com/network-tier: "Gold" is not a network tier: use Premium or Standard`}
	if got != want {
		t.Errorf("problem = %+v, want %+v", got, want)
	}
	// No cloud call was made for it.
	if calls := tc.Server.Calls(); len(calls) != 0 {
		t.Errorf("a bad Service made %d cloud calls", len(calls))
	}
	// A bad mode annotation is the owner's to fix the same way.
	svc = lbService(map[string]string{annotations.Mode: "anycast"})
	if got := ensureFails(t, tc, svc, nil); got.reason != "InvalidServiceSetting" || !strings.Contains(got.message, annotations.Mode) {
		t.Errorf("problem = %+v, want InvalidServiceSetting naming %s", got, annotations.Mode)
	}
}

func TestAStaticAddressThatDoesNotExistIsReported(t *testing.T) {
	tc := newTestCloud(t, fakegce.Config{}, func(c *cloudconfig.Config) {
		c.LoadBalancer.UserAddresses = []cloudconfig.AddressGrant{{Namespace: "default", Address: "my-ip"}}
	})
	svc := lbService(map[string]string{annotations.StaticAddress: "my-ip"})
	_, err := tc.provider.EnsureLoadBalancer(context.Background(), cluster, svc, nil)
	reason, msg, ok := lbcondition.ProblemOf(err)
	if !ok || reason != "AddressNotFound" {
		t.Fatalf("err = %v (%s: %s)", err, reason, msg)
	}
	// Reserved by the user: used, and not released on delete.
	must(t, tc.Cloud)(tc.Compute.Addresses.Insert(tc.Project, "us-central1", &compute.Address{Name: "my-ip"}).Do())
	st, err := tc.provider.EnsureLoadBalancer(context.Background(), cluster, svc, nil)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := tc.Compute.Addresses.Get(tc.Project, "us-central1", "my-ip").Do()
	if st.Ingress[0].IP != a.Address {
		t.Errorf("IP %s, want the static address %s", st.Ingress[0].IP, a.Address)
	}
	if err := tc.provider.EnsureLoadBalancerDeleted(context.Background(), cluster, svc); err != nil {
		t.Fatal(err)
	}
	if _, err := tc.Compute.Addresses.Get(tc.Project, "us-central1", "my-ip").Do(); err != nil {
		t.Errorf("the user's address was released: %v", err)
	}
}

func TestWithoutASubnetworkInTheConfigTheNetworksOnlyOneIsUsed(t *testing.T) {
	tc := newTestCloud(t, fakegce.Config{}, func(c *cloudconfig.Config) { c.SubnetworkName, c.NodeTags = "", []string{"k8s-node"} })
	tc.addInstance(t, "us-central1-a", "node-1")
	nodes := []*v1.Node{node("node-1", "gce://fake-project/us-central1-a/node-1")}
	ctx := context.Background()
	svc := lbService(map[string]string{annotations.GKELoadBalancerType: "Internal"})
	st, err := tc.provider.EnsureLoadBalancer(ctx, cluster, svc, nodes)
	if err != nil {
		t.Fatalf("EnsureLoadBalancer: %v", err)
	}
	if ip := netip.MustParseAddr(st.Ingress[0].IP); !netip.MustParsePrefix("10.0.0.0/24").Contains(ip) {
		t.Errorf("the internal address %s is not from the network's only subnetwork, nodes (10.0.0.0/24)", ip)
	}
	// Found once: the next reconcile does not look again.
	tc.Server.ResetCalls()
	if _, err := tc.provider.EnsureLoadBalancer(ctx, cluster, svc, nodes); err != nil {
		t.Fatal(err)
	}
	for _, c := range tc.Server.Calls() {
		if c.API == "compute.subnetworks.list" {
			t.Errorf("the subnetwork was looked up again")
		}
	}
}

func TestANetworkWithSeveralSubnetworksAndNoneConfiguredIsReported(t *testing.T) {
	tc := newTestCloud(t, fakegce.Config{}, func(c *cloudconfig.Config) { c.SubnetworkName = "" })
	fixture.InsertSubnetwork(t, tc.Cloud, tc.Project, "us-central1", &compute.Subnetwork{Name: "clients", Network: "global/networks/vpc", IpCidrRange: "10.1.0.0/24"})
	svc := lbService(map[string]string{annotations.GKELoadBalancerType: "Internal"})
	ctx := context.Background()
	want := problem{"NoSubnetwork", "this load balancer takes its address from a subnetwork, and network vpc has 2 in us-central1 (clients, nodes): " +
		"set [global] subnetwork-name in the cloud config (an internal load balancer may name its own with the annotation networking.gke.io/internal-load-balancer-subnet)"}
	if got := ensureFails(t, tc, svc, nil); got != want {
		t.Errorf("problem = %+v, want %+v", got, want)
	}
	// The annotation settles it for that Service, with no lookup.
	svc.Annotations[annotations.InternalSubnet] = "clients"
	tc.Server.ResetCalls()
	st, err := tc.provider.EnsureLoadBalancer(ctx, cluster, svc, nil)
	if err != nil {
		t.Fatalf("with the annotation: %v", err)
	}
	if ip := netip.MustParseAddr(st.Ingress[0].IP); !netip.MustParsePrefix("10.1.0.0/24").Contains(ip) {
		t.Errorf("the internal address %s is not from clients (10.1.0.0/24)", ip)
	}
	for _, c := range tc.Server.Calls() {
		if c.API == "compute.subnetworks.list" {
			t.Errorf("a Service naming its subnetwork made the provider look for one")
		}
	}
}

func TestANetworkWithoutASubnetworkInTheRegionIsReported(t *testing.T) {
	tc := newTestCloud(t, fakegce.Config{}, func(c *cloudconfig.Config) { c.SubnetworkName, c.NetworkName = "", "bare" })
	fixture.InsertNetwork(t, tc.Cloud, tc.Project, fixture.CustomNetwork("bare"))
	svc := lbService(map[string]string{annotations.GKELoadBalancerType: "Internal"})
	want := problem{"NoSubnetwork", "this load balancer takes its address from a subnetwork, and network bare has none in us-central1: create one there"}
	if got := ensureFails(t, tc, svc, nil); got != want {
		t.Errorf("problem = %+v, want %+v", got, want)
	}
}

func TestAQuotaErrorIsReportedAndClearsOnceTheLoadBalancerIsBuilt(t *testing.T) {
	tc := newTestCloud(t, fakegce.Config{}, func(c *cloudconfig.Config) { c.NodeTags = []string{"k8s-node"} })
	tc.addInstance(t, "us-central1-a", "node-1")
	nodes := []*v1.Node{node("node-1", "gce://fake-project/us-central1-a/node-1")}
	if err := tc.Server.SetFaults([]fakegce.FaultRule{{Method: "compute.forwardingRules.insert", Code: 403, Reason: "quotaExceeded",
		Message: "Quota 'FORWARDING_RULES' exceeded.  Limit: 15.0 globally.", Count: 1}}); err != nil {
		t.Fatal(err)
	}
	svc := lbService(nil)
	ctx := context.Background()
	_, err := tc.provider.EnsureLoadBalancer(ctx, cluster, svc, nodes)
	reason, message, _ := lbcondition.ProblemOf(err)
	if reason != "QuotaExceeded" || !strings.Contains(message, "Quota 'FORWARDING_RULES' exceeded") {
		t.Errorf("problem = %s: %s (err %v), want QuotaExceeded quoting the API", reason, message, err)
	}
	// Wrapped, the error is still the API's for whoever classifies it.
	if computeclient.Classify(err) != computeclient.ClassQuota {
		t.Errorf("the quota error is classified %v once wrapped", computeclient.Classify(err))
	}
	if _, err := tc.provider.EnsureLoadBalancer(ctx, cluster, svc, nodes); err != nil {
		t.Fatalf("after the quota: %v", err)
	}
}

func TestASubnetworkIsLookedUpOnlyForWhatNeedsOne(t *testing.T) {
	tc := newTestCloud(t, fakegce.Config{}, func(c *cloudconfig.Config) { c.SubnetworkName = "" })
	fixture.InsertSubnetwork(t, tc.Cloud, tc.Project, "us-central1", &compute.Subnetwork{Name: "clients", Network: "global/networks/vpc", IpCidrRange: "10.1.0.0/24"})
	// IPv6 on a target pool is refused for the backend first, whatever
	// the subnetworks.
	svc := lbService(map[string]string{annotations.Backend: "target-pool"})
	svc.Spec.IPFamilies = []v1.IPFamily{v1.IPv4Protocol, v1.IPv6Protocol}
	tc.Server.ResetCalls()
	if c := ensureFails(t, tc, svc, nil); c.reason != "IPv6NeedsBackendService" {
		t.Errorf("problem = %+v, want IPv6NeedsBackendService", c)
	}
	for _, c := range tc.Server.Calls() {
		if c.API == "compute.subnetworks.list" {
			t.Errorf("a Service refused for its backend made the provider look for a subnetwork")
		}
	}
}
