package nodeip

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/netip"

	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/klog/v2"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/firewall"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/providers/gce/computeclient"
)

// syncFirewall brings the firewall rule of one Service UID to the desired
// one: the answer's rule while the Service with that UID is served, no
// rule otherwise. It reads the rule from the view (no call when the view
// knows it) and makes calls only when firewall.Diff says so. Closing the
// rule to a node waits until the Service's status no longer publishes the
// node's address.
func (c *Controller) syncFirewall(ctx context.Context, k firewallKey) error {
	name := c.deps.FirewallName(k.UID)
	var desired []firewall.Rule
	ns, n := splitKey(k.Service)
	svc, err := c.services.Services(ns).Get(n)
	switch {
	case apierrors.IsNotFound(err):
		svc = nil
	case err != nil:
		return err
	case string(svc.UID) != k.UID:
		svc = nil // a new Service of the same name: this rule is the old one's
	default:
		svc = c.freshest(svc)
		switch roleOf(svc, c.deps.Defaults.Mode) {
		case ignore:
			return nil
		case serve:
			desired = rulesOf(c.answerFor(svc).Rule)
		}
	}
	_, wasKnown := c.view.peek(name)
	observed, err := c.view.get(ctx, name)
	if err != nil {
		return err
	}
	if !wasKnown && svc != nil {
		c.statusQueue.Add(k.Service) // it waited for the rule to be read
	}
	plan := firewall.Diff(desired, firewallsOf(observed), c.deps.Owner, firewall.ForService(k.UID))
	if plan.Empty() {
		c.setFirewallProblem(k, nil)
		return nil
	}
	if svc != nil && svc.DeletionTimestamp == nil && c.stillPublished(svc, observed, desired) {
		// The status worker takes the address back first (the change
		// that closes the rule reached it too); look again shortly.
		return errAddressStillPublished
	}
	if err := firewall.Apply(ctx, c.deps.Compute, plan); err != nil {
		c.view.forget(name)
		c.setFirewallProblem(k, firewallProblem(err))
		return fmt.Errorf("firewall of service %s: %w", k.Service, err)
	}
	if len(desired) > 0 {
		c.view.set(name, desired[0].Firewall())
	} else {
		c.view.set(name, nil)
	}
	klog.FromContext(ctx).V(2).Info("Firewall rule changed", "service", k.Service, "firewall", name,
		"inserts", len(plan.Inserts), "patches", len(plan.Patches), "deletes", len(plan.Deletes))
	c.setFirewallProblem(k, nil)
	if svc != nil {
		c.statusQueue.Add(k.Service)
	}
	return nil
}

// errAddressStillPublished puts a firewall change off, with the queue's
// backoff, until the status no longer publishes what it would close.
var errAddressStillPublished = errors.New("waiting for the status to stop publishing the nodes the rule closes to")

// stillPublished: the Service's status publishes an address of a node that
// the change would close the rule to.
func (c *Controller) stillPublished(svc *v1.Service, observed *observedRule, desired []firewall.Rule) bool {
	closing := maps.Clone(observed.admitted())
	if len(desired) > 0 {
		for a := range admitted(desired[0].Firewall(), c.deps.Owner) {
			delete(closing, a)
		}
	}
	if len(closing) == 0 {
		return false
	}
	// The addresses of the nodes being closed: the internal ones, and any
	// other address of those nodes (ExternalIP mode).
	addrs := map[netip.Addr]bool{}
	for a := range closing {
		addrs[a] = true
	}
	nodes, _ := c.nodes.List(labels.Everything())
	for _, n := range nodes {
		if !hasAddressIn(n, v1.NodeInternalIP, closing) {
			continue
		}
		for _, na := range n.Status.Addresses {
			if a, err := netip.ParseAddr(na.Address); err == nil {
				addrs[a.Unmap()] = true
			}
		}
	}
	for _, e := range svc.Status.LoadBalancer.Ingress {
		if a, err := netip.ParseAddr(e.IP); err == nil && addrs[a.Unmap()] {
			return true
		}
	}
	return false
}

// hasAddressIn: the node has an address of the type in set.
func hasAddressIn(n *v1.Node, typ v1.NodeAddressType, set map[netip.Addr]bool) bool {
	for _, a := range n.Status.Addresses {
		if ip, err := netip.ParseAddr(a.Address); err == nil && a.Type == typ && set[ip.Unmap()] {
			return true
		}
	}
	return false
}

// firewallProblem is a firewall error the user must fix, or nil for one a
// retry may fix (the cloud API failing).
func firewallProblem(err error) *problem {
	var cf firewall.Conflict
	if errors.As(err, &cf) {
		return &problem{Reason: ReasonNameCollision, Warn: true, Message: fmt.Sprintf(
			"the firewall rule %s exists without this cluster's ownership marker; nothing is published until it is renamed or removed", cf.Name)}
	}
	if computeclient.Classify(err) == computeclient.ClassQuota {
		return &problem{Reason: ReasonQuotaExceeded, Warn: true, Message: "the project's firewall rule quota is used up; nothing more is published until it is raised or rules are removed: " + err.Error()}
	}
	return nil
}

// setFirewallProblem records the firewall's problem for the Service (nil:
// none) and has the status worker report a change.
func (c *Controller) setFirewallProblem(k firewallKey, p *problem) {
	c.mu.Lock()
	prev := c.firewallProblems[k.UID]
	if p == nil {
		delete(c.firewallProblems, k.UID)
	} else {
		c.firewallProblems[k.UID] = p
	}
	c.mu.Unlock()
	if (prev == nil) != (p == nil) || (prev != nil && *prev != *p) {
		c.statusQueue.Add(k.Service)
	}
}
