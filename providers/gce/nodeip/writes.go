package nodeip

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/lbcondition"
)

// Writes to Services are JSON patches (RFC 6902) that first test what the
// write was computed from: the Service's resourceVersion (the API server's
// optimistic concurrency, one string to compare) and, where another writer
// is expected, the value replaced. If the Service changed since this
// controller read it (the service controller writing an external
// load balancer's address after a mode switch, say), the patch fails and
// the Service is looked at again, instead of overwriting the other write.

type patchOp struct {
	Op    string `json:"op"`
	Path  string `json:"path"`
	Value any    `json:"value"`
}

// conditionWant is the LoadBalancerReady condition a reconcile wants;
// remove takes away one this controller set.
type conditionWant struct {
	cond   metav1.Condition
	warn   bool
	remove bool
	// eventReason is the Warning event's reason when it is not the
	// condition's (a note on a served Service).
	eventReason string
}

// isOurReason reports whether a condition reason is one this controller
// writes; it removes only a condition with one of them.
func isOurReason(reason string) bool {
	switch reason {
	case ReasonPublished, ReasonNoEligibleNodes, ReasonInvalidSetting, ReasonReservedPort,
		ReasonPortConflict, ReasonNameCollision, ReasonQuotaExceeded, ReasonTooManyPorts, ReasonKubeProxyIPVS:
		return true
	}
	return false
}

// writeStatus patches status.loadBalancer and the condition where they
// differ from svc's, and says so in events: a Normal event "old -> new" for
// the addresses, a Warning for a problem the user must fix.
func (c *Controller) writeStatus(ctx context.Context, svc *v1.Service, ingress []v1.LoadBalancerIngress, want *conditionWant, testValue bool) error {
	oldIngress := svc.Status.LoadBalancer.Ingress
	lbChanged := !sameIngress(oldIngress, ingress)
	conds, condChanged := withCondition(svc.Status.Conditions, want, svc.Generation, metav1.Now())
	if !lbChanged && !condChanged {
		return nil
	}
	var ops []patchOp
	if lbChanged {
		if testValue {
			ops = append(ops, patchOp{Op: "test", Path: "/status/loadBalancer", Value: svc.Status.LoadBalancer})
		}
		ops = append(ops, patchOp{Op: "add", Path: "/status/loadBalancer", Value: v1.LoadBalancerStatus{Ingress: ingress}})
	}
	if condChanged {
		ops = append(ops, patchOp{Op: "add", Path: "/status/conditions", Value: conds})
	}
	out, err := c.patch(ctx, svc, ops, "status")
	if err != nil {
		return fmt.Errorf("patch status of service %s: %w", serviceKey(svc), err)
	}
	if lbChanged {
		c.recorder.Eventf(out, v1.EventTypeNormal, ReasonAddressesChange, "Published node addresses: %s -> %s", ingressString(oldIngress), ingressString(ingress))
	}
	if condChanged && want != nil && want.warn {
		c.recorder.Event(out, v1.EventTypeWarning, cmp.Or(want.eventReason, want.cond.Reason), want.cond.Message)
	}
	return nil
}

// setFinalizer adds or removes the controller's finalizer, through the
// status subresource as the service controller does with its own
// finalizer, so the CCM needs no write access to Services themselves.
func (c *Controller) setFinalizer(ctx context.Context, svc *v1.Service, add bool) (*v1.Service, error) {
	fins := slices.DeleteFunc(slices.Clone(svc.Finalizers), func(f string) bool { return f == Finalizer })
	if add {
		fins = append(fins, Finalizer)
	}
	var old any
	if len(svc.Finalizers) > 0 {
		old = svc.Finalizers
	}
	out, err := c.patch(ctx, svc, []patchOp{
		{Op: "test", Path: "/metadata/finalizers", Value: old},
		{Op: "add", Path: "/metadata/finalizers", Value: fins},
	}, "status")
	if err != nil {
		verb := map[bool]string{true: "add", false: "remove"}[add]
		return nil, fmt.Errorf("%s finalizer of service %s: %w", verb, serviceKey(svc), err)
	}
	return out, nil
}

// patch sends ops after tests of the Service's UID and, when known, its
// resourceVersion. (Only a fake API server leaves resourceVersion empty.)
func (c *Controller) patch(ctx context.Context, svc *v1.Service, ops []patchOp, subresource string) (*v1.Service, error) {
	pre := []patchOp{{Op: "test", Path: "/metadata/uid", Value: svc.UID}}
	if svc.ResourceVersion != "" {
		pre = append(pre, patchOp{Op: "test", Path: "/metadata/resourceVersion", Value: svc.ResourceVersion})
	}
	body, err := json.Marshal(append(pre, ops...))
	if err != nil {
		return nil, err
	}
	var subs []string
	if subresource != "" {
		subs = []string{subresource}
	}
	out, err := c.client.CoreV1().Services(svc.Namespace).Patch(ctx, svc.Name, types.JSONPatchType, body, metav1.PatchOptions{}, subs...)
	if err != nil {
		c.forgetWrite(serviceKey(svc))
		return nil, err
	}
	c.rememberWrite(svc, out)
	return out, nil
}

