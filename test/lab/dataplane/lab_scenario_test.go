package dataplane

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"google.golang.org/api/compute/v1"
	"k8s.io/klog/v2/ktesting"
)

// runDataPlane runs the data plane on the lab until the test ends, and
// returns a function that reports the last plan it compiled.
func runDataPlane(t *testing.T, c *labCloud, l *labNet) func() Plan {
	t.Helper()
	var mu sync.Mutex
	var last Plan
	_, ctx := ktesting.NewTestContext(t)
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	synced := make(chan struct{})
	var once sync.Once
	go func() {
		done <- Run(ctx, Config{Endpoint: c.HTTP.URL, Project: c.Project, Regions: []string{region}, Namespace: l.vpc.name,
			HTTPClient: c.HTTP.Client(), ReportHealth: true,
			OnSync: func(s Sync) {
				mu.Lock()
				last = s.Plan
				mu.Unlock()
				once.Do(func() { close(synced) })
			}})
	}()
	select {
	case <-synced:
	case err := <-done:
		cancel()
		t.Fatalf("data plane stopped before its first pass: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("data plane made no pass in 30s")
	}
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("data plane: %v", err)
		}
	})
	return func() Plan {
		mu.Lock()
		defer mu.Unlock()
		return last
	}
}

func TestLabPacketsCrossTheVPCAsFakeGCESays(t *testing.T) {
	requireLab(t)
	c := startLabCloud(t)
	l := newLabNet(t)
	node1, node2 := l.addNode(t, "10.128.0.2"), l.addNode(t, "10.128.0.3")
	vm1 := c.addInstance("node-1", "10.128.0.2", "lab-node")
	c.addInstance("node-2", "10.128.0.3", "lab-node")
	nat1 := vm1.NetworkInterfaces[0].AccessConfigs[0].NatIP
	c.allowIngress("allow-web", []string{"0.0.0.0/0"}, "8080")
	c.allowIngress("allow-checkers", []string{"35.191.0.0/16", "130.211.0.0/22", "209.85.152.0/22", "209.85.204.0/22"}, "8081")
	lb := c.addPassthrough("8080", 8081, "node-1", "node-2")
	var healthy [2]atomic.Bool
	for i, n := range []*labNS{node1, node2} {
		name := fmt.Sprintf("node-%d", i+1)
		n.serveWho(t, ":8080", name)
		n.serveWho(t, ":9090", name)
		healthy[i].Store(true)
		n.serveHealth(t, ":8081", &healthy[i])
		n.addLoopbackAddr(t, lb)
	}
	l.client.serveWho(t, ":7070", "client")
	plan := runDataPlane(t, c, l)
	l.dumpOnFailure(t)

	t.Run("a client reaches an instance's natIP on an allowed port, with addresses as GCE shows them", func(t *testing.T) {
		eventually(t, 10*time.Second, "connect to node-1's natIP", func() error {
			name, local, remote, err := l.client.who(nat1 + ":8080")
			switch {
			case err != nil:
				return err
			case name != "node-1" || local != "10.128.0.2:8080" || addrOf(remote) != "198.51.100.10":
				return fmt.Errorf("answer %s %s %s, want node-1 seeing 10.128.0.2:8080 and the client 198.51.100.10", name, local, remote)
			}
			return nil
		})
	})

	t.Run("a port no firewall rule allows is closed", func(t *testing.T) {
		if name, _, _, err := l.client.who(nat1 + ":9090"); err == nil {
			t.Errorf("connected to %s:9090 (answered by %s); the implied deny should drop it", nat1, name)
		}
	})

	t.Run("an instance reaches the client from its natIP", func(t *testing.T) {
		_, _, remote, err := node1.who("198.51.100.10:7070")
		if err != nil {
			t.Fatal(err)
		}
		if addrOf(remote) != nat1 {
			t.Errorf("the client saw node-1 as %s, want its natIP %s", remote, nat1)
		}
	})

	t.Run("connections to the forwarding rule reach both backends, addressed to the rule's IP", func(t *testing.T) {
		seen := map[string]bool{}
		eventually(t, 10*time.Second, "reach both backends through "+lb, func() error {
			name, local, remote, err := l.client.who(lb + ":8080")
			if err != nil {
				return err
			}
			if local != lb+":8080" || addrOf(remote) != "198.51.100.10" {
				t.Fatalf("%s saw %s from %s, want the forwarding rule's address %s:8080 from the client", name, local, remote, lb)
			}
			seen[name] = true
			if !seen["node-1"] || !seen["node-2"] {
				return fmt.Errorf("backends seen so far: %v", seen)
			}
			return nil
		})
	})

	t.Run("the fake's routes become kernel routes in the vpc namespace, and go with them", func(t *testing.T) {
		c.do(c.Compute.Routes.Insert(c.Project, &compute.Route{Name: "pods-1", Network: "global/networks/default",
			DestRange: "10.64.1.0/24", NextHopInstance: "zones/" + zone + "/instances/node-1", Priority: 1000}).Do())
		eventually(t, 10*time.Second, "kernel route to 10.64.1.0/24", func() error {
			return kernelRoute(l.vpc, "10.64.1.0/24", "10.128.0.2")
		})
		c.do(c.Compute.Routes.Delete(c.Project, "pods-1").Do())
		eventually(t, 10*time.Second, "kernel route to 10.64.1.0/24 removed", func() error {
			if err := kernelRoute(l.vpc, "10.64.1.0/24", "10.128.0.2"); err == nil {
				return errors.New("still there")
			}
			return nil
		})
	})

	t.Run("a backend whose health check fails stops receiving new flows", func(t *testing.T) {
		healthy[1].Store(false)
		eventually(t, 15*time.Second, "node-2 reported unhealthy", func() error {
			if s, err := c.poolHealth("node-2"); err != nil || s != "UNHEALTHY" {
				return fmt.Errorf("getHealth of node-2 = %q (%v); plan %+v", s, err, plan().ForwardingRules)
			}
			return nil
		})
		eventually(t, 10*time.Second, "new flows only to node-1", func() error {
			for range 20 {
				name, _, _, err := l.client.who(lb + ":8080")
				if err != nil {
					return err
				}
				if name != "node-1" {
					return fmt.Errorf("a new flow reached %s", name)
				}
			}
			return nil
		})
		if s, err := c.poolHealth("node-1"); err != nil || s != "HEALTHY" {
			t.Errorf("getHealth of node-1 = %q (%v), want HEALTHY", s, err)
		}
		healthy[1].Store(true)
	})

	t.Run("deleting the allow rule closes the port to new connections", func(t *testing.T) {
		c.do(c.Compute.Firewalls.Delete(c.Project, "allow-web").Do())
		eventually(t, 10*time.Second, "connection to node-1's natIP refused by the firewall", func() error {
			if name, _, _, err := l.client.who(nat1 + ":8080"); err == nil {
				return fmt.Errorf("still connected (answered by %s)", name)
			}
			return nil
		})
		if name, _, _, err := l.client.who(lb + ":8080"); err == nil {
			t.Errorf("connected to the forwarding rule (answered by %s) with no rule allowing it", name)
		}
	})

	t.Run("a rule on ports 0-65535, as the default network's internal one, opens every port", func(t *testing.T) {
		c.allowIngress("allow-internal", []string{"198.51.100.0/24"}, "0-65535")
		eventually(t, 10*time.Second, "connect to node-1's natIP on 9090 and 8080", func() error {
			for _, port := range []string{":9090", ":8080"} {
				if name, _, _, err := l.client.who(nat1 + port); err != nil || name != "node-1" {
					return fmt.Errorf("%s answered by %q: %v", port, name, err)
				}
			}
			return nil
		})
	})
}

func addrOf(hostport string) string {
	ap, err := netip.ParseAddrPort(hostport)
	if err != nil {
		return hostport
	}
	return ap.Addr().String()
}

// kernelRoute checks that the namespace's main table routes dst via gw.
func kernelRoute(l *labNS, dst, gw string) error {
	routes, err := l.nl.RouteListFiltered(netlink.FAMILY_V4, &netlink.Route{Dst: ipNet(netip.MustParsePrefix(dst))}, netlink.RT_FILTER_DST)
	if err != nil {
		return err
	}
	for _, r := range routes {
		if r.Gw.Equal(net.ParseIP(gw)) {
			return nil
		}
	}
	return fmt.Errorf("routes to %s: %v, want one via %s", dst, routes, gw)
}
