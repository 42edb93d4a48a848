package servicecontroller

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clienttesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/record"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/lbcondition"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/providers/gce/annotations"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/test/fakegce"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/test/fixture"
)

// ownersProblem is an error the Service's owner must fix.
type ownersProblem struct{ reason, message string }

func (e *ownersProblem) Error() string                    { return e.message }
func (e *ownersProblem) ServiceProblem() (string, string) { return e.reason, e.message }

func TestReportOf(t *testing.T) {
	provisioned := metav1.Condition{Type: lbcondition.Type, Status: metav1.ConditionTrue, Reason: "Provisioned",
		Message: "The load balancer is as the Service asks.", ObservedGeneration: 3}
	for _, tc := range []struct {
		name string
		err  error
		note lbcondition.Note
		want report
	}{
		{name: "a built load balancer with nothing to note is Provisioned", want: report{cond: provisioned}},
		{name: "a problem of the owner's is False with its reason and a Warning at each try",
			err: fmt.Errorf("ensure: %w", &ownersProblem{"ReservedPort", "port 22 is reserved"}),
			want: report{cond: metav1.Condition{Type: lbcondition.Type, Status: metav1.ConditionFalse, Reason: "ReservedPort",
				Message: "port 22 is reserved", ObservedGeneration: 3}, warnReason: "ReservedPort", warnMessage: "port 22 is reserved"}},
		{name: "a quota error is False QuotaExceeded quoting the API",
			err: &lbcondition.QuotaError{Err: errors.New("Quota 'FORWARDING_RULES' exceeded.")},
			want: report{cond: metav1.Condition{Type: lbcondition.Type, Status: metav1.ConditionFalse, Reason: "QuotaExceeded",
				Message:            "the project's quota is used up, so the load balancer is incomplete until it is raised or resources are removed: Quota 'FORWARDING_RULES' exceeded.",
				ObservedGeneration: 3},
				warnReason: "QuotaExceeded", warnMessage: "the project's quota is used up, so the load balancer is incomplete until it is raised or resources are removed: Quota 'FORWARDING_RULES' exceeded."}},
		{name: "the cloud failing leaves the condition as it is", err: errors.New("503 backend error"), want: report{keep: true}},
		{name: "a note adds to the message of a True condition and warns once",
			note: lbcondition.Note{Reason: "IPFamilyClosed", Message: "No IPv6 client may connect."},
			want: report{cond: metav1.Condition{Type: lbcondition.Type, Status: metav1.ConditionTrue, Reason: "Provisioned",
				Message: "The load balancer is as the Service asks. No IPv6 client may connect.", ObservedGeneration: 3},
				warnReason: "IPFamilyClosed", warnMessage: "No IPv6 client may connect.", warnOnChange: true}},
		{name: "a blocking note makes the condition False with its own reason",
			note: lbcondition.Note{Reason: "NoClientSource", Message: "no client may connect", Blocking: true},
			want: report{cond: metav1.Condition{Type: lbcondition.Type, Status: metav1.ConditionFalse, Reason: "NoClientSource",
				Message: "no client may connect", ObservedGeneration: 3}, warnReason: "NoClientSource", warnMessage: "no client may connect", warnOnChange: true}},
		{name: "a failed reconcile says nothing of a note", err: errors.New("503"), note: lbcondition.Note{Reason: "NoClientSource", Blocking: true},
			want: report{keep: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, reportOf(tc.err, tc.note, 3), cmp.AllowUnexported(report{})); diff != "" {
				t.Errorf("reportOf (-want +got):\n%s", diff)
			}
		})
	}
}

