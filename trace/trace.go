package trace

import (
	"cmp"
	"fmt"
	"net/netip"
	"strings"

	"google.golang.org/api/compute/v1"
	v1 "k8s.io/api/core/v1"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/ownership"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/providers/gce/annotations"
)

// Where a packet can be: the participants of a trace. Nodes are named by
// their node name.
const (
	atClient = "Client"
	atVPC    = "VPC"
	atPod    = "pod"
)

// Components that act on a packet.
const (
	compClient     = "client"
	compNAT        = "VPC NAT"
	compFirewall   = "VPC firewall"
	compForwarding = "forwarding rule"
	compDNAT       = "kube-proxy DNAT"
	compSNAT       = "kube-proxy SNAT (masquerade)"
	compConntrack  = "kube-proxy conntrack"
	compRoute      = "node route"
	compVPCRoute   = "VPC routing"
	compPod        = "pod"
)

// Run traces one packet of the Service from in.From to a pod and back. An
// error is a question the input cannot answer (no such port, a client of
// an IP family the Service does not serve); a packet the data path drops
// is an answer: a Trace whose Outcome and Drop say where and why.
func Run(in Input) (*Trace, error) {
	tr, err := newTracer(in)
	if err != nil {
		return nil, err
	}
	tr.forward()
	if tr.t.Outcome == Delivered {
		tr.reply()
	}
	tr.t.Rewrites = Rewrites{Forward: countRewrites(tr.t.Hops), Reply: countRewrites(tr.t.Reply)}
	return tr.t, nil
}

// countRewrites counts the addresses the hops change: a source and a
// destination rewritten by one hop count two, as the packet lab counts
// the rewrites conntrack records (test/lab/rewrites_test.go).
func countRewrites(hops []Hop) int {
	n := 0
	for _, h := range hops {
		if h.Before.Src != h.After.Src {
			n++
		}
		if h.Before.Dst != h.After.Dst {
			n++
		}
	}
	return n
}

// tracer follows the packet, hop by hop.
type tracer struct {
	in       Input
	svc      *v1.Service
	port     v1.ServicePort
	protocol string // lower case, as the firewall names it
	mode     string
	local    bool // externalTrafficPolicy: Local
	base     string
	nodes    map[string]*v1.Node
	t        *Trace

	// The packet now, and where it is.
	flow Flow
	at   string
	// hops collects the hops of the direction being traced.
	hops *[]Hop

	// What the way back needs to know about the way in.
	entryNAT    *compute.Instance       // the instance whose 1:1 NAT rewrote the destination
	clientNAT   *compute.Instance       // the client's instance, whose 1:1 NAT rewrote the source
	passthrough *compute.ForwardingRule // the forwarding rule that delivered the packet
	entry       *v1.Node                // the node the packet entered
	seen        Flow                    // the packet as kube-proxy on the entry node saw it
	endpoint    *endpoint               // the endpoint it reached
	crossed     *compute.Instance       // the endpoint's instance, when it is another node's
	endpointAt  string                  // the endpoint's node (or instance) name
	masqueraded bool                    // kube-proxy's masquerade rewrote the source

	// toldProblems: a note already says what is wrong with the node.
	toldProblems bool
	// inside: the client is inside the VPC (see Cloud.NetworkRanges).
	inside bool
	// client: whether the client is a node or a pod of the cluster.
	client clientKind
}

func newTracer(in Input) (*tracer, error) {
	svc := in.Service
	if svc == nil {
		return nil, fmt.Errorf("trace: no Service")
	}
	port, err := servicePort(svc, in.Port)
	if err != nil {
		return nil, err
	}
	mode, err := annotations.ModeOf(svc, cmp.Or(in.Settings.DefaultMode, annotations.ModeExternal))
	if err != nil {
		return nil, fmt.Errorf("Service %s/%s: %w", svc.Namespace, svc.Name, err)
	}
	from, err := clientOf(svc, in.From)
	if err != nil {
		return nil, err
	}
	if in.To.IsValid() {
		in.To = in.To.Unmap()
		if in.To.Is4() != from.Addr().Is4() {
			return nil, fmt.Errorf("trace: the client %s and the address %s it connects to are of different IP families", from, in.To)
		}
	}
	if in.Settings.Owner.Name() == "" {
		in.Settings.Owner = ownership.ForCluster("kubernetes")
	}
	tr := &tracer{
		in: in, svc: svc, port: port, mode: mode,
		protocol: strings.ToLower(string(cmp.Or(port.Protocol, v1.ProtocolTCP))),
		local:    svc.Spec.ExternalTrafficPolicy == v1.ServiceExternalTrafficPolicyLocal,
		base:     in.Settings.Owner.LoadBalancerBase(string(svc.UID)),
		nodes:    map[string]*v1.Node{},
	}
	for _, n := range in.Nodes {
		tr.nodes[n.Name] = n
	}
	tr.inside = tr.insideVPC(from.Addr())
	if in.ToNode != "" && tr.nodes[in.ToNode] == nil {
		return nil, fmt.Errorf("trace: there is no node %q", in.ToNode)
	}
	policy := string(cmp.Or(svc.Spec.ExternalTrafficPolicy, v1.ServiceExternalTrafficPolicyCluster))
	tr.t = &Trace{
		Service: svc.Namespace + "/" + svc.Name, Mode: mode, ExternalTrafficPolicy: policy,
		Port:   Port{Name: port.Name, Protocol: string(cmp.Or(port.Protocol, v1.ProtocolTCP)), Port: port.Port},
		Client: from, Hops: []Hop{},
	}
	tr.t.KubeProxyMode, tr.t.KubeProxyModeSource = kubeProxyModeOf(in.Settings)
	if tr.t.KubeProxyMode != KubeProxyIPTables && tr.t.KubeProxyMode != KubeProxyNFTables {
		tr.note("kube-proxy's mode %s is not modelled: the trace follows the rules of its iptables mode.", tr.t.KubeProxyMode)
	}
	tr.flow = Flow{Protocol: tr.t.Port.Protocol, Src: from}
	tr.at = atClient
	tr.hops = &tr.t.Hops
	return tr, nil
}

