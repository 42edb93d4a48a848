package lab_test

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/test/lab/topology"
)

// How long the lab waits for kube-proxy to program a change, and for the
// CCM (and the data plane after it) to make a load balancer.
const (
	proxyWithin = 20 * time.Second
	lbWithin    = 60 * time.Second
)

func TestKubeProxyHasSyncedOnEveryNode(t *testing.T) {
	requireLab(t)
	for _, n := range e.lab.Nodes {
		if err := e.proxy[n.Name].Healthz(); err != nil {
			t.Errorf("kube-proxy on %s: %v (log %s)", n.Name, err, e.proxy[n.Name].LogPath())
		}
	}
}

func TestAClusterIPServiceFromANodeReachesAPodOnThatNode(t *testing.T) {
	requireLab(t)
	svc := createService(t, newService("clusterip"))
	publish(t, svc, e.pod["node-1-a"])
	n1 := node("node-1")
	var got topology.Echo
	eventually(t, proxyWithin, "node-1 reaches node-1-a through ClusterIP "+clusterIPAddr(svc), func() (bool, error) {
		var err error
		got, err = topology.Ask(context.Background(), n1.NS, netip.Addr{}, clusterIPAddr(svc))
		return err == nil && got.Pod == "node-1-a", err
	})
	// kube-proxy masquerades traffic from outside the cluster CIDR to a
	// ClusterIP, so the pod sees the node's address on its link.
	if want := "10.64.1.1"; got.SourceAddr().String() != want {
		t.Errorf("the pod saw %s, want the node's pod gateway %s (masqueraded)", got.Source, want)
	}
}
