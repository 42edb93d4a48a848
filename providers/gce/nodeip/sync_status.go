package nodeip

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"net/netip"
	"slices"

	v1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/lbcondition"
)

// syncStatus brings a Service's status (and, for the class, its finalizer)
// to the controller's answer, and hands the firewall work to the firewall
// queue. It publishes only targets that the firewall rules, as last
// written, already admit; the firewall worker enqueues the Service again
// once it has opened the rules to more.
func (c *Controller) syncStatus(ctx context.Context, key string) error {
	ns, name := splitKey(key)
	svc, err := c.services.Services(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return nil // onServiceDelete queued the rules' removal and the peers
	}
	if err != nil {
		return err
	}
	svc = c.freshest(svc)
	switch roleOf(svc, c.deps.Defaults.Mode) {
	case ignore:
		return nil
	case release:
		return c.release(ctx, svc)
	}
	if isNodeIPClass(svc) && !hasFinalizer(svc) {
		if svc, err = c.setFinalizer(ctx, svc, true); err != nil {
			return err
		}
	}
	a := c.answerFor(svc)
	c.noteClaim(key, a)
	uid := string(svc.UID)
	c.mu.Lock()
	c.served[uid] = key
	c.mu.Unlock()
	names := c.ruleNames(uid).all()
	observed, known := c.view.peekAll(names)
	if !known {
		// Without the rules, what the firewall admits is unknown: leave
		// the status as it is; the firewall worker reads the rules and
		// enqueues the Service again.
		c.needFirewall(firewallKey{Service: key, UID: uid}, a.Rules)
		return nil
	}
	published := admittedTargets(a.Targets, observed.admitted())
	if err := c.writeStatus(ctx, svc, ingressOf(published, a.Families), c.conditionFor(a, uid, len(published) < len(a.Targets)), false); err != nil {
		return err
	}
	// After the status: a firewall worker that would close a rule to a
	// node waits until the node's address is no longer published.
	if !observed.inSync(names, a.Rules) {
		c.needFirewall(firewallKey{Service: key, UID: uid}, a.Rules)
	}
	return nil
}

// release takes back what the controller left on a Service it does not
// serve (any more): the node addresses it published, its firewall rules and
// its finalizer, in that order. It touches the status only of a Service it
// served: one with a rule left (the rules go after the addresses, so they
// outlive them, across restarts too) or that this process served.
// Another writer's status entries (the external load balancer's address
// after a mode switch) are kept.
func (c *Controller) release(ctx context.Context, svc *v1.Service) error {
	key, uid := serviceKey(svc), string(svc.UID)
	c.dropClaim(key)
	observed, err := c.view.getAll(ctx, c.ruleNames(uid).all())
	if err != nil {
		return err
	}
	ruleLeft := observed.owned()
	c.mu.Lock()
	_, served := c.served[uid]
	c.mu.Unlock()
	if svc.DeletionTimestamp == nil && (ruleLeft || served) {
		var cond *conditionWant
		if svc.Spec.Type != v1.ServiceTypeLoadBalancer {
			cond = &conditionWant{remove: true}
		}
		// The service controller may be writing the external load
		// balancer's address right now: test the value replaced.
		if err := c.writeStatus(ctx, svc, c.withoutNodeAddresses(svc.Status.LoadBalancer.Ingress, observed.admitted()), cond, true); err != nil {
			return err
		}
	}
	if ruleLeft {
		c.needFirewall(firewallKey{Service: key, UID: uid}, nil)
		return nil // the firewall worker enqueues the Service again when the rules are gone
	}
	if hasFinalizer(svc) {
		if _, err := c.setFinalizer(ctx, svc, false); err != nil {
			return err
		}
	}
	c.mu.Lock()
	delete(c.served, uid)
	c.mu.Unlock()
	return nil
}

// withoutNodeAddresses drops the ingress entries that are a node's address
// or that the rules admit: the ones nodeip published.
func (c *Controller) withoutNodeAddresses(in []v1.LoadBalancerIngress, admits map[netip.Addr]bool) []v1.LoadBalancerIngress {
	ours := maps.Clone(admits)
	if ours == nil {
		ours = map[netip.Addr]bool{}
	}
	nodes, _ := c.nodes.List(labels.Everything())
	for _, n := range nodes {
		for _, a := range n.Status.Addresses {
			if ip, err := netip.ParseAddr(a.Address); err == nil {
				ours[ip.Unmap()] = true
			}
		}
	}
	return slices.DeleteFunc(slices.Clone(in), func(e v1.LoadBalancerIngress) bool {
		ip, err := netip.ParseAddr(e.IP)
		return err == nil && ours[ip.Unmap()]
	})
}

// answerFor computes the Service's answer from the listers.
func (c *Controller) answerFor(svc *v1.Service) answer {
	nodes := c.nodeInfos()
	cand := c.candidateFor(svc, nodes)
	var competitors []claim
	if cand.problem == nil && len(cand.targets) > 0 {
		competitors = c.olderCompetitors(cand, nodes)
	}
	return decide(svc, cand, competitors, c.ruleNames(string(svc.UID)), c.rule)
}

