package lab_test

// Tests whose packets cross the fake VPC: they need the data plane running
// in the vpc namespace.

import (
	"context"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/test/fixture"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/test/lab/topology"
)

// healthWithin is how long a backend takes to be found unhealthy: the
// CCM's health checks probe every 8 s and give up after 3 failures.
const healthWithin = 60 * time.Second

func TestAPodReachesAPodOnAnotherNodeThroughTheCloudRoute(t *testing.T) {
	requireLab(t)
	a, b := e.pod["node-1-a"], e.pod["node-2-a"]
	// The CCM's route controller writes 10.64.2.0/24 -> node-2 into
	// fake-gce; the data plane makes it a route of the vpc namespace.
	answersEveryTime(t, lbWithin, a.NS, netip.Addr{}, hostPort(b.IP, topology.PodPort), 1,
		func(got topology.Echo) error {
			if err := fromPod(b.Name)(got); err != nil {
				return err
			}
			return seenFrom(a.IP)(got) // no NAT between pods
		})
}

func TestAnExternalLoadBalancerCarriesTheClientToAPod(t *testing.T) {
	requireLab(t)
	t.Parallel()
	svc := createService(t, newService("external", fixture.LoadBalancer()))
	publish(t, svc, e.pod["node-2-a"], e.pod["node-3-a"])
	addrs := ingressAddrs(t, svc, 1)
	ip := netip.MustParseAddrPort(addrs[0]).Addr()
	if !netip.MustParsePrefix(externalIPRange).Contains(ip) {
		t.Errorf("the forwarding rule's address %s is not in the fake's external range %s", ip, externalIPRange)
	}
	// From either client address: the source ranges test below relies on
	// the second one working when no range keeps it out.
	for _, src := range []netip.Addr{client, otherClient.Addr()} {
		answersEveryTime(t, lbWithin, e.lab.Client, src, addrs[0], 5, seenFrom(netip.Addr{}))
	}
}

func TestEveryNodeIPAddressCarriesTheClientToAPod(t *testing.T) {
	requireLab(t)
	t.Parallel()
	svc := createService(t, newService("nodeip", fixture.LoadBalancer(), nodeIPMode(), withPort(8081)))
	publish(t, svc, e.pod["node-2-a"])
	addrs := ingressAddrs(t, svc, nodeCount)
	for _, addr := range addrs {
		answersEveryTime(t, lbWithin, e.lab.Client, client, fromOutside(t, addr), 2, fromPod("node-2-a"))
	}
}

func TestLocalTrafficPolicyKeepsTheClientsAddressAndClusterDoesNot(t *testing.T) {
	requireLab(t)
	t.Parallel()
	t.Run("Local: the pod sees the client", func(t *testing.T) {
		t.Parallel()
		svc := createService(t, newService("nodeip-local", fixture.LoadBalancer(), nodeIPMode(), fixture.TrafficPolicy(v1.ServiceExternalTrafficPolicyLocal), withPort(8082)))
		publish(t, svc, e.pod["node-2-a"])
		addrs := ingressAddrs(t, svc, 1) // only the node with an endpoint
		if want := hostPort(node("node-2").InternalIP, 8082); addrs[0] != want {
			t.Errorf("published %v, want node-2 alone (%s)", addrs, want)
		}
		answersEveryTime(t, lbWithin, e.lab.Client, client, fromOutside(t, addrs[0]), 3, seenFrom(client))
	})
	t.Run("Cluster: a pod on another node sees the node that forwarded", func(t *testing.T) {
		t.Parallel()
		svc := createService(t, newService("nodeip-cluster", fixture.LoadBalancer(), nodeIPMode(), withPort(8083)))
		publish(t, svc, e.pod["node-2-a"])
		ingressAddrs(t, svc, nodeCount)
		n1 := node("node-1")
		answersEveryTime(t, lbWithin, e.lab.Client, client, fromOutside(t, hostPort(n1.InternalIP, 8083)), 3, func(got topology.Echo) error {
			if err := fromPod("node-2-a")(got); err != nil {
				return err
			}
			return seenFrom(n1.InternalIP)(got) // kube-proxy on node-1 masqueraded it
		})
	})
}

func TestLoadBalancerSourceRangesLetInOnlyTheirClients(t *testing.T) {
	requireLab(t)
	t.Parallel()
	inRange := []string{netip.PrefixFrom(client, 32).String()}
	for _, tc := range []struct {
		name string
		svc  *v1.Service
		ips  int
	}{
		{name: "external", svc: newService("ranges-external", fixture.LoadBalancer(), fixture.SourceRanges(inRange...)), ips: 1},
		{name: "nodeip", svc: newService("ranges-nodeip", fixture.LoadBalancer(), nodeIPMode(), withPort(8085),
			fixture.SourceRanges(inRange...)), ips: nodeCount},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			svc := createService(t, tc.svc)
			publish(t, svc, e.pod["node-3-a"])
			addr := fromOutside(t, ingressAddrs(t, svc, tc.ips)[0])
			answersEveryTime(t, lbWithin, e.lab.Client, client, addr, 2, fromPod("node-3-a"))
			neverAnswers(t, e.lab.Client, otherClient.Addr(), addr, 2)
		})
	}
}