func sameIngress(a, b []v1.LoadBalancerIngress) bool {
	return slices.EqualFunc(a, b, func(x, y v1.LoadBalancerIngress) bool {
		return x.IP == y.IP && x.Hostname == y.Hostname && (x.IPMode == nil) == (y.IPMode == nil) &&
			(x.IPMode == nil || *x.IPMode == *y.IPMode) && equality.Semantic.DeepEqual(x.Ports, y.Ports)
	})
}

// withCondition returns the conditions with want applied, and whether that
// changed anything a reader sees (status, reason, message).
func withCondition(conds []metav1.Condition, want *conditionWant, generation int64, now metav1.Time) ([]metav1.Condition, bool) {
	if want == nil {
		return conds, false
	}
	cur := meta.FindStatusCondition(conds, lbcondition.Type)
	if want.remove {
		if cur == nil || !isOurReason(cur.Reason) {
			return conds, false
		}
		return slices.DeleteFunc(slices.Clone(conds), func(c metav1.Condition) bool { return c.Type == lbcondition.Type }), true
	}
	if cur != nil && cur.Status == want.cond.Status && cur.Reason == want.cond.Reason && cur.Message == want.cond.Message {
		return conds, false
	}
	out := slices.Clone(conds)
	cond := want.cond
	cond.ObservedGeneration = generation
	cond.LastTransitionTime = now
	meta.SetStatusCondition(&out, cond)
	return out, true
}

// writtenService is a Service as this controller last wrote it, kept
// until the informer shows the write, so that a reconcile in between
// neither writes again nor fails its test against a stale copy.
type writtenService struct {
	before writable
	after  *v1.Service
}

// writable are the parts of a Service the controller writes.
type writable struct {
	status     v1.ServiceStatus
	finalizers []string
}

func writableOf(svc *v1.Service) writable {
	return writable{status: *svc.Status.DeepCopy(), finalizers: slices.Clone(svc.Finalizers)}
}

// shallowWritable is for comparing only: it shares svc's slices.
func shallowWritable(svc *v1.Service) writable {
	return writable{status: svc.Status, finalizers: svc.Finalizers}
}

func (w writable) matches(svc *v1.Service) bool {
	return slices.Equal(w.finalizers, svc.Finalizers) &&
		sameIngress(w.status.LoadBalancer.Ingress, svc.Status.LoadBalancer.Ingress) &&
		slices.EqualFunc(w.status.Conditions, svc.Status.Conditions, func(a, b metav1.Condition) bool {
			return a.Type == b.Type && a.Status == b.Status && a.Reason == b.Reason && a.Message == b.Message &&
				a.ObservedGeneration == b.ObservedGeneration && a.LastTransitionTime.Equal(&b.LastTransitionTime)
		})
}

func (c *Controller) rememberWrite(before, after *v1.Service) {
	key := serviceKey(before)
	c.mu.Lock()
	defer c.mu.Unlock()
	base := writableOf(before)
	if w, ok := c.written[key]; ok && shallowWritable(w.after).matches(before) {
		base = w.before // a second write on top of the first
	}
	c.written[key] = writtenService{before: base, after: after.DeepCopy()}
}

func (c *Controller) forgetWrite(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.written, key)
}

// freshest is the informer's Service, or, when the informer still shows it
// as it was before this controller's last write, that write's result.
func (c *Controller) freshest(svc *v1.Service) *v1.Service {
	key := serviceKey(svc)
	c.mu.Lock()
	defer c.mu.Unlock()
	w, ok := c.written[key]
	switch {
	case !ok:
		return svc
	case w.after.UID == svc.UID && shallowWritable(w.after).matches(svc):
		delete(c.written, key) // caught up
		return svc
	case w.after.UID == svc.UID && w.before.matches(svc):
		out := svc.DeepCopy()
		out.ResourceVersion = w.after.ResourceVersion
		out.Status = *w.after.Status.DeepCopy()
		out.Finalizers = slices.Clone(w.after.Finalizers)
		return out
	}
	delete(c.written, key) // someone else wrote since
	return svc
}

// isOwnWrite: the update is this controller's own write, which needs no
// reconcile.
func (c *Controller) isOwnWrite(old, svc *v1.Service) bool {
	key := serviceKey(svc)
	c.mu.Lock()
	w, ok := c.written[key]
	if ok && w.after.UID == svc.UID && shallowWritable(w.after).matches(svc) {
		delete(c.written, key)
	} else {
		ok = false
	}
	c.mu.Unlock()
	return ok && old.UID == svc.UID &&
		equality.Semantic.DeepEqual(old.Spec, svc.Spec) &&
		maps.Equal(old.Annotations, svc.Annotations) &&
		(old.DeletionTimestamp == nil) == (svc.DeletionTimestamp == nil)
}
