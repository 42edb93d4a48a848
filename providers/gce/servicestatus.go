package gce

import (
	"context"
	"encoding/json"
	"errors"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/record"
	"k8s.io/klog/v2"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/providers/gce/annotations"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/providers/gce/computeclient"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/providers/gce/nlb"
)

// ConditionLoadBalancerReady says whether the Service's load balancer is as
// asked; when False, its reason and message say what to change.
const ConditionLoadBalancerReady = "LoadBalancerReady"

// serviceReporter tells users about their Services: a Warning event and a
// LoadBalancerReady=False condition for a problem they must fix, the
// condition back to True once it is fixed. It writes only what changed.
type serviceReporter struct {
	client   kubernetes.Interface
	recorder record.EventRecorder
}

func newServiceReporter(client kubernetes.Interface, stop <-chan struct{}) *serviceReporter {
	b := record.NewBroadcaster()
	b.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: client.CoreV1().Events("")})
	go func() {
		<-stop
		b.Shutdown()
	}()
	return &serviceReporter{client: client, recorder: b.NewRecorder(scheme.Scheme, v1.EventSource{Component: "cloud-provider-vpc"})}
}

// serviceProblem says whether err is the Service's to fix, and how to say it.
func serviceProblem(err error) (reason, message string, ok bool) {
	var se *nlb.ServiceError
	var ae *annotations.Error
	switch {
	case errors.As(err, &se):
		return se.Reason, se.Message, true
	case errors.As(err, &ae):
		return "InvalidServiceSetting", ae.Error(), true
	case computeclient.Classify(err) == computeclient.ClassQuota:
		return "QuotaExceeded", "the project's quota is used up, so the load balancer is incomplete until it is raised or resources are removed: " + err.Error(), true
	}
	return "", "", false
}

// report records the outcome of a reconcile on the Service. Errors that are
// neither the Service's nor the project's quota (the cloud API failing)
// leave the condition alone: the service controller retries and records
// them itself.
func (c *Cloud) report(ctx context.Context, svc *v1.Service, err error) {
	if c.reporter == nil {
		return
	}
	cond := metav1.Condition{Type: ConditionLoadBalancerReady, Status: metav1.ConditionTrue, Reason: "Provisioned",
		Message: "The load balancer is as the Service asks.", ObservedGeneration: svc.Generation}
	if err != nil {
		reason, msg, ok := serviceProblem(err)
		if !ok {
			return
		}
		cond.Status, cond.Reason, cond.Message = metav1.ConditionFalse, reason, msg
		c.reporter.recorder.Event(svc, v1.EventTypeWarning, reason, msg)
		c.reporter.setCondition(ctx, svc, cond)
		return
	}
	// The load balancer is as asked, but the Service's source ranges may
	// leave one of its IP families (or all) closed: say so, once per
	// change, as the condition does.
	note := nlb.SourcesNoteOf(svc)
	switch {
	case note.Blocking:
		cond.Status, cond.Reason, cond.Message = metav1.ConditionFalse, note.Reason, note.Message
	case note.Reason != "":
		cond.Message += " " + note.Message
	}
	if c.reporter.setCondition(ctx, svc, cond) && note.Reason != "" {
		c.reporter.recorder.Event(svc, v1.EventTypeWarning, note.Reason, note.Message)
	}
}

// setCondition writes the condition where it differs from the Service's,
// and reports whether it did.
func (r *serviceReporter) setCondition(ctx context.Context, svc *v1.Service, cond metav1.Condition) bool {
	cur := meta.FindStatusCondition(svc.Status.Conditions, cond.Type)
	if cur != nil && cur.Status == cond.Status && cur.Reason == cond.Reason && cur.Message == cond.Message {
		return false
	}
	cond.LastTransitionTime = metav1.Now()
	if cur != nil && cur.Status == cond.Status {
		cond.LastTransitionTime = cur.LastTransitionTime
	}
	patch, _ := json.Marshal(map[string]any{"status": map[string]any{"conditions": []metav1.Condition{cond}}})
	_, err := r.client.CoreV1().Services(svc.Namespace).Patch(ctx, svc.Name, types.StrategicMergePatchType, patch, metav1.PatchOptions{}, "status")
	if err != nil {
		klog.FromContext(ctx).Error(err, "Cannot set the Service's condition", "service", klog.KObj(svc), "condition", cond.Type)
		return false
	}
	return true
}