func TestANodeFailingItsHealthCheckStopsReceivingLoadBalancedTraffic(t *testing.T) {
	requireLab(t)
	t.Parallel()
	svc := createService(t, newService("health", fixture.LoadBalancer(), fixture.TrafficPolicy(v1.ServiceExternalTrafficPolicyLocal)))
	publish(t, svc, e.pod["node-2-a"], e.pod["node-3-a"])
	addr := ingressAddrs(t, svc, 1)[0]
	ip := netip.MustParseAddrPort(addr).Addr()
	servedOnEveryNode(t, addr)
	// Both nodes with an endpoint pass the health check node port's check;
	// node-1, without one, fails it. Once the cloud says so, every new flow
	// goes to node-2 or node-3 and none is dropped on node-1.
	healthIs(t, ip, map[string]string{"node-1": "UNHEALTHY", "node-2": "HEALTHY", "node-3": "HEALTHY"})
	if pods := answeringPods(t, client, addr, 40); len(pods) != 2 {
		t.Fatalf("40 flows reached %v, want both node-2-a and node-3-a", pods)
	}
	answersEveryTime(t, 5*time.Second, e.lab.Client, client, addr, 5, seenFrom(client))
	// node-3's endpoint goes: kube-proxy there answers 503 on the health
	// check node port, and the load balancer must stop sending it flows
	// (which kube-proxy would drop, having no local endpoint).
	publish(t, svc, e.pod["node-2-a"])
	healthIs(t, ip, map[string]string{"node-1": "UNHEALTHY", "node-2": "HEALTHY", "node-3": "UNHEALTHY"})
	answersEveryTime(t, 5*time.Second, e.lab.Client, client, addr, 20, fromPod("node-2-a"))
}

func TestClientIPAffinityKeepsAClientOnOneBackend(t *testing.T) {
	requireLab(t)
	t.Parallel()
	for _, backend := range []string{"backend-service", "target-pool"} {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			svc := createService(t, newService("affinity-"+backend, fixture.LoadBalancer(), fixture.TrafficPolicy(v1.ServiceExternalTrafficPolicyLocal), fixture.ClientIPAffinity(),
				fixture.Annotation("cloud-provider-vpc.io/backend", backend)))
			publish(t, svc, e.pod["node-2-a"], e.pod["node-3-a"])
			addr := ingressAddrs(t, svc, 1)[0]
			servedOnEveryNode(t, addr)
			healthIs(t, netip.MustParseAddrPort(addr).Addr(),
				map[string]string{"node-1": "UNHEALTHY", "node-2": "HEALTHY", "node-3": "HEALTHY"})
			// The load balancer picks a backend by the client's address
			// alone (CLIENT_IP), and kube-proxy there has one local pod.
			// Without it, 20 flows over two backends would all land on
			// one with a probability of 2^-19.
			for _, src := range []netip.Addr{client, otherClient.Addr()} {
				if pods := answeringPods(t, src, addr, 20); len(pods) != 1 {
					t.Errorf("20 flows from %s reached %v, want one pod", src, slices.Sorted(maps.Keys(pods)))
				}
			}
		})
	}
}

// healthIs waits until the cloud reports want for the backends behind the
// forwarding rule at ip.
func healthIs(t *testing.T, ip netip.Addr, want map[string]string) {
	t.Helper()
	eventually(t, healthWithin, fmt.Sprintf("backend health %v behind %s", want, ip), func() (bool, error) {
		got, err := backendHealth(context.Background(), ip)
		if err != nil {
			return false, err
		}
		return maps.Equal(got, want), fmt.Errorf("health %v", got)
	})
}

func TestANotReadyNodeLeavesTheNodeIPAddressesAndTheOthersKeepWorking(t *testing.T) {
	requireLab(t) // not parallel: it takes node-3 out for a while
	ctx := context.Background()
	svc := createService(t, newService("notready", fixture.LoadBalancer(), nodeIPMode(), withPort(8084)))
	publish(t, svc, e.pod["node-1-a"])
	ingressAddrs(t, svc, nodeCount)
	k := e.kubelet["node-3"]
	if err := k.Stop(ctx, true); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		k.Resume()
		eventually(t, lbWithin, "node-3 Ready again", func() (bool, error) {
			n, err := e.cp.Admin.CoreV1().Nodes().Get(ctx, "node-3", metav1.GetOptions{})
			if err != nil {
				return false, err
			}
			for _, c := range n.Status.Conditions {
				if c.Type == v1.NodeReady {
					return c.Status == v1.ConditionTrue, nil
				}
			}
			return false, nil
		})
	})
	addrs := ingressAddrs(t, svc, nodeCount-1)
	if gone := hostPort(node("node-3").InternalIP, 8084); slices.Contains(addrs, gone) {
		t.Fatalf("node-3 is NotReady and still published: %v", addrs)
	}
	for _, addr := range addrs {
		answersEveryTime(t, lbWithin, e.lab.Client, client, fromOutside(t, addr), 2, fromPod("node-1-a"))
	}
}