func TestWithCondition(t *testing.T) {
	then, now := metav1.NewTime(time.Unix(100, 0)), metav1.NewTime(time.Unix(200, 0))
	other := metav1.Condition{Type: "Other", Status: metav1.ConditionTrue, Reason: "R", LastTransitionTime: then}
	trueCond := metav1.Condition{Type: lbcondition.Type, Status: metav1.ConditionTrue, Reason: "Provisioned", Message: "m", LastTransitionTime: then}
	for _, tc := range []struct {
		name        string
		conds       []metav1.Condition
		cond        metav1.Condition
		want        []metav1.Condition
		wantChanged bool
	}{
		{name: "a first condition is added beside the others, transitioning now",
			conds: []metav1.Condition{other}, cond: metav1.Condition{Type: lbcondition.Type, Status: metav1.ConditionTrue, Reason: "Provisioned", Message: "m"},
			want: []metav1.Condition{other, {Type: lbcondition.Type, Status: metav1.ConditionTrue, Reason: "Provisioned", Message: "m", LastTransitionTime: now}}, wantChanged: true},
		{name: "the same status, reason and message is no change, whatever the generation",
			conds: []metav1.Condition{trueCond}, cond: metav1.Condition{Type: lbcondition.Type, Status: metav1.ConditionTrue, Reason: "Provisioned", Message: "m", ObservedGeneration: 9},
			want: []metav1.Condition{trueCond}},
		{name: "a new message keeps the transition time of the same status",
			conds: []metav1.Condition{trueCond}, cond: metav1.Condition{Type: lbcondition.Type, Status: metav1.ConditionTrue, Reason: "Provisioned", Message: "m2"},
			want: []metav1.Condition{{Type: lbcondition.Type, Status: metav1.ConditionTrue, Reason: "Provisioned", Message: "m2", LastTransitionTime: then}}, wantChanged: true},
		{name: "a new status transitions now",
			conds: []metav1.Condition{trueCond, other}, cond: metav1.Condition{Type: lbcondition.Type, Status: metav1.ConditionFalse, Reason: "X", Message: "y"},
			want: []metav1.Condition{other, {Type: lbcondition.Type, Status: metav1.ConditionFalse, Reason: "X", Message: "y", LastTransitionTime: now}}, wantChanged: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, changed := withCondition(tc.conds, tc.cond, now)
			if changed != tc.wantChanged {
				t.Errorf("changed = %v, want %v", changed, tc.wantChanged)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("conditions (-want +got):\n%s", diff)
			}
		})
	}
}

// statusPatches counts the controller's writes of Services' status since
// the last ClearActions.
func (h *harness) statusPatches() int {
	n := 0
	for _, a := range h.client.Actions() {
		if a.GetVerb() == "patch" && a.GetResource().Resource == "services" && a.GetSubresource() == "status" {
			n++
		}
	}
	return n
}

// condition is the Service's LoadBalancerReady condition.
func (h *harness) condition(name string) *metav1.Condition {
	s, err := h.service(name)
	if err != nil {
		h.t.Fatal(err)
	}
	return meta.FindStatusCondition(s.Status.Conditions, lbcondition.Type)
}

// waitCondition waits for the Service's condition to have this status and
// reason.
func (h *harness) waitCondition(name string, status metav1.ConditionStatus, reason string) *metav1.Condition {
	h.t.Helper()
	var c *metav1.Condition
	h.eventually(fmt.Sprintf("LoadBalancerReady=%s %s", status, reason), func() string {
		if c = h.condition(name); c == nil || c.Status != status || c.Reason != reason {
			return fmt.Sprintf("condition %+v", c)
		}
		return ""
	})
	return c
}

// resync does what the informer's periodic resync does (serviceUpdated
// with one resource version; the fake clientset keeps none): a full
// ensure of the unchanged Service.
func (h *harness) resync(name string) {
	h.t.Helper()
	h.ctrl.markStale("default/" + name)
	h.ctrl.queue.Add("default/" + name)
}

