package dataplane

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/test/lab/topology"
)

// A small lab made by the test itself, wired exactly as the lab contract
// says: a vpc namespace, instance namespaces behind links "i-<N>", and a
// client namespace behind the link "client".

// requireLab skips the test unless it can make network namespaces (fails it
// where topology.RequireEnv says the lab must run).
func requireLab(t testing.TB) {
	t.Helper()
	topology.Require(t)
}

type labNet struct {
	prefix string
	vpc    *labNS
	client *labNS
	nodes  []*labNS
}

type labNS struct {
	name string
	ns   netns.NsHandle
	nl   *netlink.Handle
}

// newLabNet makes the vpc and client namespaces; addNode adds instances.
func newLabNet(t testing.TB) *labNet {
	t.Helper()
	l := &labNet{prefix: fmt.Sprintf("dp%04x-", os.Getpid()&0xffff^int(time.Now().UnixNano()&0xffff))}
	l.vpc = newLabNS(t, l.prefix+"vpc")
	l.client = newLabNS(t, l.prefix+"client")
	l.vpc.sysctl(t, "ipv4/ip_forward", "1")
	l.vpc.veth(t, "client", "198.51.100.1/24", l.client, "eth0", "198.51.100.10/24")
	l.client.route(t, "0.0.0.0/0", "198.51.100.1", "eth0")
	return l
}

// addNode adds instance N with its internal address, per the contract.
func (l *labNet) addNode(t testing.TB, internal string) *labNS {
	t.Helper()
	n := len(l.nodes) + 1
	node := newLabNS(t, fmt.Sprintf("%snode-%d", l.prefix, n))
	link := fmt.Sprintf("i-%d", n)
	l.vpc.veth(t, link, "10.128.0.1/32", node, "eth0", internal+"/32")
	l.vpc.route(t, internal+"/32", "", link)
	node.route(t, "10.128.0.1/32", "", "eth0")
	node.route(t, "0.0.0.0/0", "10.128.0.1", "eth0")
	l.nodes = append(l.nodes, node)
	return node
}

func newLabNS(t testing.TB, name string) *labNS {
	t.Helper()
	var ns netns.NsHandle
	err := onThrowawayThread(func() error {
		var err error
		ns, err = netns.NewNamed(name)
		return err
	})
	if err != nil {
		t.Fatalf("create network namespace %s: %v", name, err)
	}
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		t.Fatalf("netlink handle in %s: %v", name, err)
	}
	t.Cleanup(func() {
		h.Close()
		ns.Close()
		if err := netns.DeleteNamed(name); err != nil {
			t.Errorf("delete network namespace %s: %v", name, err)
		}
	})
	l := &labNS{name: name, ns: ns, nl: h}
	lo, err := h.LinkByName("lo")
	if err == nil {
		err = h.LinkSetUp(lo)
	}
	if err != nil {
		t.Fatalf("set lo up in %s: %v", name, err)
	}
	return l
}

// onThrowawayThread runs fn on a locked thread that ends with it, for calls
// that change the calling thread's namespace.
func onThrowawayThread(fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		errc <- fn()
	}()
	return <-errc
}

// veth links this namespace's link name (address addr) to peer's peerName (peerAddr).
func (l *labNS) veth(t testing.TB, name, addr string, peer *labNS, peerName, peerAddr string) {
	t.Helper()
	if err := l.nl.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: name}, PeerName: peerName,
		PeerNamespace: netlink.NsFd(int(peer.ns))}); err != nil {
		t.Fatalf("add veth %s/%s - %s/%s: %v", l.name, name, peer.name, peerName, err)
	}
	l.addrUp(t, name, addr)
	peer.addrUp(t, peerName, peerAddr)
}

func (l *labNS) addrUp(t testing.TB, name, addr string) {
	t.Helper()
	link, err := l.nl.LinkByName(name)
	if err != nil {
		t.Fatalf("get link %s in %s: %v", name, l.name, err)
	}
	a, err := netlink.ParseAddr(addr)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.nl.AddrAdd(link, a); err != nil {
		t.Fatalf("add %s to %s in %s: %v", addr, name, l.name, err)
	}
	if err := l.nl.LinkSetUp(link); err != nil {
		t.Fatalf("set %s up in %s: %v", name, l.name, err)
	}
}

