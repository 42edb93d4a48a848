package lab_test

// `kubectl vpc trace` against the kernel: a real connection crosses the
// lab, and the rewrites the trace predicts for it must be those that the
// conntrack tables of the vpc and node namespaces recorded.

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	v1 "k8s.io/api/core/v1"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/computeclient"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/ownership"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/providers/gce/cloudconfig"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/test/fixture"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/test/lab/topology"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/trace"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/trace/observe"
)

func TestTracePredictsTheRewritesConntrackRecords(t *testing.T) {
	requireLab(t)
	// kube-proxy's iptables and nftables modes make the same rewrites (DNAT
	// to the endpoint, masquerade with a random port): the trace, which does
	// not know the mode, must match the kernel in both.
	inEveryProxyMode(t, func(t *testing.T, mode string) { tracePredictsTheRewritesConntrackRecords(t) })
}

func tracePredictsTheRewritesConntrackRecords(t *testing.T) {
	t.Run("an external load balancer's backend masquerades to the pod of another node", func(t *testing.T) {
		t.Parallel()
		svc := createService(t, newService("trace-external", fixture.LoadBalancer()))
		publish(t, svc, e.pod["node-2-a"])
		addr := ingressAddrs(t, svc, 1)[0]
		// The load balancer hashes each new flow to one of the three
		// backends; conntrack says which, and the trace is asked for that
		// one. Flows until one reaches a node without the endpoint, each
		// checked: 20 flows all to node-2 happen with a probability of
		// (1/3)^20.
		var reached []string
		for len(reached) < 20 {
			node := traceMatchesConntrack(t, svc, fromInternet(), addr)
			reached = append(reached, node)
			if node != "node-2" {
				return
			}
		}
		t.Fatalf("%d flows all reached %v: the load balancer never chose another backend than the endpoint's node", len(reached), reached)
	})
	t.Run("nodeip through node-1's external address masquerades to the pod on node-2", func(t *testing.T) {
		t.Parallel()
		svc := createService(t, newService("trace-nodeip", fixture.LoadBalancer(), nodeIPMode(), withPort(8086)))
		publish(t, svc, e.pod["node-2-a"])
		ingressAddrs(t, svc, nodeCount)
		if got := traceMatchesConntrack(t, svc, fromInternet(), hostPort(e.natIP["node-1"], 8086)); got != "node-1" {
			t.Errorf("node-1's external address led to %s", got)
		}
		// And to the pod's own node, which masquerades with its address
		// on the pod's link.
		if got := traceMatchesConntrack(t, svc, fromInternet(), hostPort(e.natIP["node-2"], 8086)); got != "node-2" {
			t.Errorf("node-2's external address led to %s", got)
		}
	})
	t.Run("an internal load balancer carries vm-1 to a node, which masquerades to the pod", func(t *testing.T) {
		t.Parallel()
		svc := createService(t, newService("trace-internal", fixture.LoadBalancer(), withPort(8092),
			fixture.Annotation("networking.gke.io/load-balancer-type", "Internal")))
		publish(t, svc, e.pod["node-2-a"])
		traceMatchesConntrack(t, svc, fromVM(), ingressAddrs(t, svc, 1)[0])
	})
	t.Run("vm-1 reaches a nodeip Service's internal address with no NAT in the VPC", func(t *testing.T) {
		t.Parallel()
		svc := createService(t, newService("trace-nodeip-inside", fixture.LoadBalancer(), nodeIPMode(), withPort(8093)))
		publish(t, svc, e.pod["node-2-a"])
		ingressAddrs(t, svc, nodeCount)
		if got := traceMatchesConntrack(t, svc, fromVM(), hostPort(node("node-3").InternalIP, 8093)); got != "node-3" {
			t.Errorf("node-3's internal address led to %s", got)
		}
	})
	t.Run("nodeip with externalTrafficPolicy Local keeps the client's address", func(t *testing.T) {
		t.Parallel()
		svc := createService(t, newService("trace-local", fixture.LoadBalancer(), nodeIPMode(), fixture.TrafficPolicy(v1.ServiceExternalTrafficPolicyLocal), withPort(8087)))
		publish(t, svc, e.pod["node-2-a"])
		ingressAddrs(t, svc, 1)
		if got := traceMatchesConntrack(t, svc, fromInternet(), hostPort(e.natIP["node-2"], 8087)); got != "node-2" {
			t.Errorf("node-2's external address led to %s", got)
		}
	})
}

// clientAt is where a traced connection starts: a namespace and the
// source address it uses there.
type clientAt struct {
	ns   string
	addr netip.Addr
}

// fromInternet is the client outside the VPC; fromVM is vm-1, inside it.
func fromInternet() clientAt { return clientAt{e.lab.Client, client} }
func fromVM() clientAt       { return clientAt{vm().NS, vm().InternalIP} }