func TestABuiltLoadBalancerIsProvisionedInTheSameWriteAsItsAddressAndAResyncWritesNothing(t *testing.T) {
	h := startHarness(t, 1, newService("web"))
	h.waitReady("web")
	h.processed()
	c := h.condition("web")
	if c == nil || c.Status != metav1.ConditionTrue || c.Reason != lbcondition.ReasonProvisioned || c.Message != lbcondition.MessageProvisioned {
		t.Fatalf("condition with the address = %+v, want True Provisioned", c)
	}
	// The address and the condition are written together.
	for _, a := range h.client.Actions() {
		if p, ok := a.(clienttesting.PatchAction); ok && a.GetSubresource() == "status" && strings.Contains(string(p.GetPatch()), "ingress") &&
			!strings.Contains(string(p.GetPatch()), lbcondition.Type) {
			t.Errorf("the address was written without the condition: %s", p.GetPatch())
		}
	}
	h.client.ClearActions()
	h.cloud.Server.ResetCalls()
	h.resync("web")
	h.processed()
	if len(h.cloud.Server.Calls()) == 0 {
		t.Fatal("the resync ensured nothing")
	}
	if n := h.statusPatches(); n != 0 {
		t.Errorf("a resync with nothing changed wrote the status %d times, want 0", n)
	}
}

