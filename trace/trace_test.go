package trace

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	v1 "k8s.io/api/core/v1"
)

// The paths several cases share: an external load balancer, Cluster policy,
// the endpoint web-a on node-1, entered through node-1 (sameNode...) or
// node-3 (crossNode...).
var (
	crossNodeHops = []string{
		"client Client->VPC: 198.51.100.10:40000 -> 203.0.113.10:80 sent",
		"forwarding rule VPC->VPC: 198.51.100.10:40000 -> 203.0.113.10:80 forwarded",
		"VPC firewall VPC->node-3: 198.51.100.10:40000 -> 203.0.113.10:80 allowed",
		"kube-proxy DNAT node-3->node-3: 198.51.100.10:40000 -> 203.0.113.10:80 => 198.51.100.10:40000 -> 10.64.1.3:8080 rewritten",
		"kube-proxy SNAT (masquerade) node-3->node-3: 198.51.100.10:40000 -> 10.64.1.3:8080 => 10.128.0.4:* -> 10.64.1.3:8080 rewritten",
		"node route node-3->VPC: 10.128.0.4:* -> 10.64.1.3:8080 routed",
		"VPC firewall VPC->node-1: 10.128.0.4:* -> 10.64.1.3:8080 allowed",
		"pod node-1->pod: 10.128.0.4:* -> 10.64.1.3:8080 delivered",
	}
	crossNodeReply = []string{
		"pod pod->node-1: 10.64.1.3:8080 -> 10.128.0.4:* sent",
		"node route node-1->VPC: 10.64.1.3:8080 -> 10.128.0.4:* routed",
		"VPC firewall VPC->node-3: 10.64.1.3:8080 -> 10.128.0.4:* allowed",
		"kube-proxy conntrack node-3->node-3: 10.64.1.3:8080 -> 10.128.0.4:* => 203.0.113.10:80 -> 198.51.100.10:40000 rewritten",
		"node route node-3->VPC: 203.0.113.10:80 -> 198.51.100.10:40000 routed",
		"client VPC->Client: 203.0.113.10:80 -> 198.51.100.10:40000 received",
	}
	sameNodeHops = []string{
		"client Client->VPC: 198.51.100.10:40000 -> 203.0.113.10:80 sent",
		"forwarding rule VPC->VPC: 198.51.100.10:40000 -> 203.0.113.10:80 forwarded",
		"VPC firewall VPC->node-1: 198.51.100.10:40000 -> 203.0.113.10:80 allowed",
		"kube-proxy DNAT node-1->node-1: 198.51.100.10:40000 -> 203.0.113.10:80 => 198.51.100.10:40000 -> 10.64.1.3:8080 rewritten",
		"kube-proxy SNAT (masquerade) node-1->node-1: 198.51.100.10:40000 -> 10.64.1.3:8080 => 10.64.1.1:* -> 10.64.1.3:8080 rewritten",
		"pod node-1->pod: 10.64.1.1:* -> 10.64.1.3:8080 delivered",
	}
	sameNodeReply = []string{
		"pod pod->node-1: 10.64.1.3:8080 -> 10.64.1.1:* sent",
		"kube-proxy conntrack node-1->node-1: 10.64.1.3:8080 -> 10.64.1.1:* => 203.0.113.10:80 -> 198.51.100.10:40000 rewritten",
		"node route node-1->VPC: 203.0.113.10:80 -> 198.51.100.10:40000 routed",
		"client VPC->Client: 203.0.113.10:80 -> 198.51.100.10:40000 received",
	}
	// clientIPAffinityWant: the same-node path, with both choices keyed
	// on the client (sessionAffinity ClientIP, CLIENT_IP in the cloud).
	clientIPAffinityWant = summary{
		Node: "node-1", Endpoint: "web-a 10.64.1.3:8080", Outcome: Delivered,
		Hops:  sameNodeHops,
		Reply: sameNodeReply,
		Notes: []string{
			"GCE picks one of node-1, node-2, node-3 for each new flow (a hash of the client's and the rule's addresses: session affinity CLIENT_IP keeps a client on one backend) and keeps it for the flow's life; the trace follows node-1 (--to-node chooses another).",
			"kube-proxy picks an endpoint at random among web-a, web-b for a client's first connection and sends the client's next ones to the same endpoint until it has been idle for 3h0m0s (sessionAffinity ClientIP); the trace follows web-a, the first by name.",
		},
	}
)

// summary is the part of a trace the scenario tests compare: each hop as
// "component at->next: before [=> after] verdict", the outcome and the drop.
type summary struct {
	Node     string
	Endpoint string
	Hops     []string
	Reply    []string
	Outcome  string
	Drop     *Drop
	Notes    []string
}