// route adds dst via gw (or on-link when gw is empty) dev name.
func (l *labNS) route(t testing.TB, dst, gw, name string) {
	t.Helper()
	link, err := l.nl.LinkByName(name)
	if err != nil {
		t.Fatalf("get link %s in %s: %v", name, l.name, err)
	}
	r := &netlink.Route{LinkIndex: link.Attrs().Index, Dst: ipNet(netip.MustParsePrefix(dst))}
	if gw != "" {
		r.Gw = net.ParseIP(gw)
	} else {
		r.Scope = netlink.SCOPE_LINK
	}
	if err := l.nl.RouteAdd(r); err != nil {
		t.Fatalf("add route %s via %q dev %s in %s: %v", dst, gw, name, l.name, err)
	}
}

func (l *labNS) sysctl(t testing.TB, path, value string) {
	t.Helper()
	if err := runIn(l.ns, func() error { return os.WriteFile("/proc/sys/net/"+path, []byte(value), 0o644) }); err != nil {
		t.Fatalf("set %s=%s in %s: %v", path, value, l.name, err)
	}
}

// listen opens a TCP listener inside the namespace; it stays there.
func (l *labNS) listen(t testing.TB, addr string) net.Listener {
	t.Helper()
	var ln net.Listener
	err := runIn(l.ns, func() error {
		var err error
		ln, err = net.Listen("tcp", addr)
		return err
	})
	if err != nil {
		t.Fatalf("listen on %s in %s: %v", addr, l.name, err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}

// serveWho answers every connection with "name local remote" and closes it.
func (l *labNS) serveWho(t testing.TB, addr, name string) {
	ln := l.listen(t, addr)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			fmt.Fprintf(c, "%s %s %s\n", name, c.LocalAddr(), c.RemoteAddr())
			c.Close()
		}
	}()
}

// serveHealth answers GET /healthz with 200 while healthy is true, else 503.
func (l *labNS) serveHealth(t testing.TB, addr string, healthy *atomic.Bool) {
	ln := l.listen(t, addr)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" && healthy.Load() {
			w.WriteHeader(http.StatusOK)
			return
		}
		w.WriteHeader(http.StatusServiceUnavailable)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
}

// who dials addr from the namespace and reads the server's "name local remote".
func (l *labNS) who(addr string) (name, local, remote string, err error) {
	var c net.Conn
	err = runIn(l.ns, func() error {
		var err error
		c, err = net.DialTimeout("tcp", addr, time.Second)
		return err
	})
	if err != nil {
		return "", "", "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return "", "", "", fmt.Errorf("read from %s: %w", addr, err)
	}
	f := strings.Fields(line)
	if len(f) != 3 {
		return "", "", "", fmt.Errorf("answer %q from %s: want name local remote", line, addr)
	}
	return f[0], f[1], f[2], nil
}

// addLoopbackAddr puts an address on lo, as GCE's guest agent does with a
// forwarding rule's address so that the instance accepts passthrough traffic.
func (l *labNS) addLoopbackAddr(t testing.TB, a string) {
	t.Helper()
	lo, err := l.nl.LinkByName("lo")
	if err != nil {
		t.Fatal(err)
	}
	if err := l.nl.AddrAdd(lo, &netlink.Addr{IPNet: ipNet(netip.PrefixFrom(netip.MustParseAddr(a), 32))}); err != nil {
		t.Fatalf("add %s to lo in %s: %v", a, l.name, err)
	}
}

// eventually calls check until it succeeds or the deadline passes.
func eventually(t testing.TB, within time.Duration, what string, check func() error) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: still failing after %v: %v", what, within, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// dumpOnFailure logs the vpc namespace's rules, routes and connections when
// the test fails, to show where a packet went.
func (l *labNet) dumpOnFailure(t testing.TB) {
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		for _, cmd := range [][]string{
			{"nft", "list", "ruleset"},
			{"ip", "rule"},
			{"ip", "route", "show", "table", "all"},
			{"conntrack", "-L"},
		} {
			out, err := exec.Command("ip", append([]string{"netns", "exec", l.vpc.name}, cmd...)...).CombinedOutput()
			t.Logf("%s in %s (%v):\n%s", strings.Join(cmd, " "), l.vpc.name, err, out)
		}
	})
}
