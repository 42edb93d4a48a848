package trace

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/api/compute/v1"
	v1 "k8s.io/api/core/v1"
)

// egressRule is an enabled EGRESS rule on the test network, to every
// destination, changed by opts.
func egressRule(name string, opts ...fwOpt) *compute.Firewall {
	fw := newFirewall(name, direction("EGRESS"), sources())
	for _, o := range opts {
		o(fw)
	}
	return fw
}

func TestEvaluateEgress(t *testing.T) {
	node := vm("node-3", "10.128.0.4", "k8s-node")
	other := vm("other", "10.128.0.9", "other")
	masqueraded := tcp("10.128.0.4", "10.64.1.3:8080")
	tests := []struct {
		name  string
		rules []*compute.Firewall
		from  *compute.Instance
		want  string
	}{
		{name: "no rule: the implied allow-egress rule", from: node, want: "allowed by the implied allow-egress rule (priority 65535)"},
		{name: "an ingress rule does not decide egress", from: node,
			rules: []*compute.Firewall{newFirewall("deny-in", deny("all"), priority(10))},
			want:  "allowed by the implied allow-egress rule (priority 65535)"},
		{name: "a deny to the pod range drops the node's packet", from: node,
			rules: []*compute.Firewall{egressRule("no-pods", deny("all"), destinations("10.64.0.0/16"), priority(900))},
			want:  "denied by no-pods (priority 900)"},
		{name: "a deny targets the instances of its tags only", from: other,
			rules: []*compute.Firewall{egressRule("no-pods", deny("all"), destinations("10.64.0.0/16"), targetTags("k8s-node"))},
			want:  "allowed by the implied allow-egress rule (priority 65535)"},
		{name: "an egress rule without destination ranges covers every destination", from: node,
			rules: []*compute.Firewall{egressRule("no-8080", deny("tcp", "8080"))},
			want:  "denied by no-8080 (priority 1000)"},
		{name: "an allow of a higher precedence wins over a deny", from: node,
			rules: []*compute.Firewall{egressRule("no-pods", deny("all"), priority(1000)), egressRule("to-pods", allow("all"), destinations("10.64.0.0/16"), priority(900))},
			want:  "allowed by to-pods (priority 900)"},
		{name: "a deny of another destination does not apply", from: node,
			rules: []*compute.Firewall{egressRule("no-internet", deny("all"), destinations("0.0.0.0/0"), priority(1000)), egressRule("no-10-8", deny("all"), destinations("192.168.0.0/16"), priority(10))},
			want:  "denied by no-internet (priority 1000)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, EvaluateEgress(tc.rules, masqueraded, tc.from).String()); diff != "" {
				t.Errorf("EvaluateEgress (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRunAppliesEgressRules(t *testing.T) {
	runScenarios(t, []struct {
		name string
		in   Input
		want scenario
	}{
		{
			name: "an egress deny on the entry node drops the masqueraded flow to another node's pod",
			in: newLab(withFirewall(egressRule("no-pods", deny("all"), destinations("10.64.0.0/16"), targetTags("k8s-node"), priority(900)))).
				input(toNode("node-3")),
			want: scenario{
				Node: "node-3", Endpoint: "web-a 10.64.1.3:8080", Outcome: Dropped,
				Hops: append(crossNodeHops[:5:5], "VPC firewall node-3->VPC: 10.128.0.4:* -> 10.64.1.3:8080 dropped"),
				Drop: &Drop{Hop: 6, Component: compFirewall, At: atVPC,
					Reason: "egress rule no-pods (priority 900) denies tcp:8080 from node-3 (10.128.0.4) to 10.64.1.3: kube-proxy masqueraded the packet to the node's address to cross nodes",
					Fix:    []string{"remove or narrow egress rule no-pods, or allow node-3's traffic to 10.64.1.3 with an egress rule of a priority number lower than 900"}},
				Backends: allHealthyCluster,
				Rewrites: Rewrites{Forward: 2},
			},
		},
		{
			name: "an egress deny on a client vm drops its packet before it leaves the vm",
			in: newLab(withClientVM("client-vm", "10.129.0.5", "203.0.113.50", "locked-down"),
				withFirewall(egressRule("locked-down", deny("all"), targetTags("locked-down")))).input(from("10.129.0.5:40000")),
			want: scenario{
				Outcome: Dropped,
				Hops: []string{
					"client Client->VPC: 10.129.0.5:40000 -> 203.0.113.10:80 sent",
					"VPC firewall VPC->VPC: 10.129.0.5:40000 -> 203.0.113.10:80 dropped",
				},
				Drop: &Drop{Hop: 2, Component: compFirewall, At: atVPC,
					Reason: "egress rule locked-down (priority 1000) denies tcp:80 from client-vm (10.129.0.5) to 203.0.113.10",
					Fix:    []string{"remove or narrow egress rule locked-down, or allow client-vm's traffic to 203.0.113.10 with an egress rule of a priority number lower than 1000"}},
			},
		},
		{
			name: "a deny rule for the client vm's source tag drops its packet at the node",
			in: newLab(withNodeIP(v1.NodeInternalIP, 1), withClientVM("client-vm", "10.128.0.30", "", "blocked"),
				withFirewall(newFirewall("block-tagged", deny("tcp", "80"), sources(), sourceTags("blocked"), priority(900)))).input(from("10.128.0.30:40000")),
			want: scenario{
				Node: "node-1", Outcome: Dropped,
				Hops: []string{
					"client Client->VPC: 10.128.0.30:40000 -> 10.128.0.2:80 sent",
					"VPC firewall VPC->node-1: 10.128.0.30:40000 -> 10.128.0.2:80 dropped",
				},
				Drop: &Drop{Hop: 2, Component: compFirewall, At: "node-1",
					Reason: "firewall rule block-tagged (priority 900) denies tcp:80 from 10.128.0.30 to 10.128.0.2 on node-1 (tags k8s-node)",
					Fix:    []string{"remove or narrow rule block-tagged, or allow the Service's clients with a rule of a priority number lower than 900"}},
			},
		},
	})
}