func summarize(t *Trace) summary {
	s := summary{Node: t.Node, Outcome: t.Outcome, Drop: t.Drop, Notes: t.Notes}
	if t.Endpoint != nil {
		s.Endpoint = t.Endpoint.Pod + " " + t.Endpoint.Address.String()
	}
	for _, h := range t.Hops {
		s.Hops = append(s.Hops, hopSummary(h))
	}
	for _, h := range t.Reply {
		s.Reply = append(s.Reply, hopSummary(h))
	}
	return s
}

func hopSummary(h Hop) string {
	flow := h.Before.String()
	if h.Rewrites() {
		flow += " => " + h.After.String()
	}
	return fmt.Sprintf("%s %s->%s: %s %s", h.Component, h.At, h.Next, flow, h.Verdict)
}

func TestRun(t *testing.T) {
	tests := []struct {
		name string
		in   Input
		want summary
	}{
		{
			name: "external, Cluster, an endpoint on the node the load balancer chose: masqueraded to the node's address on its pod links",
			in:   newLab().input(),
			want: summary{
				Node: "node-1", Endpoint: "web-a 10.64.1.3:8080", Outcome: Delivered,
				Hops:  sameNodeHops,
				Reply: sameNodeReply,
				Notes: []string{
					"GCE picks one of node-1, node-2, node-3 for each new flow (a hash of its 5-tuple) and keeps it for the flow's life; the trace follows node-1 (--to-node chooses another).",
					"kube-proxy picks an endpoint at random among web-a, web-b for each new connection; the trace follows web-a, the first by name.",
				},
			},
		},
		{
			name: "external, ClientIP affinity: GCE hashes the client's address and kube-proxy keeps the client on its endpoint",
			in:   newLab(withClientIPAffinity()).input(),
			want: clientIPAffinityWant,
		},
		{
			name: "external, target pool, ClientIP affinity: the pool's CLIENT_IP is the hash",
			in:   newLab(withTargetPool(), withClientIPAffinity()).input(),
			want: clientIPAffinityWant,
		},
		{
			name: "external, Cluster, the endpoint on another node: masqueraded to the node's internal address, carried by the pod CIDR's route",
			in:   newLab().input(toNode("node-3")),
			want: summary{
				Node: "node-3", Endpoint: "web-a 10.64.1.3:8080", Outcome: Delivered,
				Hops:  crossNodeHops,
				Reply: crossNodeReply,
				Notes: []string{
					"kube-proxy picks an endpoint at random among web-a, web-b for each new connection; the trace follows web-a, the first by name.",
				},
			},
		},
		{
			name: "external on a target pool: the pool's instances are the backends",
			in:   newLab(withTargetPool()).input(toNode("node-2")),
			want: summary{
				Node: "node-2", Endpoint: "web-a 10.64.1.3:8080", Outcome: Delivered,
				Hops: []string{
					"client Client->VPC: 198.51.100.10:40000 -> 203.0.113.10:80 sent",
					"forwarding rule VPC->VPC: 198.51.100.10:40000 -> 203.0.113.10:80 forwarded",
					"VPC firewall VPC->node-2: 198.51.100.10:40000 -> 203.0.113.10:80 allowed",
					"kube-proxy DNAT node-2->node-2: 198.51.100.10:40000 -> 203.0.113.10:80 => 198.51.100.10:40000 -> 10.64.1.3:8080 rewritten",
					"kube-proxy SNAT (masquerade) node-2->node-2: 198.51.100.10:40000 -> 10.64.1.3:8080 => 10.128.0.3:* -> 10.64.1.3:8080 rewritten",
					"node route node-2->VPC: 10.128.0.3:* -> 10.64.1.3:8080 routed",
					"VPC firewall VPC->node-1: 10.128.0.3:* -> 10.64.1.3:8080 allowed",
					"pod node-1->pod: 10.128.0.3:* -> 10.64.1.3:8080 delivered",
				},
				Reply: []string{
					"pod pod->node-1: 10.64.1.3:8080 -> 10.128.0.3:* sent",
					"node route node-1->VPC: 10.64.1.3:8080 -> 10.128.0.3:* routed",
					"VPC firewall VPC->node-2: 10.64.1.3:8080 -> 10.128.0.3:* allowed",
					"kube-proxy conntrack node-2->node-2: 10.64.1.3:8080 -> 10.128.0.3:* => 203.0.113.10:80 -> 198.51.100.10:40000 rewritten",
					"node route node-2->VPC: 203.0.113.10:80 -> 198.51.100.10:40000 routed",
					"client VPC->Client: 203.0.113.10:80 -> 198.51.100.10:40000 received",
				},
				Notes: []string{
					"kube-proxy picks an endpoint at random among web-a, web-b for each new connection; the trace follows web-a, the first by name.",
				},
			},
		},
		{
			name: "external, Local: only nodes with an endpoint pass the health check, and the pod sees the client's address",
			in:   newLab(withLocal()).input(),
			want: summary{
				Node: "node-1", Endpoint: "web-a 10.64.1.3:8080", Outcome: Delivered,
				Hops: []string{
					"client Client->VPC: 198.51.100.10:40000 -> 203.0.113.10:80 sent",
					"forwarding rule VPC->VPC: 198.51.100.10:40000 -> 203.0.113.10:80 forwarded",
					"VPC firewall VPC->node-1: 198.51.100.10:40000 -> 203.0.113.10:80 allowed",
					"kube-proxy DNAT node-1->node-1: 198.51.100.10:40000 -> 203.0.113.10:80 => 198.51.100.10:40000 -> 10.64.1.3:8080 rewritten",
					"pod node-1->pod: 198.51.100.10:40000 -> 10.64.1.3:8080 delivered",
				},
				Reply: []string{
					"pod pod->node-1: 10.64.1.3:8080 -> 198.51.100.10:40000 sent",
					"kube-proxy conntrack node-1->node-1: 10.64.1.3:8080 -> 198.51.100.10:40000 => 203.0.113.10:80 -> 198.51.100.10:40000 rewritten",
					"node route node-1->VPC: 203.0.113.10:80 -> 198.51.100.10:40000 routed",
					"client VPC->Client: 203.0.113.10:80 -> 198.51.100.10:40000 received",
				},
				Notes: []string{
					"GCE picks one of node-1, node-2 for each new flow (a hash of its 5-tuple) and keeps it for the flow's life; the trace follows node-1 (--to-node chooses another).",
					"externalTrafficPolicy Local: the pod sees the client's own address 198.51.100.10.",
				},
			},
		},
		{
			name: "external, Local, traced to a node without an endpoint: kube-proxy drops",
			in:   newLab(withLocal()).input(toNode("node-3")),
			want: summary{
				Node: "node-3", Endpoint: "", Outcome: Dropped,
				Hops: []string{
					"client Client->VPC: 198.51.100.10:40000 -> 203.0.113.10:80 sent",
					"forwarding rule VPC->VPC: 198.51.100.10:40000 -> 203.0.113.10:80 forwarded",
					"VPC firewall VPC->node-3: 198.51.100.10:40000 -> 203.0.113.10:80 allowed",
					"kube-proxy DNAT node-3->node-3: 198.51.100.10:40000 -> 203.0.113.10:80 dropped",
				},
				Drop: &Drop{Hop: 4, Component: "kube-proxy DNAT", At: "node-3",
					Reason: "externalTrafficPolicy Local and node-3 has no ready endpoint: kube-proxy drops (the Service's endpoints run on node-1, node-2)",
					Fix: []string{
						"nothing to change while another node has an endpoint: the load balancer's health check (port 31234) keeps new flows away from node-3",
						"or set externalTrafficPolicy: Cluster, which sends to every endpoint (the pod then sees a node's address, not the client's)",
					}},
				Notes: []string{
					"node-3 fails its health check (no ready endpoint on node-3: kube-proxy answers 503 on :31234/healthz (externalTrafficPolicy Local)): GCE sends it new flows only while no backend is healthy. The trace follows the packet there anyway.",
				},
			},
		},
		{
			name: "external, health checks blocked by the firewall: every backend fails, and GCE spreads flows over all of them",
			in:   newLab(withoutFirewall(webBase + "-hc")).input(),
			want: summary{
				Node: "node-1", Endpoint: "web-a 10.64.1.3:8080", Outcome: Delivered,
				Hops:  sameNodeHops,
				Reply: sameNodeReply,
				Notes: []string{
					"No backend of backend service " + webBase + " is healthy: GCE then spreads new flows over all of them.",
					"GCE picks one of node-1, node-2, node-3 for each new flow (a hash of its 5-tuple) and keeps it for the flow's life; the trace follows node-1 (--to-node chooses another).",
					"kube-proxy picks an endpoint at random among web-a, web-b for each new connection; the trace follows web-a, the first by name.",
				},
			},
		},
		{
			name: "nodeip, InternalIP, a client outside the VPC: the node's external address, which the 1:1 NAT turns into the published internal one, and back on the reply",
			in:   newLab(withNodeIP(v1.NodeInternalIP, 1, 2)).input(),
			want: summary{
				Node: "node-1", Endpoint: "web-a 10.64.1.3:8080", Outcome: Delivered,
				Hops: []string{
					"client Client->VPC: 198.51.100.10:40000 -> 203.0.113.2:80 sent",
					"VPC NAT VPC->VPC: 198.51.100.10:40000 -> 203.0.113.2:80 => 198.51.100.10:40000 -> 10.128.0.2:80 rewritten",
					"VPC firewall VPC->node-1: 198.51.100.10:40000 -> 10.128.0.2:80 allowed",
					"kube-proxy DNAT node-1->node-1: 198.51.100.10:40000 -> 10.128.0.2:80 => 198.51.100.10:40000 -> 10.64.1.3:8080 rewritten",
					"kube-proxy SNAT (masquerade) node-1->node-1: 198.51.100.10:40000 -> 10.64.1.3:8080 => 10.64.1.1:* -> 10.64.1.3:8080 rewritten",
					"pod node-1->pod: 10.64.1.1:* -> 10.64.1.3:8080 delivered",
				},
				Reply: []string{
					"pod pod->node-1: 10.64.1.3:8080 -> 10.64.1.1:* sent",
					"kube-proxy conntrack node-1->node-1: 10.64.1.3:8080 -> 10.64.1.1:* => 10.128.0.2:80 -> 198.51.100.10:40000 rewritten",
					"node route node-1->VPC: 10.128.0.2:80 -> 198.51.100.10:40000 routed",
					"VPC NAT VPC->VPC: 10.128.0.2:80 -> 198.51.100.10:40000 => 203.0.113.2:80 -> 198.51.100.10:40000 rewritten",
					"client VPC->Client: 203.0.113.2:80 -> 198.51.100.10:40000 received",
				},
				Notes: []string{
					"The Service publishes 10.128.0.2, 10.128.0.3; a client may use any of them. The trace uses the first (--to-node chooses another).",
					"198.51.100.10 is outside the VPC, which routes node-1's internal address 10.128.0.2 only inside it: the client uses node-1's external address 203.0.113.2, which the 1:1 NAT turns into 10.128.0.2.",
					"kube-proxy picks an endpoint at random among web-a, web-b for each new connection; the trace follows web-a, the first by name.",
				},
			},
		},
		{
			name: "nodeip, InternalIP, a client inside the VPC: the published internal address itself",
			in:   newLab(withNodeIP(v1.NodeInternalIP, 1, 2)).input(from("10.128.0.20:40000")),
			want: summary{
				Node: "node-1", Endpoint: "web-a 10.64.1.3:8080", Outcome: Delivered,
				Hops: []string{
					"client Client->VPC: 10.128.0.20:40000 -> 10.128.0.2:80 sent",
					"VPC firewall VPC->node-1: 10.128.0.20:40000 -> 10.128.0.2:80 allowed",
					"kube-proxy DNAT node-1->node-1: 10.128.0.20:40000 -> 10.128.0.2:80 => 10.128.0.20:40000 -> 10.64.1.3:8080 rewritten",
					"kube-proxy SNAT (masquerade) node-1->node-1: 10.128.0.20:40000 -> 10.64.1.3:8080 => 10.64.1.1:* -> 10.64.1.3:8080 rewritten",
					"pod node-1->pod: 10.64.1.1:* -> 10.64.1.3:8080 delivered",
				},
				Reply: []string{
					"pod pod->node-1: 10.64.1.3:8080 -> 10.64.1.1:* sent",
					"kube-proxy conntrack node-1->node-1: 10.64.1.3:8080 -> 10.64.1.1:* => 10.128.0.2:80 -> 10.128.0.20:40000 rewritten",
					"node route node-1->VPC: 10.128.0.2:80 -> 10.128.0.20:40000 routed",
					"client VPC->Client: 10.128.0.2:80 -> 10.128.0.20:40000 received",
				},
				Notes: []string{
					"The Service publishes 10.128.0.2, 10.128.0.3; a client may use any of them. The trace uses the first (--to-node chooses another).",
					"kube-proxy picks an endpoint at random among web-a, web-b for each new connection; the trace follows web-a, the first by name.",
				},
			},
		},
		{
			name: "a client outside the VPC cannot reach an internal address",
			in:   newLab(withNodeIP(v1.NodeInternalIP, 1, 2)).input(to("10.128.0.2")),
			want: summary{
				Node: "", Endpoint: "", Outcome: Dropped,
				Hops: []string{
					"client Client->VPC: 198.51.100.10:40000 -> 10.128.0.2:80 sent",
					"VPC routing VPC->VPC: 198.51.100.10:40000 -> 10.128.0.2:80 dropped",
				},
				Drop: &Drop{Hop: 2, Component: "VPC routing", At: "VPC",
					Reason: "10.128.0.2 is instance node-1's internal address, which the VPC routes only for clients inside it: 198.51.100.10 is outside the VPC",
					Fix: []string{
						"connect to node-1's external address 203.0.113.2 (--to 203.0.113.2): the 1:1 NAT turns it into the internal one",
						"or trace a client inside the VPC (--from an address of its subnetworks)",
					}},
			},
		},
		{
			name: "nodeip, ExternalIP: the 1:1 NAT delivers the internal address, for which kube-proxy has no rule",
			in:   newLab(withNodeIP(v1.NodeExternalIP, 1, 2)).input(toNode("node-2")),
			want: summary{
				Node: "node-2", Endpoint: "", Outcome: Rejected,
				Hops: []string{
					"client Client->VPC: 198.51.100.10:40000 -> 203.0.113.3:80 sent",
					"VPC NAT VPC->VPC: 198.51.100.10:40000 -> 203.0.113.3:80 => 198.51.100.10:40000 -> 10.128.0.3:80 rewritten",
					"VPC firewall VPC->node-2: 198.51.100.10:40000 -> 10.128.0.3:80 allowed",
					"kube-proxy DNAT node-2->node-2: 198.51.100.10:40000 -> 10.128.0.3:80 rejected",
				},
				Drop: &Drop{Hop: 4, Component: "kube-proxy DNAT", At: "node-2",
					Reason: "the VPC's 1:1 NAT delivered 203.0.113.3 as 10.128.0.3, and kube-proxy has rules for the Service's published addresses only (203.0.113.2, 203.0.113.3), not for 10.128.0.3: node-2 itself receives the packet (a TCP reset, unless a process on node-2 listens on port 80)",
					Fix: []string{
						"publish the nodes' InternalIP (annotation cloud-provider-vpc.io/node-address-type: InternalIP, the default): clients still connect to a node's external address, and the NAT turns it into the internal address kube-proxy then serves",
					}},
			},
		},
		{
			name: "a client outside the source ranges: the firewall drops, naming the Service's rule and its sources",
			in:   newLab(withSourceRanges("10.0.0.0/8")).input(),
			want: summary{
				Node: "node-1", Endpoint: "", Outcome: Dropped,
				Hops: []string{
					"client Client->VPC: 198.51.100.10:40000 -> 203.0.113.10:80 sent",
					"forwarding rule VPC->VPC: 198.51.100.10:40000 -> 203.0.113.10:80 forwarded",
					"VPC firewall VPC->node-1: 198.51.100.10:40000 -> 203.0.113.10:80 dropped",
				},
				Drop: &Drop{Hop: 3, Component: "VPC firewall", At: "node-1",
					Reason: "no firewall rule allows tcp:80 from 198.51.100.10 to 203.0.113.10 on node-1 (10.128.0.2, tags k8s-node); the Service's rule " + webBase + "-fw allows sources 10.0.0.0/8 only",
					Fix: []string{
						"add the client's range (for example 198.51.100.10/32) to spec.loadBalancerSourceRanges",
					}},
				Notes: []string{
					"GCE picks one of node-1, node-2, node-3 for each new flow (a hash of its 5-tuple) and keeps it for the flow's life; the trace follows node-1 (--to-node chooses another).",
				},
			},
		},
		{
			name: "a deny rule of a higher precedence than the Service's rule drops",
			in:   newLab(withFirewall(newFirewall("block-web", deny("tcp", "80"), priority(900)))).input(),
			want: summary{
				Node: "node-1", Endpoint: "", Outcome: Dropped,
				Hops: []string{
					"client Client->VPC: 198.51.100.10:40000 -> 203.0.113.10:80 sent",
					"forwarding rule VPC->VPC: 198.51.100.10:40000 -> 203.0.113.10:80 forwarded",
					"VPC firewall VPC->node-1: 198.51.100.10:40000 -> 203.0.113.10:80 dropped",
				},
				Drop: &Drop{Hop: 3, Component: "VPC firewall", At: "node-1",
					Reason: "firewall rule block-web (priority 900) denies tcp:80 from 198.51.100.10 to 203.0.113.10 on node-1 (10.128.0.2, tags k8s-node)",
					Fix: []string{
						"remove or narrow rule block-web, or allow the Service's clients with a rule of a priority number lower than 900",
					}},
				Notes: []string{
					"GCE picks one of node-1, node-2, node-3 for each new flow (a hash of its 5-tuple) and keeps it for the flow's life; the trace follows node-1 (--to-node chooses another).",
				},
			},
		},
		{
			name: "nodeip, an unpublished node that is not Ready: the Service's rule lists the published nodes only",
			in:   newLab(withNodeIP(v1.NodeInternalIP, 1), withNotReady(2)).input(toNode("node-2")),
			want: summary{
				Node: "node-2", Endpoint: "", Outcome: Dropped,
				Hops: []string{
					"client Client->VPC: 198.51.100.10:40000 -> 203.0.113.3:80 sent",
					"VPC NAT VPC->VPC: 198.51.100.10:40000 -> 203.0.113.3:80 => 198.51.100.10:40000 -> 10.128.0.3:80 rewritten",
					"VPC firewall VPC->node-2: 198.51.100.10:40000 -> 10.128.0.3:80 dropped",
				},
				Drop: &Drop{Hop: 3, Component: "VPC firewall", At: "node-2",
					Reason: "no firewall rule allows tcp:80 from 198.51.100.10 to 10.128.0.3 on node-2 (tags k8s-node); the Service's rule " + webBase + "-nip lists destination 10.128.0.2 only; node-2 is not Ready",
					Fix: []string{
						"connect to a published address: 10.128.0.2 (from outside the VPC: 10.128.0.2 through 203.0.113.2)",
					}},
				Notes: []string{
					"node-2's address 10.128.0.3 is not published in status.loadBalancer.ingress (node-2 is not Ready); the client uses it anyway.",
					"198.51.100.10 is outside the VPC, which routes node-2's internal address 10.128.0.3 only inside it: the client uses node-2's external address 203.0.113.3, which the 1:1 NAT turns into 10.128.0.3.",
				},
			},
		},
		{
			name: "nodeip, a reserved port: nothing is published, and the condition says why",
			in:   newLab(withNodeIP(v1.NodeInternalIP), withCondition("ReservedPort", "port 22 is reserved")).input(),
			want: summary{
				Node: "", Endpoint: "", Outcome: Dropped,
				Hops: []string{
					"client Client->Client: 198.51.100.10:40000 -> ? dropped",
				},
				Drop: &Drop{Hop: 1, Component: "client", At: "Client",
					Reason: "the Service publishes no IPv4 node address; LoadBalancerReady is False (ReservedPort): port 22 is reserved",
					Fix: []string{
						"see the Service's events and its LoadBalancerReady condition",
					}},
			},
		},
		{
			name: "no ready endpoint: kube-proxy rejects",
			in:   newLab(withEndpoints()).input(),
			want: summary{
				Node: "node-1", Endpoint: "", Outcome: Rejected,
				Hops: []string{
					"client Client->VPC: 198.51.100.10:40000 -> 203.0.113.10:80 sent",
					"forwarding rule VPC->VPC: 198.51.100.10:40000 -> 203.0.113.10:80 forwarded",
					"VPC firewall VPC->node-1: 198.51.100.10:40000 -> 203.0.113.10:80 allowed",
					"kube-proxy DNAT node-1->node-1: 198.51.100.10:40000 -> 203.0.113.10:80 rejected",
				},
				Drop: &Drop{Hop: 4, Component: "kube-proxy DNAT", At: "node-1",
					Reason: "the Service has no ready endpoint for port http (80): kube-proxy on node-1 rejects new connections (ICMP port unreachable)",
					Fix: []string{
						"make the pods the Service selects ready (kubectl get endpointslices -n default -l kubernetes.io/service-name=web)",
					}},
				Notes: []string{
					"GCE picks one of node-1, node-2, node-3 for each new flow (a hash of its 5-tuple) and keeps it for the flow's life; the trace follows node-1 (--to-node chooses another).",
				},
			},
		},
		{
			name: "Cluster across nodes without a rule that lets the nodes reach the pods: the firewall drops the masqueraded packet",
			in:   newLab(withoutFirewall("lab-nodes-to-pods")).input(toNode("node-3")),
			want: summary{
				Node: "node-3", Endpoint: "web-a 10.64.1.3:8080", Outcome: Dropped,
				Hops: []string{
					"client Client->VPC: 198.51.100.10:40000 -> 203.0.113.10:80 sent",
					"forwarding rule VPC->VPC: 198.51.100.10:40000 -> 203.0.113.10:80 forwarded",
					"VPC firewall VPC->node-3: 198.51.100.10:40000 -> 203.0.113.10:80 allowed",
					"kube-proxy DNAT node-3->node-3: 198.51.100.10:40000 -> 203.0.113.10:80 => 198.51.100.10:40000 -> 10.64.1.3:8080 rewritten",
					"kube-proxy SNAT (masquerade) node-3->node-3: 198.51.100.10:40000 -> 10.64.1.3:8080 => 10.128.0.4:* -> 10.64.1.3:8080 rewritten",
					"node route node-3->VPC: 10.128.0.4:* -> 10.64.1.3:8080 routed",
					"VPC firewall VPC->node-1: 10.128.0.4:* -> 10.64.1.3:8080 dropped",
				},
				Drop: &Drop{Hop: 7, Component: "VPC firewall", At: "node-1",
					Reason: "no firewall rule allows tcp:8080 from 10.128.0.4 (node-3) to pod address 10.64.1.3 on node-1 (10.128.0.2, tags k8s-node): kube-proxy masqueraded the packet to the node's address to cross nodes",
					Fix: []string{
						"let the nodes reach the pods: a firewall rule from the nodes (source tags k8s-node, or their subnetwork's range) to the pod CIDRs on tcp:8080",
						"or set externalTrafficPolicy: Local, which keeps each packet on the node that receives it",
					}},
				Notes: []string{
					"kube-proxy picks an endpoint at random among web-a, web-b for each new connection; the trace follows web-a, the first by name.",
				},
			},
		},
		{
			name: "Cluster across nodes without a route for the pod CIDR: the default route leads out of the VPC",
			in:   newLab(withoutPodRoutes()).input(toNode("node-3")),
			want: summary{
				Node: "node-3", Endpoint: "web-a 10.64.1.3:8080", Outcome: Dropped,
				Hops: []string{
					"client Client->VPC: 198.51.100.10:40000 -> 203.0.113.10:80 sent",
					"forwarding rule VPC->VPC: 198.51.100.10:40000 -> 203.0.113.10:80 forwarded",
					"VPC firewall VPC->node-3: 198.51.100.10:40000 -> 203.0.113.10:80 allowed",
					"kube-proxy DNAT node-3->node-3: 198.51.100.10:40000 -> 203.0.113.10:80 => 198.51.100.10:40000 -> 10.64.1.3:8080 rewritten",
					"kube-proxy SNAT (masquerade) node-3->node-3: 198.51.100.10:40000 -> 10.64.1.3:8080 => 10.128.0.4:* -> 10.64.1.3:8080 rewritten",
					"node route node-3->VPC: 10.128.0.4:* -> 10.64.1.3:8080 dropped",
				},
				Drop: &Drop{Hop: 6, Component: "node route", At: "VPC",
					Reason: "the VPC's best route for 10.64.1.3 is default-route-internet (0.0.0.0/0 to default-internet-gateway), which leads out of the VPC, not to node-1 (node-1's pod CIDR 10.64.1.0/24 has no route)",
					Fix: []string{
						"the CCM's route controller creates a route for each node's pod CIDR (--configure-cloud-routes): see its logs",
					}},
				Notes: []string{
					"kube-proxy picks an endpoint at random among web-a, web-b for each new connection; the trace follows web-a, the first by name.",
				},
			},
		},
		{
			name: "an endpoint without a node name is on the node whose pod CIDR holds its address",
			in:   newLab(withoutNodeNames()).input(toNode("node-3")),
			want: summary{
				Node: "node-3", Endpoint: "web-a 10.64.1.3:8080", Outcome: Delivered,
				Hops:  crossNodeHops,
				Reply: crossNodeReply,
				Notes: []string{
					"kube-proxy picks an endpoint at random among web-a, web-b for each new connection; the trace follows web-a, the first by name.",
				},
			},
		},
		{
			name: "a dual-stack Service is traced over IPv4 by default",
			in:   newLab(withDualStack()).input(),
			want: summary{
				Node: "node-1", Endpoint: "web-a 10.64.1.3:8080", Outcome: Delivered,
				Hops:  sameNodeHops,
				Reply: sameNodeReply,
				Notes: []string{
					"GCE picks one of node-1, node-2, node-3 for each new flow (a hash of its 5-tuple) and keeps it for the flow's life; the trace follows node-1 (--to-node chooses another).",
					"kube-proxy picks an endpoint at random among web-a, web-b for each new connection; the trace follows web-a, the first by name.",
				},
			},
		},
		{
			name: "a dual-stack Service is traced over IPv6 from an IPv6 client",
			in:   newLab(withDualStack()).input(from("[2001:db8::10]:40000")),
			want: summary{
				Node: "node-1", Endpoint: "web-a [fd00:10:64:1::3]:8080", Outcome: Delivered,
				Hops: []string{
					"client Client->VPC: [2001:db8::10]:40000 -> [2600:1900:4000:a0e::]:80 sent",
					"forwarding rule VPC->VPC: [2001:db8::10]:40000 -> [2600:1900:4000:a0e::]:80 forwarded",
					"VPC firewall VPC->node-1: [2001:db8::10]:40000 -> [2600:1900:4000:a0e::]:80 allowed",
					"kube-proxy DNAT node-1->node-1: [2001:db8::10]:40000 -> [2600:1900:4000:a0e::]:80 => [2001:db8::10]:40000 -> [fd00:10:64:1::3]:8080 rewritten",
					"kube-proxy SNAT (masquerade) node-1->node-1: [2001:db8::10]:40000 -> [fd00:10:64:1::3]:8080 => [fd00:10:64:1::1]:* -> [fd00:10:64:1::3]:8080 rewritten",
					"pod node-1->pod: [fd00:10:64:1::1]:* -> [fd00:10:64:1::3]:8080 delivered",
				},
				Reply: []string{
					"pod pod->node-1: [fd00:10:64:1::3]:8080 -> [fd00:10:64:1::1]:* sent",
					"kube-proxy conntrack node-1->node-1: [fd00:10:64:1::3]:8080 -> [fd00:10:64:1::1]:* => [2600:1900:4000:a0e::]:80 -> [2001:db8::10]:40000 rewritten",
					"node route node-1->VPC: [2600:1900:4000:a0e::]:80 -> [2001:db8::10]:40000 routed",
					"client VPC->Client: [2600:1900:4000:a0e::]:80 -> [2001:db8::10]:40000 received",
				},
				Notes: []string{
					"GCE picks one of node-1, node-2, node-3 for each new flow (a hash of its 5-tuple) and keeps it for the flow's life; the trace follows node-1 (--to-node chooses another).",
				},
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Run(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, summarize(got)); diff != "" {
				t.Errorf("Run (-want +got):\n%s\nnotes:\n%s", diff, strings.Join(got.Notes, "\n"))
			}
		})
	}
}