func TestABadSettingIsAWarningAndAFalseConditionWrittenOnce(t *testing.T) {
	h := startHarness(t, 1, newService("web", fixture.Annotation(annotations.NetworkTier, "Gold")))
	want := `cloud.google.com/network-tier: "Gold" is not a network tier: use Premium or Standard`
	c := h.waitCondition("web", metav1.ConditionFalse, "InvalidServiceSetting")
	if c.Message != want {
		t.Errorf("message %q, want %q", c.Message, want)
	}
	h.eventually("a Warning event", func() string {
		if h.warnings("InvalidServiceSetting", want) == 0 {
			return "none"
		}
		return ""
	})
	// The retry (a change queues at once, the backoff aside) tells
	// again in an event the events API counts, and writes no condition.
	h.processedButRetries()
	before := h.warnings("InvalidServiceSetting", want)
	h.client.ClearActions()
	svc, _ := h.service("web")
	svc.Labels = map[string]string{"try": "again"}
	svc.Annotations["example.com/unrelated"] = "x"
	if _, err := h.client.CoreV1().Services("default").Update(context.Background(), svc, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	h.processedButRetries()
	if n := h.statusPatches(); n != 0 {
		t.Errorf("the same problem again wrote the status %d times, want 0", n)
	}
	h.eventually("a second Warning event", func() string {
		if n := h.warnings("InvalidServiceSetting", want); n != before+1 {
			return fmt.Sprintf("%d Warning events after the retry, want %d", n, before+1)
		}
		return ""
	})
	// Fixed: True, no new Warning.
	svc, _ = h.service("web")
	svc.Annotations[annotations.NetworkTier] = "Premium"
	if _, err := h.client.CoreV1().Services("default").Update(context.Background(), svc, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	h.waitCondition("web", metav1.ConditionTrue, lbcondition.ReasonProvisioned)
}

func TestAQuotaErrorIsAFalseConditionUntilTheLoadBalancerIsBuilt(t *testing.T) {
	h := startHarnessWith(t, harnessOptions{faults: []fakegce.FaultRule{{Method: "compute.forwardingRules.insert", Code: 403, Reason: "quotaExceeded",
		Message: "Quota 'FORWARDING_RULES' exceeded.  Limit: 15.0 globally.", Count: 1}}}, 1, newService("web"))
	c := h.waitCondition("web", metav1.ConditionFalse, lbcondition.ReasonQuotaExceeded)
	if !strings.Contains(c.Message, "Quota 'FORWARDING_RULES' exceeded") {
		t.Errorf("message %q does not quote the API", c.Message)
	}
	h.eventually("a QuotaExceeded Warning event", func() string {
		if h.warnings(lbcondition.ReasonQuotaExceeded, c.Message) == 0 {
			return "none"
		}
		return ""
	})
	// The next try (a change queues at once, the backoff aside) builds it.
	svc, _ := h.service("web")
	svc.Labels = map[string]string{"try": "again"}
	if _, err := h.client.CoreV1().Services("default").Update(context.Background(), svc, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	h.waitCondition("web", metav1.ConditionTrue, lbcondition.ReasonProvisioned)
}

func TestSourceRangesThatLetNoClientInAreSaidOnce(t *testing.T) {
	rec := &countingRecorder{}
	h := startHarnessWith(t, harnessOptions{beforeRun: func(c *Controller) {
		rec.EventRecorder = c.recorder
		c.recorder = rec
	}}, 1, newService("web", fixture.SourceRanges("2001:db8::/32")))
	h.waitReady("web")
	c := h.waitCondition("web", metav1.ConditionFalse, "NoClientSource")
	if !strings.Contains(c.Message, "no client may connect") {
		t.Errorf("message %q", c.Message)
	}
	h.processed()
	// Usually one; two when the ensure after the finalizer's patch read
	// the Service before the cache had its status (it then writes both
	// again, as it does an address).
	before := rec.count("NoClientSource")
	if before == 0 {
		t.Fatal("no NoClientSource Warning event")
	}
	// The same answer again: no new condition, no new event.
	h.client.ClearActions()
	h.resync("web")
	h.processed()
	if n := h.statusPatches(); n != 0 {
		t.Errorf("the unchanged note wrote the status %d times", n)
	}
	if n := rec.count("NoClientSource"); n != before {
		t.Errorf("%d NoClientSource Warnings after a resync, want still %d", n, before)
	}
	// An IPv4 range: True again, with no note.
	svc, _ := h.service("web")
	svc.Spec.LoadBalancerSourceRanges = []string{"198.51.100.0/24"}
	if _, err := h.client.CoreV1().Services("default").Update(context.Background(), svc, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if c := h.waitCondition("web", metav1.ConditionTrue, lbcondition.ReasonProvisioned); c.Message != lbcondition.MessageProvisioned {
		t.Errorf("message %q, want %q", c.Message, lbcondition.MessageProvisioned)
	}
}

// The nodeip controller writes the condition of a Service in nodeip mode;
// this controller, which the provider answers ImplementedElsewhere, writes
// none.
func TestAServiceImplementedElsewhereGetsNoConditionFromThisController(t *testing.T) {
	h := startHarness(t, 1, newService("web", fixture.Annotation(annotations.Mode, annotations.ModeNodeIP)))
	h.eventually("the finalizer", func() string {
		s, _ := h.service("web")
		if len(s.Finalizers) == 0 {
			return "none yet"
		}
		return ""
	})
	h.processed()
	if c := h.condition("web"); c != nil {
		t.Errorf("condition %+v, want none", c)
	}
}

// warnings counts the Warning events of this reason and message, however
// many times each was repeated.
func (h *harness) warnings(reason, message string) int {
	list, _ := h.client.CoreV1().Events("").List(context.Background(), metav1.ListOptions{})
	n := 0
	for _, e := range list.Items {
		if e.Type == v1.EventTypeWarning && e.Reason == reason && e.Message == message {
			n += int(max(e.Count, 1))
		}
	}
	return n
}

// countingRecorder counts the events the controller sends, by reason, as
// it sends them (the events API sees them later).
type countingRecorder struct {
	record.EventRecorder
	mu      sync.Mutex
	reasons map[string]int
}

func (r *countingRecorder) Event(obj runtime.Object, eventtype, reason, message string) {
	r.mu.Lock()
	if r.reasons == nil {
		r.reasons = map[string]int{}
	}
	r.reasons[reason]++
	r.mu.Unlock()
	r.EventRecorder.Event(obj, eventtype, reason, message)
}

func (r *countingRecorder) count(reason string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.reasons[reason]
}

func TestAServiceThatNoLongerWantsALoadBalancerLosesItsCondition(t *testing.T) {
	h := startHarness(t, 1, newService("web"))
	h.waitReady("web")
	h.waitCondition("web", metav1.ConditionTrue, lbcondition.ReasonProvisioned)
	svc, err := h.service("web")
	if err != nil {
		t.Fatal(err)
	}
	svc = svc.DeepCopy()
	svc.Spec.Type = v1.ServiceTypeClusterIP
	if _, err := h.client.CoreV1().Services(svc.Namespace).Update(context.Background(), svc, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	h.eventually("no LoadBalancerReady condition", func() string {
		if c := h.condition("web"); c != nil {
			return fmt.Sprintf("condition %+v", c)
		}
		return ""
	})
}
