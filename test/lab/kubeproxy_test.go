package lab_test

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/test/fixture"
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

// defaultProxyMode is the mode the lab's kube-proxies run in: iptables,
// kube-proxy's default and what most clusters on GCE run. proxyModes are
// the modes the comparisons that depend on it run in: the two of Linux
// that differ in what they do with a packet they refuse
// (TestKubeProxyModesRefuseAClientOutsideTheSourceRangesOfAServiceWithoutEndpoints).
const defaultProxyMode = "iptables"

var proxyModes = []string{"iptables", "nftables"}

// useProxyMode restarts kube-proxy on every node in mode, unless it runs
// in it already, and waits until each has synced. The new kube-proxy
// removes the rules of the old mode as it starts.
func useProxyMode(t *testing.T, mode string) {
	t.Helper()
	if e.proxyMode == mode {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for _, n := range e.lab.Nodes {
		e.proxy[n.Name].Stop()
		kp, err := topology.StartKubeProxy(ctx, n, topology.KubeProxyOptions{
			Bin: filepath.Join(e.kubeBin, "kube-proxy"), Dir: e.dir, Kubeconfig: e.proxyKubeconfig, Mode: mode})
		if err != nil {
			t.Fatal(err)
		}
		e.proxy[n.Name] = kp
	}
	e.proxyMode = mode
	for _, n := range e.lab.Nodes {
		if err := e.proxy[n.Name].WaitSynced(ctx); err != nil {
			t.Fatalf("kube-proxy on %s in %s mode: %v (log %s)", n.Name, mode, err, e.proxy[n.Name].LogPath())
		}
	}
}

// inEveryProxyMode runs test once per mode of proxyModes, every kube-proxy
// restarted in it, and leaves them in defaultProxyMode. A test that calls
// it must not be parallel: the other tests would see the modes change.
func inEveryProxyMode(t *testing.T, test func(t *testing.T, mode string)) {
	t.Helper()
	t.Cleanup(func() { useProxyMode(t, defaultProxyMode) })
	for _, mode := range proxyModes {
		t.Run("kube-proxy in "+mode+" mode", func(t *testing.T) {
			useProxyMode(t, mode)
			test(t, mode)
		})
	}
}

func TestKubeProxyModesRefuseAClientOutsideTheSourceRangesOfAServiceWithoutEndpoints(t *testing.T) {
	requireLab(t)
	// A pod on node-1 is outside the Service's loadBalancerSourceRanges and
	// the Service has no endpoints. The iptables mode makes its firewall
	// chain only for a Service with endpoints (usesFWChain :=
	// hasEndpoints && ...) and rejects the traffic of one without
	// ("has no endpoints", -j REJECT in KUBE-EXTERNAL-SERVICES), in the
	// filter table's FORWARD and INPUT: k8s.io/kubernetes v1.37.2
	// pkg/proxy/iptables/proxier.go. The nftables mode makes the firewall
	// chain whatever the endpoints (usesFWChain := len(LoadBalancerVIPs())
	// > 0 && len(LoadBalancerSourceRanges()) > 0) and checks it in
	// filter-prerouting-pre-dnat, at dstnat-10, where it drops, before the
	// no-endpoints reject of the input and forward hooks:
	// pkg/proxy/nftables/proxier.go. So the client is refused in one and
	// its packets vanish in the other.
	want := map[string]string{"iptables": "refused", "nftables": "dropped"}
	inEveryProxyMode(t, func(t *testing.T, mode string) {
		svc := createService(t, newService("no-endpoints", fixture.LoadBalancer(), withPort(8094), fixture.SourceRanges(client.String()+"/32")))
		addr := ingressAddrs(t, svc, 1)[0]
		lbIP := netip.MustParseAddrPort(addr).Addr()
		n1 := node("node-1")
		eventually(t, proxyWithin, "kube-proxy on node-1 refuses "+addr+" in "+mode+" mode", func() (bool, error) {
			return topology.ProgramsRefusal(n1.NS, mode, lbIP)
		})
		if got := howRefused(e.pod["node-1-a"].NS, addr); got != want[mode] {
			t.Errorf("a connection from pod node-1-a to %s (no endpoints, outside the source ranges) was %s, want %s", addr, got, want[mode])
		}
	})
}

// howRefused dials addr from namespace ns once and says what became of
// it: "refused" (a reset, or an ICMP port unreachable, came back),
// "unreachable" (an ICMP host or network unreachable came back), "dropped"
// (nothing came back within 2 seconds), or "connected".
func howRefused(ns, addr string) string {
	var err error
	execErr := topology.Exec(ns, func() error {
		var c net.Conn
		if c, err = net.DialTimeout("tcp", addr, 2*time.Second); err == nil {
			c.Close()
		}
		return nil
	})
	var ne net.Error
	switch {
	case execErr != nil:
		return "not tried: " + execErr.Error()
	case err == nil:
		return "connected"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "refused"
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		return "unreachable"
	case errors.As(err, &ne) && ne.Timeout():
		return "dropped"
	}
	return err.Error()
}