func TestAServiceOnAReservedPortIsRefusedAndSSHKeepsAnswering(t *testing.T) {
	requireLab(t)
	// Every node runs something on port 22, as its sshd would.
	for _, n := range e.lab.Nodes {
		l, err := topology.Listen(n.NS, "tcp", hostPort(n.InternalIP, 22))
		if err != nil {
			t.Fatal(err)
		}
		srv := topology.ServeEcho(l, "sshd-"+n.Name)
		t.Cleanup(func() { srv.Close() })
	}
	for _, n := range e.lab.Nodes {
		answersEveryTime(t, lbWithin, e.lab.Client, client, hostPort(e.natIP[n.Name], 22), 1, fromPod("sshd-"+n.Name))
	}
	svc := createService(t, newService("ssh", fixture.LoadBalancer(), nodeIPMode(), withPort(22)))
	publish(t, svc, e.pod["node-1-a"])
	eventually(t, lbWithin, "the Service on port 22 refused", func() (bool, error) {
		c := condition(t, svc, "LoadBalancerReady")
		return c != nil && c.Status == metav1.ConditionFalse && c.Reason == "ReservedPort", nil
	})
	if addrs := ingressAddrs(t, svc, 0); len(addrs) > 0 {
		t.Errorf("a Service on a reserved port was published: %v", addrs)
	}
	// kube-proxy serves no load balancer address for it, so port 22 on
	// every node still reaches the node's own listener.
	for _, n := range e.lab.Nodes {
		answersEveryTime(t, 5*time.Second, e.lab.Client, client, hostPort(e.natIP[n.Name], 22), 1, fromPod("sshd-"+n.Name))
	}
}

// vm is the lab's VM: an instance of the VPC that runs no Kubernetes, in a
// subnetwork the nodes' own firewall rule does not admit.
func vm() *topology.VM { return e.lab.VMs[0] }

func TestAnInternalLoadBalancerCarriesAVMToAPodAndKeepsTheInternetOut(t *testing.T) {
	requireLab(t)
	t.Parallel()
	svc := createService(t, newService("internal", fixture.LoadBalancer(), withPort(8090),
		fixture.Annotation("networking.gke.io/load-balancer-type", "Internal")))
	publish(t, svc, e.pod["node-2-a"])
	addr := ingressAddrs(t, svc, 1)[0]
	if ip := netip.MustParseAddrPort(addr).Addr(); !netip.MustParsePrefix(nodesRange).Contains(ip) {
		t.Errorf("the internal forwarding rule's address %s is not in the nodes' subnetwork %s", ip, nodesRange)
	}
	// From the VM, through the internal forwarding rule to any node (the
	// CCM's firewall rule admits the VPC's ranges, the VM's among them),
	// and kube-proxy there to the pod.
	answersEveryTime(t, lbWithin, vm().NS, vm().InternalIP, addr, 5, fromPod("node-2-a"))
	// The internet has no way to an internal address.
	neverAnswers(t, e.lab.Client, client, addr, 2)
}

func TestAVMInTheVPCReachesEveryNodeIPAddressDirectly(t *testing.T) {
	requireLab(t)
	t.Parallel()
	// The nodeip mode publishes internal addresses: a client inside the
	// VPC reaches them with no NAT, through the Service's firewall rule.
	svc := createService(t, newService("nodeip-inside", fixture.LoadBalancer(), nodeIPMode(), fixture.TrafficPolicy(v1.ServiceExternalTrafficPolicyLocal), withPort(8091)))
	publish(t, svc, e.pod["node-1-a"], e.pod["node-3-a"])
	addrs := ingressAddrs(t, svc, 2)
	for _, addr := range addrs {
		answersEveryTime(t, lbWithin, vm().NS, vm().InternalIP, addr, 2, seenFrom(vm().InternalIP))
	}
	// A port the Service does not publish stays shut to the VM: only the
	// Service's rule lets its subnetwork in. The listener there answers
	// another node (lab-allow-internal admits the nodes' range).
	n1 := node("node-1")
	l, err := topology.Listen(n1.NS, "tcp", hostPort(n1.InternalIP, 9101))
	if err != nil {
		t.Fatal(err)
	}
	srv := topology.ServeEcho(l, "node-1-listener")
	t.Cleanup(func() { srv.Close() })
	answersEveryTime(t, lbWithin, node("node-2").NS, node("node-2").InternalIP, hostPort(n1.InternalIP, 9101), 1, fromPod("node-1-listener"))
	neverAnswers(t, vm().NS, vm().InternalIP, hostPort(n1.InternalIP, 9101), 2)
}
