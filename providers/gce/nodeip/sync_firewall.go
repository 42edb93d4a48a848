package nodeip

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"reflect"
	"slices"
	"time"

	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/klog/v2"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/computeclient"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/firewall"
)

// syncFirewall brings the firewall rules of one Service UID (one per IP
// family) to the desired ones: the answer's rules while the Service with
// that UID is served, no rule otherwise. It reads the rules from the view
// (no call when the view knows them) and makes calls only when
// firewall.Diff says so. Closing a rule to a node waits until the
// Service's status no longer publishes the node's address.
func (c *Controller) syncFirewall(ctx context.Context, k firewallKey) error {
	names := c.ruleNames(k.UID).all()
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
			desired = c.answerFor(svc).Rules
		}
	}
	_, wasKnown := c.view.peekAll(names)
	observed, err := c.view.getAll(ctx, names)
	if err != nil {
		return err
	}
	if !wasKnown && svc != nil {
		c.statusQueue.Add(k.Service) // it waited for the rules to be read
	}
	plan := firewall.Diff(desired, observed.firewalls(), c.deps.Owner, firewall.ForNodeIP(k.UID))
	if plan.Empty() {
		c.setFirewallProblem(k, nil)
		c.clearFirewallFailure(k.UID)
		return nil
	}
	if svc != nil && svc.DeletionTimestamp == nil && c.stillPublished(svc, observed, desired) {
		// The status worker takes the address back first (the change
		// that closes the rules reached it too) and then asks for this
		// sync again; look again shortly in case it had nothing to write.
		c.firewallQueue.AddAfter(k, recheckPublished)
		return nil
	}
	if err := firewall.Apply(ctx, c.deps.Compute, plan); err != nil {
		return c.firewallFailed(ctx, k, names, desired, err)
	}
	c.noteApplied(names, desired, plan)
	klog.FromContext(ctx).V(2).Info("Firewall rules changed", "service", k.Service, "firewalls", names,
		"inserts", len(plan.Inserts), "patches", len(plan.Patches), "deletes", len(plan.Deletes))
	c.setFirewallProblem(k, nil)
	c.clearFirewallFailure(k.UID)
	if svc != nil {
		c.statusQueue.Add(k.Service)
	}
	return nil
}

// firewallFailed handles a failed apply. What it left is read again now,
// so that the status worker the problem wakes judges what the rules admit;
// the retry comes with the queue's backoff.
func (c *Controller) firewallFailed(ctx context.Context, k firewallKey, names []string, desired []firewall.Rule, err error) error {
	for _, name := range names {
		c.view.forget(name)
	}
	if _, rerr := c.view.getAll(ctx, names); rerr != nil {
		klog.FromContext(ctx).V(2).Info("Cannot read the firewall rules after a failed change", "service", k.Service, "err", rerr)
	}
	c.setFirewallProblem(k, firewallProblem(err))
	c.noteFirewallFailure(k.UID, desired)
	return fmt.Errorf("firewall of service %s: %w", k.Service, err)
}

// recheckPublished is how soon a firewall change put off until the status
// no longer publishes what it would close is looked at again.
const recheckPublished = 100 * time.Millisecond

// needFirewall asks the firewall worker to make a Service's rules the
// desired ones: at once, unless its last attempt failed to make these
// same rules, in which case the queue's backoff brings it back. Without
// that check, the status worker (which asks whenever the rules differ from
// the answer) and a refusing cloud would retry each other in a loop,
// thousands of times a second; with it, a Service that changes what it
// asks for is still tried at once.
func (c *Controller) needFirewall(k firewallKey, desired []firewall.Rule) {
	c.mu.Lock()
	failed, ok := c.failedRules[k.UID]
	c.mu.Unlock()
	if ok && c.firewallQueue.NumRequeues(k) > 0 && (len(failed) == 0 && len(desired) == 0 || reflect.DeepEqual(failed, desired)) {
		return
	}
	c.firewallQueue.Add(k)
}

// noteFirewallFailure records the rules a firewall change failed to make
// (none, for a change that was to remove them).
func (c *Controller) noteFirewallFailure(uid string, desired []firewall.Rule) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.failedRules[uid] = slices.Clone(desired)
}

// clearFirewallFailure: the rules are as desired.
func (c *Controller) clearFirewallFailure(uid string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.failedRules, uid)
}

// noteApplied records in the view what an applied plan left under each
// name: the desired rule, nothing where the plan deleted one, and
// otherwise what was there (a rule of another owner, which Diff leaves
// alone).
func (c *Controller) noteApplied(names []string, desired []firewall.Rule, plan firewall.Plan) {
	for _, name := range names {
		i := slices.IndexFunc(desired, func(r firewall.Rule) bool { return r.Name == name })
		switch {
		case i >= 0:
			c.view.set(name, desired[i].Firewall())
		case slices.Contains(plan.Deletes, name):
			c.view.set(name, nil)
		}
	}
}

// stillPublished: the Service's status publishes an address of a node that
// the change would close the rules to.
func (c *Controller) stillPublished(svc *v1.Service, observed serviceRules, desired []firewall.Rule) bool {
	closing := maps.Clone(observed.admitted())
	for _, d := range desired {
		for a := range admitted(d.Firewall(), c.deps.Owner) {
			delete(closing, a)
		}
	}
	if len(closing) == 0 {
		return false
	}
	// The addresses being closed: the internal ones, and the other
	// addresses (ExternalIP mode) of those nodes in the families closed to
	// them; a node closed in one family only keeps its other family's.
	addrs := map[netip.Addr]bool{}
	for a := range closing {
		addrs[a] = true
	}
	nodes, _ := c.nodes.List(labels.Everything())
	for _, n := range nodes {
		closed := familiesClosed(n, closing)
		if len(closed) == 0 {
			continue
		}
		for _, na := range n.Status.Addresses {
			if a, err := netip.ParseAddr(na.Address); err == nil && closed[familyOf(a.Unmap())] {
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

// familiesClosed are the IP families of the node's internal addresses in
// closing.
func familiesClosed(n *v1.Node, closing map[netip.Addr]bool) map[v1.IPFamily]bool {
	var out map[v1.IPFamily]bool
	for _, a := range n.Status.Addresses {
		if ip, err := netip.ParseAddr(a.Address); err == nil && a.Type == v1.NodeInternalIP && closing[ip.Unmap()] {
			if out == nil {
				out = map[v1.IPFamily]bool{}
			}
			out[familyOf(ip.Unmap())] = true
		}
	}
	return out
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
