package servicecontroller

import (
	"context"
	"errors"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	cloudprovider "k8s.io/cloud-provider"
	servicehelper "k8s.io/cloud-provider/service/helpers"
	"k8s.io/klog/v2"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/lbcondition"
)

// The controller is the one writer of the LoadBalancerReady condition of
// the Services it implements (the external mode): the provider returns
// what its owner must be told as an lbcondition.Problem, and writes
// nothing. A Service the provider says is implemented elsewhere (nodeip)
// gets its condition from that controller.

// Option changes what New builds.
type Option func(*Controller)

// WithNote gives the controller what a Service whose load balancer is as
// asked is still told (the provider's, for example its source ranges
// leaving an IP family closed). Without it, a built load balancer's
// condition says only that.
func WithNote(note func(*v1.Service) lbcondition.Note) Option {
	return func(c *Controller) { c.note = note }
}

// report is what a reconcile's outcome tells the Service's owner: the
// condition it wants, and a Warning event. keep: the outcome says nothing
// to the owner (the cloud failing, retried), so the condition stays.
type report struct {
	cond metav1.Condition
	// warnReason and warnMessage are the Warning event's ("" for none).
	warnReason, warnMessage string
	// warnOnChange: the event is sent only when the condition changes
	// (a note, told once); a problem's event is sent at each try, as
	// the events API counts repeats.
	warnOnChange bool
	keep         bool
	// remove: the Service no longer wants a load balancer, so the
	// condition goes (whoever wrote it: no controller serves it now).
	remove bool
}

// reportOf is the pure decision: what a reconcile that returned err tells
// the Service, note being what a built load balancer still says.
func reportOf(err error, note lbcondition.Note, generation int64) report {
	r := report{cond: metav1.Condition{Type: lbcondition.Type, Status: metav1.ConditionTrue,
		Reason: lbcondition.ReasonProvisioned, Message: lbcondition.MessageProvisioned, ObservedGeneration: generation}}
	if err != nil {
		reason, message, ok := lbcondition.ProblemOf(err)
		if !ok {
			return report{keep: true}
		}
		r.cond.Status, r.cond.Reason, r.cond.Message = metav1.ConditionFalse, reason, message
		r.warnReason, r.warnMessage = reason, message
		return r
	}
	switch {
	case note.Reason == "":
		return r
	case note.Blocking:
		r.cond.Status, r.cond.Reason, r.cond.Message = metav1.ConditionFalse, note.Reason, note.Message
	default:
		r.cond.Message += " " + note.Message
	}
	r.warnReason, r.warnMessage, r.warnOnChange = note.Reason, note.Message, true
	return r
}

// withCondition returns conds with cond in the place of the condition of
// its type, and whether that changed anything the owner reads (status,
// reason, message). The transition time moves only with the status.
func withCondition(conds []metav1.Condition, cond metav1.Condition, now metav1.Time) ([]metav1.Condition, bool) {
	cur := meta.FindStatusCondition(conds, cond.Type)
	if cur != nil && cur.Status == cond.Status && cur.Reason == cond.Reason && cur.Message == cond.Message {
		return conds, false
	}
	cond.LastTransitionTime = now
	if cur != nil && cur.Status == cond.Status {
		cond.LastTransitionTime = cur.LastTransitionTime
	}
	out := make([]metav1.Condition, 0, len(conds)+1)
	for _, c := range conds {
		if c.Type != cond.Type {
			out = append(out, c)
		}
	}
	return append(out, cond), true
}

// reportFor is the report of a reconcile of svc that returned err, or
// nil when the provider implements the Service elsewhere: that
// controller owns its condition.
func (c *Controller) reportFor(svc *v1.Service, err error) *report {
	if errors.Is(err, cloudprovider.ImplementedElsewhere) {
		return nil
	}
	var note lbcondition.Note
	if err == nil && c.note != nil {
		note = c.note(svc)
	}
	r := reportOf(err, note, svc.Generation)
	return &r
}

// writeStatus patches the Service's status where it differs from what is
// wanted: status.loadBalancer when lb is not nil, the condition when r
// asks for one. It sends r's Warning event, and tells whether the
// condition changed. One patch carries both, so a new load balancer costs
// one status write.
func (c *Controller) writeStatus(ctx context.Context, svc *v1.Service, lb *v1.LoadBalancerStatus, r *report) (bool, error) {
	updated := svc.DeepCopy()
	changed, condChanged := false, false
	if lb != nil && !servicehelper.LoadBalancerStatusEqual(&svc.Status.LoadBalancer, lb) {
		updated.Status.LoadBalancer = *lb
		changed = true
		klog.FromContext(ctx).V(2).Info("Writing the load balancer status", "service", klog.KObj(svc),
			"old", svc.Status.LoadBalancer.Ingress, "new", lb.Ingress)
	}
	switch {
	case r != nil && r.remove:
		condChanged = meta.RemoveStatusCondition(&updated.Status.Conditions, lbcondition.Type)
		changed = changed || condChanged
	case r != nil && !r.keep:
		updated.Status.Conditions, condChanged = withCondition(svc.Status.Conditions, r.cond, metav1.Now())
		changed = changed || condChanged
	}
	if changed {
		if _, err := servicehelper.PatchService(c.client.CoreV1(), svc, updated); err != nil {
			return false, err
		}
	}
	if r != nil && r.warnReason != "" && (condChanged || !r.warnOnChange) {
		c.recorder.Event(svc, v1.EventTypeWarning, r.warnReason, r.warnMessage)
	}
	return condChanged, nil
}
