package trace

import (
	"net/netip"
	"testing"

	"google.golang.org/api/compute/v1"
)

// withClientVM: a VM of the VPC that is no node, in a second subnetwork
// (10.129.0.0/20), with an external address when natIP is set.
func withClientVM(name, ip, natIP string, tags ...string) labOpt {
	return func(l *lab) {
		inst := vm(name, ip, tags...)
		if natIP != "" {
			inst.NetworkInterfaces[0].AccessConfigs = []*compute.AccessConfig{{Name: "External NAT", Type: "ONE_TO_ONE_NAT", NatIP: natIP}}
		}
		l.cloud.Instances = append(l.cloud.Instances, inst)
		l.cloud.NetworkRanges = append(l.cloud.NetworkRanges, netip.MustParsePrefix("10.129.0.0/20"))
	}
}

func TestRunTracesVMsOfTheVPCToAnExternalLoadBalancer(t *testing.T) {
	// https://cloud.google.com/load-balancing/docs/network: "External
	// passthrough Network Load Balancers can receive traffic from: Any
	// client on the internet; Google Cloud VMs with external IPs; Google
	// Cloud VMs that have internet access through Cloud NAT or
	// instance-based NAT." A VM's external IP is the 1:1 NAT of its
	// access config: its packets leave the VPC with that source.
	runScenarios(t, []struct {
		name string
		in   Input
		want scenario
	}{
		{
			name: "a vm with an external address reaches the external load balancer from its natIP, and the reply is NATed back",
			in:   newLab(withClientVM("client-vm", "10.129.0.5", "203.0.113.50")).input(from("10.129.0.5:40000"), toNode("node-1")),
			want: scenario{
				Node: "node-1", Endpoint: "web-a 10.64.1.3:8080", Outcome: Delivered,
				Hops: []string{
					"client Client->VPC: 10.129.0.5:40000 -> 203.0.113.10:80 sent",
					"VPC NAT VPC->VPC: 10.129.0.5:40000 -> 203.0.113.10:80 => 203.0.113.50:40000 -> 203.0.113.10:80 rewritten",
					"forwarding rule VPC->VPC: 203.0.113.50:40000 -> 203.0.113.10:80 forwarded",
					"VPC firewall VPC->node-1: 203.0.113.50:40000 -> 203.0.113.10:80 allowed",
					"kube-proxy DNAT node-1->node-1: 203.0.113.50:40000 -> 203.0.113.10:80 => 203.0.113.50:40000 -> 10.64.1.3:8080 rewritten",
					"kube-proxy SNAT (masquerade) node-1->node-1: 203.0.113.50:40000 -> 10.64.1.3:8080 => 10.64.1.1:* -> 10.64.1.3:8080 rewritten",
					"pod node-1->pod: 10.64.1.1:* -> 10.64.1.3:8080 delivered",
				},
				Reply: []string{
					"pod pod->node-1: 10.64.1.3:8080 -> 10.64.1.1:* sent",
					"kube-proxy conntrack node-1->node-1: 10.64.1.3:8080 -> 10.64.1.1:* => 203.0.113.10:80 -> 203.0.113.50:40000 rewritten",
					"node route node-1->VPC: 203.0.113.10:80 -> 203.0.113.50:40000 routed",
					"VPC NAT VPC->VPC: 203.0.113.10:80 -> 203.0.113.50:40000 => 203.0.113.10:80 -> 10.129.0.5:40000 rewritten",
					"client VPC->Client: 203.0.113.10:80 -> 10.129.0.5:40000 received",
				},
				Backends: allHealthyCluster,
				Rewrites: Rewrites{Forward: 3, Reply: 3},
			},
		},
		{
			name: "a vm without an external address has no path to the external load balancer (cloud nat is not modelled)",
			in:   newLab(withClientVM("client-vm", "10.129.0.6", "")).input(from("10.129.0.6:40000")),
			want: scenario{
				Outcome: Dropped,
				Hops: []string{
					"client Client->VPC: 10.129.0.6:40000 -> 203.0.113.10:80 sent",
					"VPC routing VPC->VPC: 10.129.0.6:40000 -> 203.0.113.10:80 dropped",
				},
				Drop: &Drop{Hop: 2, Component: compVPCRoute, At: atVPC,
					Reason: "203.0.113.10 is the address of external forwarding rule " + webBase + "-tcp, which takes packets from the internet: instance client-vm (10.129.0.6) is inside the VPC and has no external address (accessConfigs[0].natIP) to leave it from. Cloud NAT, the other way out, is not modelled (the trace reads no Cloud Routers)",
					Fix: []string{
						"give instance client-vm an external address (an access config of type ONE_TO_ONE_NAT)",
						"or give its subnetwork Cloud NAT (not modelled: the trace then still says dropped)",
					}},
			},
		},
		{
			name: "an address of the vpc's ranges that is no instance the trace read has no known way out either",
			in:   newLab().input(from("10.128.0.20:40000")),
			want: scenario{
				Outcome: Dropped,
				Hops: []string{
					"client Client->VPC: 10.128.0.20:40000 -> 203.0.113.10:80 sent",
					"VPC routing VPC->VPC: 10.128.0.20:40000 -> 203.0.113.10:80 dropped",
				},
				Drop: &Drop{Hop: 2, Component: compVPCRoute, At: atVPC,
					Reason: "203.0.113.10 is the address of external forwarding rule " + webBase + "-tcp, which takes packets from the internet: 10.128.0.20 is inside the VPC and is no instance the trace read, so it has no known external address (accessConfigs[0].natIP) to leave it from. Cloud NAT, the other way out, is not modelled (the trace reads no Cloud Routers)",
					Fix: []string{
						"trace from the client's external address (--from), or from a VM of the VPC that has one",
						"or give its subnetwork Cloud NAT (not modelled: the trace then still says dropped)",
					}},
			},
		},
	})
}