// forward follows the packet from the client to a pod.
func (tr *tracer) forward() {
	dst, why, ok := tr.destination()
	if !ok {
		return
	}
	tr.t.Destination = netip.AddrPortFrom(dst, uint16(tr.port.Port))
	tr.flow.Dst = tr.t.Destination

	var node *v1.Node
	var inst *compute.Instance
	if n, kind := tr.clusterClient(tr.flow.Src.Addr()); n != nil && tr.kubeProxyServes(dst) {
		node, inst = n, instanceOfNode(tr.in.Cloud.Instances, n)
		tr.fromInsideCluster(n, kind, why)
		tr.entry = node
		tr.t.Node = node.Name
	} else {
		tr.step(compClient, atVPC, "sent", why, tr.flow)
		if vm := tr.instanceWithPrimary(tr.flow.Src.Addr()); vm != nil && !tr.leave(vm, vm.Name) {
			return
		}
		if inst, ok = tr.throughVPC(); !ok {
			return
		}
		node = tr.nodeOfInstance(inst)
		if node == nil {
			tr.stop(compFirewall, Dropped, "no node", fmt.Sprintf("instance %s is no node of the cluster (no node has its providerID or name): nothing there handles the Service", inst.Name),
				"check the instance's node: its spec.providerID must be gce://PROJECT/ZONE/"+inst.Name)
			return
		}
		tr.entry = node
		tr.t.Node = node.Name
		if problems := nodeProblems(node); len(problems) > 0 && !tr.toldProblems {
			tr.note("%s is %s.", node.Name, strings.Join(problems, ", "))
		}
		if !tr.enter(inst, node.Name, clientEntry) {
			return
		}
	}
	tr.seen = tr.flow
	ep, ok := tr.kubeProxy(node)
	if !ok {
		return
	}
	tr.endpoint = ep
	tr.endpointAt = node.Name
	if where := tr.endpointNode(ep); where != node.Name {
		target, ok := tr.crossNodes(node, inst, ep, where)
		if !ok {
			return
		}
		tr.crossed = target
		tr.endpointAt = target.Name
		if n := tr.nodeOfInstance(target); n != nil {
			tr.endpointAt = n.Name
		}
		if !tr.enter(target, tr.endpointAt, podEntry) {
			return
		}
	}
	tr.deliver(ep)
}

// endpointNode is the node an endpoint runs on: its nodeName, else the
// node whose pod CIDR holds its address ("" when none does).
func (tr *tracer) endpointNode(ep *endpoint) string {
	if ep.Node != "" {
		return ep.Node
	}
	for _, n := range tr.in.Nodes {
		if podGateway(n, ep.Address.Addr()).IsValid() {
			return n.Name
		}
	}
	return ""
}

// step records a hop: the packet, now at tr.at, becomes after and moves on
// to next.
func (tr *tracer) step(component, next, verdict, description string, after Flow) {
	*tr.hops = append(*tr.hops, Hop{N: len(*tr.hops) + 1, Component: component, At: tr.at, Next: next,
		Before: tr.flow, After: after, Verdict: verdict, Description: description})
	tr.flow, tr.at = after, next
}

// stop records the hop that loses the packet where it is, and why.
func (tr *tracer) stop(component, outcome, description, reason string, fix ...string) {
	tr.stopToward(tr.at, component, outcome, description, reason, fix...)
}

// stopToward records the hop that loses the packet on its way to next
// (where the drop happens: a firewall drops a packet at the instance it
// would enter).
func (tr *tracer) stopToward(next, component, outcome, description, reason string, fix ...string) {
	*tr.hops = append(*tr.hops, Hop{N: len(*tr.hops) + 1, Component: component, At: tr.at, Next: next,
		Before: tr.flow, After: tr.flow, Verdict: outcome, Description: description})
	tr.t.Outcome = outcome
	tr.t.Drop = &Drop{Hop: len(*tr.hops), Component: component, At: next, Reason: reason, Fix: fix}
}

func (tr *tracer) note(format string, args ...any) {
	tr.t.Notes = append(tr.t.Notes, fmt.Sprintf(format, args...))
}

// deliver hands the packet to the pod.
func (tr *tracer) deliver(ep *endpoint) {
	tr.at = tr.endpointAt
	tr.step(compPod, atPod, "delivered", fmt.Sprintf("pod %s receives it on %s", ep.name(), ep.Address), tr.flow)
	tr.t.Outcome = Delivered
}

// nodeOfInstance is the node that runs on the instance.
func (tr *tracer) nodeOfInstance(inst *compute.Instance) *v1.Node {
	if inst == nil {
		return nil
	}
	for _, n := range tr.in.Nodes {
		if instanceOfNode(tr.in.Cloud.Instances, n) == inst {
			return n
		}
	}
	return nil
}
