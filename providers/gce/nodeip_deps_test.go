package gce

import (
	"context"
	"net/netip"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	cloudprovider "k8s.io/cloud-provider"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/ownership"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/providers/gce/cloudconfig"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/providers/gce/nodeip"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/test/fakegce"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/test/fixture"
)

func TestTheNodeIPControllerAndTheExternalModeAgreeOnTheFirewallRule(t *testing.T) {
	tc := newTestCloud(t, fakegce.Config{}, func(c *cloudconfig.Config) {
		c.NodeTags = []string{"k8s-node"}
		c.LoadBalancer = cloudconfig.LoadBalancerConfig{Mode: cloudconfig.ModeNodeIP, NodeIPAddressType: "InternalIP",
			NodeIPSourceRanges: []netip.Prefix{netip.MustParsePrefix("0.0.0.0/0")}, ReservedPorts: []cloudconfig.PortRange{{From: 22, To: 22, Protocol: "TCP"}}}
	})
	deps := tc.provider.NodeIPDeps(cluster)
	svc := lbService(nil) // no mode annotation: the default, nodeip
	want := ownership.NodeIPFirewallName(ownership.ForCluster(cluster).LoadBalancerBase(string(svc.UID)))
	if got := deps.FirewallName(string(svc.UID)); got != want {
		t.Fatalf("the controller names the rule %s, the provider %s", got, want)
	}
	if deps.Defaults.Mode != cloudconfig.ModeNodeIP || deps.Defaults.ReservedPorts[0] != (nodeip.PortRange{From: 22, To: 22, Protocol: v1.ProtocolTCP}) || deps.Network != tc.provider.networkURL {
		t.Errorf("deps = %+v, want the cloud config's [load-balancer] values and network", deps)
	}

	node := fixture.Node("n1", fixture.InternalIP("10.0.0.5"))
	client := fake.NewClientset(svc, node)
	factory := informers.NewSharedInformerFactory(client, 0)
	ctrl, err := nodeip.New(client, factory.Core().V1().Services(), factory.Core().V1().Nodes(), factory.Discovery().V1().EndpointSlices(), deps, nodeip.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	factory.Start(ctx.Done())
	go ctrl.Run(ctx)

	waitUntil(t, "the nodeip controller publishes the node", func() bool {
		got, err := client.CoreV1().Services("default").Get(ctx, svc.Name, metav1.GetOptions{})
		return err == nil && len(got.Status.LoadBalancer.Ingress) == 1
	})
	if _, err := tc.Compute.Firewalls.Get(tc.Project, want).Do(); err != nil {
		t.Fatalf("the published node's rule %s: %v", want, err)
	}

	// The service controller's ensure of the nodeip Service, here with no
	// node left, so that the status shows an address that is no node's:
	// the release of the external mode's resources goes by what the cloud
	// holds, and its firewall diff is the external mode's.
	published, err := client.CoreV1().Services("default").Get(ctx, svc.Name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tc.provider.EnsureLoadBalancer(ctx, cluster, published, nil); err != cloudprovider.ImplementedElsewhere {
		t.Fatalf("EnsureLoadBalancer of a nodeip Service = %v, want ImplementedElsewhere", err)
	}
	if _, err := tc.Compute.Firewalls.Get(tc.Project, want).Do(); err != nil {
		t.Errorf("the release of the external load balancer took the nodeip rule too: %v", err)
	}
	// What the service controller calls when the Service goes.
	if err := tc.provider.EnsureLoadBalancerDeleted(ctx, cluster, svc); err != nil {
		t.Fatal(err)
	}
	if _, err := tc.Compute.Firewalls.Get(tc.Project, want).Do(); err == nil {
		t.Errorf("EnsureLoadBalancerDeleted left the nodeip rule %s", want)
	}
}

func waitUntil(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: never happened", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
