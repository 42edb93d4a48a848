package topology_test

import (
	"bufio"
	"context"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/test/lab/topology"
)

// These tests build real namespaces: they need root. Their management
// subnets stay clear of the lab suite's (topology.DefaultMgmtSubnet), which
// may run at the same time.
var (
	testMgmt  = netip.MustParsePrefix("198.18.1.0/24")
	crashMgmt = netip.MustParsePrefix("198.18.2.0/24")
)

func requireLab(t *testing.T) {
	t.Helper()
	topology.Require(t)
}

func twoNodes() []topology.NodeSpec {
	return []topology.NodeSpec{
		{Name: "node-1", InternalIP: netip.MustParseAddr("10.128.0.11"), PodCIDR: netip.MustParsePrefix("10.64.1.0/24")},
		{Name: "node-2", InternalIP: netip.MustParseAddr("10.128.0.12"), PodCIDR: netip.MustParsePrefix("10.64.2.0/24")},
	}
}

// serveEcho runs an echo server in ns on addr until the test ends.
func serveEcho(t *testing.T, ns, addr, name string) {
	t.Helper()
	l, err := topology.Listen(ns, "tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	srv := topology.ServeEcho(l, name)
	t.Cleanup(func() { srv.Close() })
}

func mustAsk(t *testing.T, ns string, src netip.Addr, addr string) topology.Echo {
	t.Helper()
	e, err := topology.Ask(context.Background(), ns, src, addr)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestUpBuildsTheContractsLinksAndDownLeavesNothing(t *testing.T) {
	requireLab(t)
	nodes := twoNodes()
	nodes[0].IPv6 = netip.MustParseAddr("2600:1900:4000:1::11")
	lab, err := topology.Up(topology.Config{Nodes: nodes, MgmtSubnet: testMgmt,
		VMs: []topology.VMSpec{{Name: "vm-1", InternalIP: netip.MustParseAddr("10.128.0.20")}}})
	if err != nil {
		t.Fatal(err)
	}
	downed := false
	t.Cleanup(func() {
		if !downed {
			lab.Down()
		}
	})
	n1, n2 := lab.Node("node-1"), lab.Node("node-2")
	pod, err := lab.AddPod(n1, "node-1-a")
	if err != nil {
		t.Fatal(err)
	}
	if want := netip.MustParseAddr("10.64.1.11"); pod.IP != want {
		t.Errorf("first pod of node-1 has %s, want %s", pod.IP, want)
	}

	t.Run("a node reaches its own pod over the pod's veth", func(t *testing.T) {
		e := mustAsk(t, n1.NS, netip.Addr{}, net.JoinHostPort(pod.IP.String(), "8080"))
		if e.Pod != "node-1-a" || e.SourceAddr() != netip.MustParseAddr("10.64.1.1") {
			t.Errorf("answer %+v, want pod node-1-a seeing the node's pod gateway 10.64.1.1", e)
		}
	})
	t.Run("every node reaches the VPC router from its internal address", func(t *testing.T) {
		serveEcho(t, lab.VPC, "10.128.0.1:9000", "vpc")
		for _, n := range []*topology.Node{n1, n2} {
			e := mustAsk(t, n.NS, netip.Addr{}, "10.128.0.1:9000")
			if e.SourceAddr() != n.InternalIP {
				t.Errorf("%s reached the router as %s, want %s", n.Name, e.Source, n.InternalIP)
			}
		}
	})
	t.Run("the VPC router reaches every node on its i-N link", func(t *testing.T) {
		for _, n := range []*topology.Node{n1, n2} {
			serveEcho(t, n.NS, net.JoinHostPort(n.InternalIP.String(), "9001"), n.Name)
			e := mustAsk(t, lab.VPC, netip.Addr{}, net.JoinHostPort(n.InternalIP.String(), "9001"))
			if e.Pod != n.Name || e.SourceAddr() != topology.Gateway {
				t.Errorf("router asked %s and got %+v, want %s seeing %s", n.InternalIP, e, n.Name, topology.Gateway)
			}
		}
	})
	t.Run("the VPC router reaches a node's IPv6 address, which answers through the router's link-local address", func(t *testing.T) {
		// The router's own probe source: an address on none of its links,
		// as the data plane's checkers are.
		src := netip.MustParseAddr("2600:1901:8001::1")
		if out, err := exec.Command("ip", "-n", lab.VPC, "-6", "addr", "add", src.String()+"/128", "dev", "lo", "nodad").CombinedOutput(); err != nil {
			t.Fatalf("add %s to lo in %s: %v: %s", src, lab.VPC, err, out)
		}
		serveEcho(t, n1.NS, net.JoinHostPort(n1.IPv6.String(), "9004"), n1.Name)
		e := mustAsk(t, lab.VPC, src, net.JoinHostPort(n1.IPv6.String(), "9004"))
		if e.Pod != n1.Name || e.SourceAddr() != src {
			t.Errorf("router asked %s and got %+v, want %s seeing %s", n1.IPv6, e, n1.Name, src)
		}
	})
	t.Run("a VM has the link after the nodes' and reaches the router from its internal address", func(t *testing.T) {
		vm := lab.VMs[0]
		if vm.Index != 3 {
			t.Errorf("vm-1 is on i-%d, want i-3", vm.Index)
		}
		serveEcho(t, lab.VPC, "10.128.0.1:9002", "vpc")
		if e := mustAsk(t, vm.NS, netip.Addr{}, "10.128.0.1:9002"); e.SourceAddr() != vm.InternalIP {
			t.Errorf("vm-1 reached the router as %s, want %s", e.Source, vm.InternalIP)
		}
		serveEcho(t, vm.NS, "10.128.0.20:9003", "vm-1")
		if e := mustAsk(t, lab.VPC, netip.Addr{}, "10.128.0.20:9003"); e.Pod != "vm-1" {
			t.Errorf("the router asked vm-1 and %s answered", e.Pod)
		}
	})
	t.Run("the client reaches the router from each of its addresses", func(t *testing.T) {
		serveEcho(t, lab.VPC, "198.51.100.1:9000", "vpc-client-side")
		second := netip.MustParsePrefix("198.51.100.20/24")
		if err := lab.AddClientAddress(second); err != nil {
			t.Fatal(err)
		}
		for _, src := range []netip.Addr{topology.ClientAddr.Addr(), second.Addr()} {
			if e := mustAsk(t, lab.Client, src, "198.51.100.1:9000"); e.SourceAddr() != src {
				t.Errorf("client from %s arrived as %s", src, e.Source)
			}
		}
	})
	t.Run("nodes and the host meet on the management bridge", func(t *testing.T) {
		host, err := net.Listen("tcp", net.JoinHostPort(lab.MgmtAddr.String(), "0"))
		if err != nil {
			t.Fatal(err)
		}
		srv := topology.ServeEcho(host, "host")
		defer srv.Close()
		e := mustAsk(t, n2.NS, netip.Addr{}, host.Addr().String())
		if e.SourceAddr() != n2.MgmtIP {
			t.Errorf("node-2 reached the host as %s, want %s", e.Source, n2.MgmtIP)
		}
	})
	t.Run("pods have no route beyond the lab", func(t *testing.T) {
		// A node's only way out is the VPC router, which has no route to
		// 10.64.2.0/24 until the data plane adds the cloud's routes.
		_, err := topology.Ask(context.Background(), n1.NS, netip.Addr{}, "10.64.2.11:8080")
		if err == nil {
			t.Error("node-1 reached node-2's pod range with no cloud route")
		}
	})

	// The subtests' listeners are closed by now, so nothing holds the
	// namespaces.
	downed = true
	if err := lab.Down(); err != nil {
		t.Fatal(err)
	}
	if rest, err := topology.Remains(lab.Prefix); err != nil || len(rest) > 0 {
		t.Errorf("after Down: %v remain (%v)", rest, err)
	}
}

// TestCleanLeftoversRemovesWhatAKilledRunLeft kills a test process (this
// binary again) while its lab is up, as a crash would, and expects the next
// CleanLeftovers to remove all it made.
func TestCleanLeftoversRemovesWhatAKilledRunLeft(t *testing.T) {
	if os.Getenv("TOPOLOGY_CRASH_CHILD") == "1" {
		crashChild()
		return
	}
	requireLab(t)
	cmd := exec.Command(os.Args[0], "-test.run=^TestCleanLeftoversRemovesWhatAKilledRunLeft$")
	cmd.Env = append(os.Environ(), "TOPOLOGY_CRASH_CHILD=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	prefix := ""
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if p, ok := strings.CutPrefix(sc.Text(), "lab up: "); ok {
			prefix = p
			break
		}
	}
	cmd.Process.Kill()
	cmd.Wait()
	if prefix == "" {
		t.Fatal("the child process did not bring its lab up")
	}
	if rest, _ := topology.Remains(prefix); len(rest) == 0 {
		t.Fatalf("the killed run left nothing behind to clean; the test proves nothing")
	}
	if err := topology.CleanLeftovers(); err != nil {
		t.Fatal(err)
	}
	if rest, err := topology.Remains(prefix); err != nil || len(rest) > 0 {
		t.Errorf("after CleanLeftovers: %v remain (%v)", rest, err)
	}
}

// crashChild brings a lab up, says its prefix, and waits to be killed.
func crashChild() {
	lab, err := topology.Up(topology.Config{Nodes: twoNodes(), MgmtSubnet: crashMgmt})
	if err != nil {
		os.Stderr.WriteString(err.Error() + "\n")
		os.Exit(1)
	}
	if _, err := lab.AddPod(lab.Node("node-2"), "node-2-a"); err != nil {
		os.Stderr.WriteString(err.Error() + "\n")
		os.Exit(1)
	}
	os.Stdout.WriteString("lab up: " + lab.Prefix + "\n")
	time.Sleep(time.Minute)
	os.Exit(1)
}

// TestUpRefusesAManagementSubnetTheHostRoutes: the bridge's subnet would
// shadow the machine's own route (here loopback's, which every host has).
func TestUpRefusesAManagementSubnetTheHostRoutes(t *testing.T) {
	requireLab(t)
	_, err := topology.Up(topology.Config{Nodes: twoNodes(), MgmtSubnet: netip.MustParsePrefix("127.200.0.0/24")})
	if err == nil || !strings.Contains(err.Error(), "overlaps the host's routes") {
		t.Fatalf("Up with a management subnet inside 127.0.0.0/8: %v, want a refusal", err)
	}
	if rest, err := topology.Remains(topology.PrefixFor(os.Getpid())); err != nil || len(rest) > 0 {
		t.Errorf("a refused Up left %v (%v)", rest, err)
	}
}