func (c *Controller) candidateFor(svc *v1.Service, nodes []nodeInfo) candidate {
	var endpointNodes map[string]bool
	if svc.Spec.ExternalTrafficPolicy == v1.ServiceExternalTrafficPolicyLocal {
		endpointNodes = readyEndpointNodes(c.slicesOf(svc))
	}
	return candidateOf(svc, nodes, endpointNodes, c.deps.Defaults, c.defaultSelector, c.factsFor(svc))
}

// factsFor are the cluster's facts the Service's candidate reads: the
// Services using its ports as node ports (none are read for a Service over
// the port cap, which is refused before they matter) and kube-proxy's mode.
func (c *Controller) factsFor(svc *v1.Service) clusterFacts {
	f := clusterFacts{kubeProxyIPVS: c.kubeProxyIPVS.Load()}
	if len(svc.Spec.Ports) > c.maxPorts() {
		return f
	}
	for _, pp := range portsOf(svc) {
		objs, _ := c.serviceIndex.ByIndex(nodePortIndex, pp.String())
		for _, o := range objs {
			if f.nodePorts == nil {
				f.nodePorts = map[protoPort][]string{}
			}
			f.nodePorts[pp] = append(f.nodePorts[pp], serviceKey(o.(*v1.Service)))
		}
	}
	return f
}

func (c *Controller) maxPorts() int { return cmp.Or(c.deps.Defaults.MaxPorts, DefaultMaxPorts) }

func (c *Controller) slicesOf(svc *v1.Service) []*discoveryv1.EndpointSlice {
	objs, _ := c.slices.ByIndex(sliceServiceIndex, serviceKey(svc))
	out := make([]*discoveryv1.EndpointSlice, 0, len(objs))
	for _, o := range objs {
		if s, ok := o.(*discoveryv1.EndpointSlice); ok {
			out = append(out, s)
		}
	}
	return out
}

// olderCompetitors are the claims of the served Services older than the
// candidate that share a port with it, directly or through other such
// Services: everything the oldest-first resolution needs to decide it.
// Newer Services cannot take a port from it, so they are not read.
func (c *Controller) olderCompetitors(me candidate, nodes []nodeInfo) []claim {
	seen := map[string]bool{me.claim.Service: true}
	done := map[protoPort]bool{}
	queue := slices.Clone(me.ports)
	var out []claim
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		if done[p] {
			continue
		}
		done[p] = true
		objs, _ := c.serviceIndex.ByIndex(portIndex, p.String())
		for _, o := range objs {
			other := o.(*v1.Service)
			k := serviceKey(other)
			if seen[k] {
				continue
			}
			seen[k] = true
			oc := c.candidateFor(other, nodes)
			if older(oc.claim, me.claim) >= 0 || len(oc.claim.Ports) == 0 {
				continue
			}
			out = append(out, oc.claim)
			queue = append(queue, oc.ports...)
		}
	}
	return out
}

// noteClaim remembers the Service's claim; when it changed, the Services
// sharing its ports (old or new) are looked at again.
func (c *Controller) noteClaim(key string, a answer) {
	sig := fmt.Sprint(a.Won, a.Claim.Ports, a.Claim.Nodes)
	c.mu.Lock()
	prev, had := c.claims[key]
	c.claims[key] = claimMemo{signature: sig, ports: a.Claim.Ports}
	c.mu.Unlock()
	if !had || prev.signature != sig {
		c.enqueuePeers(key, append(slices.Clone(prev.ports), a.Claim.Ports...))
	}
}

func (c *Controller) dropClaim(key string) {
	c.mu.Lock()
	prev, had := c.claims[key]
	delete(c.claims, key)
	c.mu.Unlock()
	if had {
		c.enqueuePeers(key, prev.ports)
	}
}

// conditionFor is the LoadBalancerReady condition for an answer, or nil to
// leave it as it is: while the firewall is still opening to new targets,
// the condition keeps saying what it said.
func (c *Controller) conditionFor(a answer, uid string, pending bool) *conditionWant {
	c.mu.Lock()
	fwProblem := c.firewallProblems[uid]
	c.mu.Unlock()
	p := a.Problem
	if p == nil {
		p = fwProblem
	}
	switch {
	case p != nil:
		return &conditionWant{cond: metav1.Condition{Type: lbcondition.Type, Status: metav1.ConditionFalse, Reason: p.Reason, Message: p.Message}, warn: p.Warn}
	case pending:
		return nil
	}
	want := &conditionWant{cond: metav1.Condition{Type: lbcondition.Type, Status: metav1.ConditionTrue, Reason: ReasonPublished,
		Message: "The nodes' addresses are published and the firewall lets clients in; kube-proxy forwards them to the Service's endpoints."}}
	// What the cluster's limits took from the request, or a family closed:
	// in the message, and a Warning event when it changes.
	for _, n := range a.Notes {
		want.cond.Message += " " + n.Message
		want.warn = true
		want.eventReason = cmp.Or(want.eventReason, n.Reason)
	}
	return want
}