func TestRunRefusesQuestionsTheInputCannotAnswer(t *testing.T) {
	tests := []struct {
		name string
		in   Input
		want string
	}{
		{
			name: "a port the Service does not have",
			in:   newLab().input(port("https")),
			want: `Service default/web has no port "https" (it has http 80/TCP)`,
		},
		{
			name: "an IPv6 client of an IPv4 Service",
			in:   newLab().input(from("[2001:db8::10]:40000")),
			want: "Service default/web serves [IPv4] only: a client at [2001:db8::10]:40000 cannot reach it",
		},
		{
			name: "a node that does not exist",
			in:   newLab().input(toNode("node-9")),
			want: `trace: there is no node "node-9"`,
		},
		{
			name: "a destination of the other IP family",
			in:   newLab(withDualStack()).input(to(lbIPv6)),
			want: "trace: the client 198.51.100.10:40000 and the address 2600:1900:4000:a0e:: it connects to are of different IP families",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Run(tc.in)
			if err == nil {
				t.Fatal("Run succeeded, want an error")
			}
			if diff := cmp.Diff(tc.want, err.Error()); diff != "" {
				t.Errorf("error (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRunTracesAPortByNameOrNumber(t *testing.T) {
	l := newLab()
	l.svc.Spec.Ports = append(l.svc.Spec.Ports, v1.ServicePort{Name: "metrics", Protocol: v1.ProtocolTCP, Port: 9090})
	for _, p := range []string{"metrics", "9090"} {
		got, err := Run(l.input(port(p)))
		if err != nil {
			t.Fatal(err)
		}
		if want := (Port{Name: "metrics", Protocol: "TCP", Port: 9090}); got.Port != want {
			t.Errorf("Run(port %q) traced port %+v, want %+v", p, got.Port, want)
		}
	}
}

func TestRunAnswersForSparseInput(t *testing.T) {
	tests := []struct {
		name        string
		in          Input
		wantOutcome string
		wantReason  string
	}{
		{
			name:        "no cloud objects at all: the published address goes nowhere",
			in:          Input{Service: newLab().svc, Nodes: newLab().nodes},
			wantOutcome: Dropped,
			wantReason:  "203.0.113.10 is no forwarding rule's address, no instance's external address and no instance's internal address: the VPC has nowhere to send it",
		},
		{
			name: "the only backend's instance is gone",
			in: func() Input {
				l := newLab()
				l.cloud.Instances = nil
				return l.input(toNode("node-1"))
			}(),
			wantOutcome: Dropped,
			wantReason:  "backend service " + webBase + " lists instance node-1, which does not exist: the packet " + webBase + "-tcp sends there is lost",
		},
		{
			name: "nodes without instances: the backends are no nodes",
			in: func() Input {
				l := newLab()
				for _, n := range l.nodes {
					n.Spec.ProviderID = ""
					n.Name = "other-" + n.Name
				}
				return l.input()
			}(),
			wantOutcome: Dropped,
			wantReason:  "instance node-1 is no node of the cluster (no node has its providerID or name): nothing there handles the Service",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Run(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if got.Outcome != tc.wantOutcome || got.Drop == nil || got.Drop.Reason != tc.wantReason {
				t.Errorf("Run = %s, %+v; want %s: %s", got.Outcome, got.Drop, tc.wantOutcome, tc.wantReason)
			}
		})
	}
}
