package lab_test

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/test/lab/topology"
)

// otherClient is the client's second address, outside the source ranges
// the tests allow.
var (
	client      = topology.ClientAddr.Addr()
	otherClient = netip.MustParsePrefix("198.51.100.20/24")
)

// answersEveryTime waits until n new connections in a row from ns (source
// src) to addr are answered and each answer passes check, and returns the
// answers. Every connection is a new flow, so a load balancer chooses a
// backend for each.
func answersEveryTime(t *testing.T, timeout time.Duration, ns string, src netip.Addr, addr string, n int,
	check func(topology.Echo) error) []topology.Echo {
	t.Helper()
	var got []topology.Echo
	eventually(t, timeout, fmt.Sprintf("%d answers in a row from %s to %s", n, src, addr), func() (bool, error) {
		got = nil
		for len(got) < n {
			a, err := topology.Ask(context.Background(), ns, src, addr)
			if err == nil && check != nil {
				err = check(a)
			}
			if err != nil {
				return false, err
			}
			got = append(got, a)
		}
		return true, nil
	})
	return got
}

// neverAnswers checks that n connections from ns (source src) to addr all
// fail: dropped by the firewall, or refused.
func neverAnswers(t *testing.T, ns string, src netip.Addr, addr string, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		if a, err := topology.Ask(context.Background(), ns, src, addr); err == nil {
			t.Errorf("%s reached %s and %s answered; want no connection", src, addr, a.Pod)
			return
		}
	}
}

// servedOnEveryNode waits until kube-proxy on every node has programmed the
// load balancer address addr: a connection from the node itself reaches a
// pod (a node's own traffic to a load balancer address may go to any
// endpoint, even with Local). Until then, a flow the load balancer hands a
// node goes back to the VPC router, which hands it to the node again, until
// its TTL runs out: a health check passing says nothing about it, as the
// health check node port is served before the address is.
func servedOnEveryNode(t *testing.T, addr string) {
	t.Helper()
	for _, n := range e.lab.Nodes {
		answersEveryTime(t, lbWithin, n.NS, netip.Addr{}, addr, 1, nil)
	}
}

// answeringPods asks addr n times from the client namespace with source
// src, each a new flow, and returns the set of pods that answered.
func answeringPods(t *testing.T, src netip.Addr, addr string, n int) map[string]bool {
	t.Helper()
	pods := map[string]bool{}
	for i := 0; i < n; i++ {
		a, err := topology.Ask(context.Background(), e.lab.Client, src, addr)
		if err != nil {
			t.Fatal(err)
		}
		pods[a.Pod] = true
	}
	return pods
}

func fromPod(name string) func(topology.Echo) error {
	return func(a topology.Echo) error {
		if a.Pod != name {
			return fmt.Errorf("%s answered, want %s", a.Pod, name)
		}
		return nil
	}
}

// seenFrom checks that the pod saw the connection come from src (any
// source, when src is the zero Addr).
func seenFrom(src netip.Addr) func(topology.Echo) error {
	return func(a topology.Echo) error {
		if src.IsValid() && a.SourceAddr() != src {
			return fmt.Errorf("%s saw the connection from %s, want %s", a.Pod, a.Source, src)
		}
		return nil
	}
}

// fromOutside is the address a client outside the VPC dials to reach
// the published address addr (ip:port): a node's internal address is
// reached through the node's external one, which the VPC's 1:1 NAT turns
// into it on the way in (docs/nodeip.md); any other address as it is.
func fromOutside(t *testing.T, addr string) string {
	t.Helper()
	ap := netip.MustParseAddrPort(addr)
	for _, n := range e.lab.Nodes {
		if n.InternalIP == ap.Addr() {
			return hostPort(e.natIP[n.Name], int(ap.Port()))
		}
	}
	return addr
}

// hostPort is addr:port.
func hostPort(a netip.Addr, port int) string { return net.JoinHostPort(a.String(), strconv.Itoa(port)) }

// condition is the Service's status condition of type typ, or nil.
func condition(t *testing.T, s *v1.Service, typ string) *metav1.Condition {
	t.Helper()
	got, err := e.cp.Admin.CoreV1().Services(s.Namespace).Get(context.Background(), s.Name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range got.Status.Conditions {
		if got.Status.Conditions[i].Type == typ {
			return &got.Status.Conditions[i]
		}
	}
	return nil
}
