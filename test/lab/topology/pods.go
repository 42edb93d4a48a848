package topology

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strconv"
)

// Pod is a pod: a namespace behind its node, with an echo server on
// PodPort. No kubelet or container runtime is involved; the test publishes
// the pod in EndpointSlices itself.
type Pod struct {
	Name string
	NS   string
	IP   netip.Addr
	Node *Node

	srv *http.Server
}

// AddPod makes pod name (a node's pods are named after it: node-1-a) on
// node n, as a CNI plugin would: a namespace whose "eth0" has the next free
// address of the node's pod CIDR (10.64.N.11, .12, ...) and a default route
// through 10.64.N.1, a veth "p-NAME" in the node's namespace holding
// 10.64.N.1/32 and a host route to the pod. It then starts the pod's echo
// server.
func (l *Lab) AddPod(n *Node, name string) (*Pod, error) {
	dev := "p-" + name
	if len(dev) > 15 {
		return nil, fmt.Errorf("pod %s: the node's link %s would be longer than 15 bytes", name, dev)
	}
	n.mu.Lock()
	n.nextPod++
	ip := nthAddr(n.PodCIDR.Masked().Addr(), 10+n.nextPod)
	n.mu.Unlock()
	p := &Pod{Name: name, NS: l.Prefix + name, IP: ip, Node: n}
	l.mu.Lock()
	l.pods = append(l.pods, p)
	l.mu.Unlock()
	if err := p.build(dev); err != nil {
		return nil, fmt.Errorf("pod %s: %w", name, err)
	}
	ln, err := Listen(p.NS, "tcp", ":"+strconv.Itoa(PodPort))
	if err != nil {
		return nil, fmt.Errorf("pod %s: %w", name, err)
	}
	p.srv = ServeEcho(ln, name)
	return p, nil
}

func (p *Pod) build(dev string) error {
	if err := createNamespace(p.NS); err != nil {
		return err
	}
	pod, err := openNamespace(p.NS)
	if err != nil {
		return err
	}
	defer pod.close()
	node, err := openNamespace(p.Node.NS)
	if err != nil {
		return err
	}
	defer node.close()
	gw := p.Node.PodCIDR.Masked().Addr().Next()
	return run([]func() error{
		func() error { return pod.setUp("lo") },
		func() error { return addVeth(node, dev, pod, "eth0") },
		func() error { return pod.addAddr("eth0", netip.PrefixFrom(p.IP, p.Node.PodCIDR.Bits())) },
		func() error { return pod.addRoute("eth0", netip.MustParsePrefix("0.0.0.0/0"), gw) },
		func() error { return node.addAddr(dev, netip.PrefixFrom(gw, 32)) },
		func() error { return node.addRoute(dev, netip.PrefixFrom(p.IP, 32), netip.Addr{}) },
	})
}

// stopServing closes the pod's echo server, so nothing holds its
// namespace any more.
func (p *Pod) stopServing() {
	if p.srv != nil {
		p.srv.Close()
	}
}

// Echo is what an echo server answers: who answered, and the source
// address and port of the connection as it arrived.
type Echo struct {
	Pod    string `json:"pod"`
	Source string `json:"source"`
}

// SourceAddr is the address part of Source.
func (e Echo) SourceAddr() netip.Addr {
	ap, err := netip.ParseAddrPort(e.Source)
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr()
}

// ServeEcho serves, on l, an HTTP server that answers every request with
// an Echo naming name and the request's RemoteAddr, as JSON. Close the
// returned server to stop it.
func ServeEcho(l net.Listener, name string) *http.Server {
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, "{\"pod\":%q,\"source\":%q}\n", name, r.RemoteAddr)
	})}
	go func() {
		if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			l.Close()
		}
	}()
	return srv
}