// traceMatchesConntrack opens a connection from a client to addr and,
// while it is open, compares the rewrites the conntrack tables recorded
// for it with those a trace of the Service predicts for the same client
// address and port and the node conntrack says the connection entered.
// It returns that node.
func traceMatchesConntrack(t *testing.T, svc *v1.Service, from clientAt, addr string) string {
	t.Helper()
	conn, first, echo := openFlow(t, from, addr)
	defer conn.Close()
	tables, err := conntrackTables()
	if err != nil {
		t.Fatal(err)
	}
	path := followFlow(tables, first)
	if len(path) < 2 || path[0].At != vpcAt {
		t.Fatalf("conntrack has no entry of %s -> %s in the vpc namespace and then a node's:\n%s", first.Src, first.Dst, pathText(path))
	}
	node := path[1].At
	if seen := path[len(path)-1].Entry.sent().Src.String(); echo.Source != seen {
		t.Errorf("pod %s saw the connection from %s, but the last conntrack entry on its way, in %s, sends it from %s: these entries are not the whole way:\n%s",
			echo.Pod, echo.Source, path[len(path)-1].At, seen, pathText(path))
	}
	tr := traceOf(t, svc, first.Src, node)
	var text strings.Builder
	trace.WriteText(&text, tr)
	if tr.Outcome != trace.Delivered || tr.Destination != first.Dst {
		t.Fatalf("the trace to %s from %s does not deliver %s -> %s:\n%s", node, first.Src, first.Src, first.Dst, text.String())
	}
	if tr.Endpoint.Pod != echo.Pod {
		t.Errorf("the trace follows the packet to %s, and %s answered", tr.Endpoint.Pod, echo.Pod)
	}
	predicted, recorded := traceRewrites(tr), conntrackRewrites(path)
	if diff := cmp.Diff(predicted, recorded); diff != "" {
		t.Errorf("%s -> %s through %s: the rewrites trace predicted (-) and those conntrack recorded (+):\n%s\nthe trace:\n%s\nconntrack's entries on the way:\n%s",
			first.Src, first.Dst, node, diff, text.String(), pathText(path))
		return node
	}
	t.Logf("%s -> %s entered %s and reached %s: trace and conntrack agree on the rewrites, %s", first.Src, first.Dst, node, echo.Pod, countRewrites(recorded))
	return node
}

// clientPort numbers the connections openFlow makes: each binds the next
// port, above the kernel's ephemeral range (32768-60999), so that no
// connection the kernel numbers holds it.
var clientPort atomic.Uint32

func init() { clientPort.Store(61000) }

// openFlow connects from a client, from a port of its own, to addr, until the connection is made and the pod behind it
// answers an HTTP request over it, and returns the connection, still open
// (the answer keeps it alive), the flow as the client sent it, and the
// answer.
func openFlow(t *testing.T, from clientAt, addr string) (net.Conn, trace.Flow, topology.Echo) {
	t.Helper()
	var conn net.Conn
	var first trace.Flow
	var echo topology.Echo
	eventually(t, lbWithin, "a connection to "+addr+" that a pod answers", func() (bool, error) {
		src := netip.AddrPortFrom(from.addr, uint16(clientPort.Add(1)))
		first = trace.Flow{Protocol: "TCP", Src: src, Dst: netip.MustParseAddrPort(addr)}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		d := net.Dialer{LocalAddr: net.TCPAddrFromAddrPort(src)}
		err := topology.Exec(from.ns, func() (err error) {
			conn, err = d.DialContext(ctx, "tcp", addr)
			return err
		})
		if err != nil {
			return false, err
		}
		if echo, err = askOver(conn); err != nil {
			conn.Close()
			return false, err
		}
		return true, nil
	})
	return conn, first, echo
}

// askOver sends one HTTP request over the connection and reads the echo
// server's answer, leaving the connection open.
func askOver(conn net.Conn) (topology.Echo, error) {
	conn.SetDeadline(time.Now().Add(2 * time.Second))
	defer conn.SetDeadline(time.Time{})
	req, err := http.NewRequest(http.MethodGet, "http://"+conn.RemoteAddr().String()+"/", nil)
	if err != nil {
		return topology.Echo{}, err
	}
	if err := req.Write(conn); err != nil {
		return topology.Echo{}, fmt.Errorf("ask %s: %w", conn.RemoteAddr(), err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), req)
	if err != nil {
		return topology.Echo{}, fmt.Errorf("ask %s: %w", conn.RemoteAddr(), err)
	}
	defer resp.Body.Close()
	var echo topology.Echo
	if err := json.NewDecoder(resp.Body).Decode(&echo); err != nil {
		return topology.Echo{}, fmt.Errorf("ask %s: %s: %w", conn.RemoteAddr(), resp.Status, err)
	}
	return echo, nil
}

// traceOf traces the Service from the client address from to node toNode
// as `kubectl vpc trace --from FROM --to-node NODE` does against the lab:
// trace/observe reads the Service, its EndpointSlices, the nodes and the
// cloud from the lab's kube-apiserver and fake-gce, with the settings of
// the CCM's gce.conf, and trace.Run traces.
func traceOf(t *testing.T, svc *v1.Service, from netip.AddrPort, toNode string) *trace.Trace {
	t.Helper()
	ctx := context.Background()
	f, err := os.Open(filepath.Join(e.dir, "gce.conf"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cfg, err := cloudconfig.Parse(f)
	if err != nil {
		t.Fatal(err)
	}
	api, err := computeclient.New(ctx, computeclient.Config{Project: cfg.ProjectID, Endpoint: e.cloud.Endpoint,
		QPS: 50, Burst: 50, MaxRetries: 2, UserAgent: "cpv-lab"})
	if err != nil {
		t.Fatal(err)
	}
	owner := ownership.ForCluster(clusterName)
	in, err := observe.Reader{Kube: e.cp.Admin, Compute: api, Region: region, Owner: owner}.Read(ctx, svc.Namespace, svc.Name)
	if err != nil {
		t.Fatal(err)
	}
	in.Settings = trace.Settings{Owner: owner, DefaultMode: cfg.LoadBalancer.Mode,
		NodeIPAddressType: v1.NodeAddressType(cfg.LoadBalancer.NodeIPAddressType)}
	in.From, in.ToNode = from, toNode
	tr, err := trace.Run(in)
	if err != nil {
		t.Fatalf("trace %s/%s from %s to %s: %v", svc.Namespace, svc.Name, from, toNode, err)
	}
	return tr
}

// pathText is a flow's conntrack entries, one a line.
func pathText(path []tracked) string {
	var b strings.Builder
	for _, p := range path {
		fmt.Fprintf(&b, "  %s\n", p)
	}
	return b.String()
}
