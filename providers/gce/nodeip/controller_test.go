package nodeip

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/api/compute/v1"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/component-base/metrics/testutil"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/firewall"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/lbcondition"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/ownership"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/providers/gce/annotations"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/test/fakegce"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/test/fixture"
)

var abc = []string{"10.0.0.1", "10.0.0.2", "10.0.0.3"}

func TestAServiceGetsTheReadyNodesAndAFirewallRule(t *testing.T) {
	svc := newService("web", withPorts(80, 443))
	h := startHarness(t, objects(threeNodes(), []runtime.Object{svc}))
	h.waitFor(svc, abc, abc)

	got := h.service("web")
	for _, e := range got.Status.LoadBalancer.Ingress {
		if e.IPMode == nil || *e.IPMode != v1.LoadBalancerIPModeVIP {
			t.Errorf("ingress %s: ipMode %v, want VIP", e.IP, e.IPMode)
		}
	}
	if c := h.condition("web"); c == nil || c.Status != metav1.ConditionTrue || c.Reason != ReasonPublished {
		t.Errorf("condition = %+v, want True/%s", c, ReasonPublished)
	}
	fw := h.rule(svc)
	if !slices.Equal(fw.SourceRanges, []string{"0.0.0.0/0"}) || !slices.Equal(fw.TargetTags, []string{"k8s-node"}) ||
		len(fw.Allowed) != 1 || fw.Allowed[0].IPProtocol != "tcp" || !slices.Equal(fw.Allowed[0].Ports, []string{"80", "443"}) {
		t.Errorf("rule = sources %v, targets %v, allowed %+v; want 0.0.0.0/0 to k8s-node on tcp 80 and 443", fw.SourceRanges, fw.TargetTags, fw.Allowed[0])
	}
	h.waitForEvent("web", v1.EventTypeNormal, ReasonAddressesChange, "none -> 10.0.0.1, 10.0.0.2, 10.0.0.3")
	for _, queue := range []string{"status", "firewall"} {
		if n, err := testutil.GetHistogramMetricCount(syncDuration.WithLabelValues(queue, "success")); err != nil || n == 0 {
			t.Errorf("cloudprovider_vpc_nodeip_sync_duration_seconds{queue=%q} has %d samples (%v), want some", queue, n, err)
		}
	}
}

func TestANodeThatTurnsNotReadyIsUnpublishedAndComesBack(t *testing.T) {
	svc := newService("web")
	var violations func() []string
	h := startHarness(t, objects(threeNodes(), []runtime.Object{svc}), beforeStart(func(h *harness) { violations = h.checkFirewallOrder() }))
	h.waitFor(svc, abc, abc)

	h.updateNode("b", func(n *v1.Node) { n.Status.Conditions[0].Status = v1.ConditionFalse })
	h.waitFor(svc, []string{"10.0.0.1", "10.0.0.3"}, []string{"10.0.0.1", "10.0.0.3"})
	h.waitForEvent("web", v1.EventTypeNormal, ReasonAddressesChange, "10.0.0.1, 10.0.0.2, 10.0.0.3 -> 10.0.0.1, 10.0.0.3")

	h.updateNode("b", func(n *v1.Node) { n.Status.Conditions[0].Status = v1.ConditionTrue })
	h.waitFor(svc, abc, abc)
	for _, v := range violations() {
		t.Error(v)
	}
}

func TestADeletedNodeIsUnpublished(t *testing.T) {
	svc := newService("web")
	h := startHarness(t, objects(threeNodes(), []runtime.Object{svc}))
	h.waitFor(svc, abc, abc)
	if err := h.client.CoreV1().Nodes().Delete(h.ctx, "c", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	h.waitFor(svc, []string{"10.0.0.1", "10.0.0.2"}, []string{"10.0.0.1", "10.0.0.2"})
}

func TestANodeExcludedByLabelOrTaintIsUnpublished(t *testing.T) {
	svc := newService("web")
	h := startHarness(t, objects(threeNodes(), []runtime.Object{svc}))
	h.waitFor(svc, abc, abc)
	h.updateNode("a", func(n *v1.Node) { n.Labels[v1.LabelNodeExcludeBalancers] = "true" })
	h.updateNode("c", func(n *v1.Node) {
		n.Spec.Taints = append(n.Spec.Taints, v1.Taint{Key: "ToBeDeletedByClusterAutoscaler", Effect: v1.TaintEffectNoSchedule})
	})
	h.waitFor(svc, []string{"10.0.0.2"}, []string{"10.0.0.2"})
}

func TestLocalTrafficPolicyFollowsReadyEndpoints(t *testing.T) {
	svc := newService("web", fixture.TrafficPolicy(v1.ServiceExternalTrafficPolicyLocal))
	slice := endpointSlice("web", "web-1", map[string]bool{"a": true, "b": false})
	var violations func() []string
	h := startHarness(t, objects(threeNodes(), []runtime.Object{svc, slice}), beforeStart(func(h *harness) { violations = h.checkFirewallOrder() }))
	defer func() {
		for _, v := range violations() {
			t.Error(v)
		}
	}()
	h.waitFor(svc, []string{"10.0.0.1"}, []string{"10.0.0.1"})

	slice = endpointSlice("web", "web-1", map[string]bool{"a": false, "b": true, "c": true})
	if _, err := h.client.DiscoveryV1().EndpointSlices("default").Update(h.ctx, slice, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	h.waitFor(svc, []string{"10.0.0.2", "10.0.0.3"}, []string{"10.0.0.2", "10.0.0.3"})

	if err := h.client.DiscoveryV1().EndpointSlices("default").Delete(h.ctx, "web-1", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	h.waitFor(svc, nil, nil)
	h.eventually("the condition says no node hosts an endpoint", func() (bool, string) {
		c := h.condition("web")
		return c != nil && c.Reason == ReasonNoEligibleNodes && c.Status == metav1.ConditionFalse, fmt.Sprintf("%+v", c)
	})
}

func TestAPortConflictGoesToTheOlderServiceAndTheNewerRecovers(t *testing.T) {
	old := newService("old")
	newer := newService("newer", createdAt(60e9), withPorts(80, 8080))
	h := startHarness(t, objects(threeNodes(), []runtime.Object{old, newer}))
	h.waitFor(old, abc, abc)
	h.eventually("the newer Service reports the conflict, naming the older", func() (bool, string) {
		c := h.condition("newer")
		return c != nil && c.Status == metav1.ConditionFalse && c.Reason == ReasonPortConflict &&
			containsAll(c.Message, "TCP/80", "default/old"), fmt.Sprintf("%+v", c)
	})
	h.waitForEvent("newer", v1.EventTypeWarning, ReasonPortConflict, "by Service default/old")
	h.processed()
	if got := h.ingress("newer"); len(got) != 0 {
		t.Errorf("the newer Service publishes %v, want nothing", got)
	}
	if fw := h.rule(newer); fw != nil {
		t.Errorf("the newer Service has a firewall rule %s, want none", fw.Name)
	}

	if err := h.client.CoreV1().Services("default").Delete(h.ctx, "old", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	h.waitFor(newer, abc, abc)
	h.eventually("the deleted Service's rule is gone", func() (bool, string) { return h.rule(old) == nil, "still there" })
	if c := h.condition("newer"); c == nil || c.Status != metav1.ConditionTrue {
		t.Errorf("condition after recovery = %+v, want True", c)
	}
}

func TestAReservedPortIsRefused(t *testing.T) {
	svc := newService("ssh", withPorts(22))
	ok := newService("web")
	h := startHarness(t, objects(threeNodes(), []runtime.Object{svc, ok}))
	h.waitFor(ok, abc, abc) // the controller is working
	h.eventually("the condition names the reserved port", func() (bool, string) {
		c := h.condition("ssh")
		return c != nil && c.Status == metav1.ConditionFalse && c.Reason == ReasonReservedPort && containsAll(c.Message, "TCP/22"), fmt.Sprintf("%+v", c)
	})
	h.waitForEvent("ssh", v1.EventTypeWarning, ReasonReservedPort, "port TCP/22 is reserved")
	h.processed()
	if got := h.ingress("ssh"); len(got) != 0 {
		t.Errorf("publishes %v, want nothing", got)
	}
	if fw := h.rule(svc); fw != nil {
		t.Errorf("a firewall rule %s exists, want none", fw.Name)
	}
}

func TestSwitchingToExternalModeTakesBackTheAddressesAndTheRule(t *testing.T) {
	svc := newService("web")
	h := startHarness(t, objects(threeNodes(), []runtime.Object{svc}))
	h.waitFor(svc, abc, abc)
	h.updateService("web", func(s *v1.Service) { s.Annotations[annotations.Mode] = annotations.ModeExternal })
	h.waitFor(svc, nil, nil)
}

func TestTakingBackAddressesKeepsTheExternalLoadBalancers(t *testing.T) {
	svc := newService("web")
	h := startHarness(t, objects(threeNodes(), []runtime.Object{svc}))
	h.waitFor(svc, abc, abc)
	// The switch and the upstream controller's write of the external
	// load balancer's address land before the nodeip controller looks.
	h.updateService("web", func(s *v1.Service) {
		s.Annotations[annotations.Mode] = annotations.ModeExternal
		s.Status.LoadBalancer.Ingress = append(s.Status.LoadBalancer.Ingress, v1.LoadBalancerIngress{IP: "198.51.100.7"})
	})
	h.waitFor(svc, []string{"198.51.100.7"}, nil)
}

func TestAServiceThatStopsBeingALoadBalancerIsCleanedUp(t *testing.T) {
	svc := newService("web")
	h := startHarness(t, objects(threeNodes(), []runtime.Object{svc}))
	h.waitFor(svc, abc, abc)
	h.updateService("web", func(s *v1.Service) { s.Spec.Type = v1.ServiceTypeClusterIP })
	h.waitFor(svc, nil, nil)
	h.eventually("the LoadBalancerReady condition is removed", func() (bool, string) {
		c := h.condition("web")
		return c == nil, fmt.Sprintf("%+v", c)
	})
}

func TestAClassServiceKeepsAFinalizerUntilItsRuleIsGone(t *testing.T) {
	svc := newService("web", nodeIPClass())
	h := startHarness(t, objects(threeNodes(), []runtime.Object{svc}))
	h.waitFor(svc, abc, abc)
	if !slices.Contains(h.service("web").Finalizers, Finalizer) {
		t.Fatalf("finalizers = %v, want %s", h.service("web").Finalizers, Finalizer)
	}
	// What the API server does on delete when a finalizer is present.
	h.updateService("web", func(s *v1.Service) {
		now := metav1.Now()
		s.DeletionTimestamp = &now
	})
	h.eventually("the finalizer is removed", func() (bool, string) {
		f := h.service("web").Finalizers
		return !slices.Contains(f, Finalizer), fmt.Sprint(f)
	})
	if fw := h.rule(svc); fw != nil {
		t.Errorf("the finalizer went before the rule %s", fw.Name)
	}
}

func TestADeletedServiceLosesItsRule(t *testing.T) {
	svc := newService("web")
	other := newService("api", withPorts(8080))
	h := startHarness(t, objects(threeNodes(), []runtime.Object{svc, other}))
	h.waitFor(svc, abc, abc)
	h.waitFor(other, abc, abc)
	if err := h.client.CoreV1().Services("default").Delete(h.ctx, "web", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	h.eventually("the deleted Service's rule is gone", func() (bool, string) { return h.rule(svc) == nil, "still there" })
	h.processed()
	if h.rule(other) == nil {
		t.Errorf("the other Service's rule went too")
	}
}

func TestExternalIPsArePublishedWithTheInternalOnesInTheRule(t *testing.T) {
	svc := newService("web", fixture.Annotation(annotations.NodeAddressType, "ExternalIP"))
	h := startHarness(t, objects(threeNodes(), []runtime.Object{svc}))
	h.waitFor(svc, []string{"203.0.113.1", "203.0.113.2", "203.0.113.3"}, abc)
}

func TestTheAddressCapPublishesAStableSubset(t *testing.T) {
	svc := newService("web", fixture.Annotation(annotations.MaxAddresses, "2"))
	var nodes []runtime.Object
	for i := range 6 {
		nodes = append(nodes, newNode(fmt.Sprintf("n%d", i), fixture.InternalIP(fmt.Sprintf("10.0.1.%d", i+1))))
	}
	h := startHarness(t, objects(nodes, []runtime.Object{svc}))
	var first []string
	h.eventually("two addresses are published", func() (bool, string) {
		first = h.ingress("web")
		return len(first) == 2, fmt.Sprint(first)
	})
	// Unrelated nodes leave: every node not chosen goes NotReady.
	for i := range 6 {
		ip := fmt.Sprintf("10.0.1.%d", i+1)
		if !slices.Contains(first, ip) {
			h.updateNode(fmt.Sprintf("n%d", i), func(n *v1.Node) { n.Status.Conditions[0].Status = v1.ConditionFalse })
		}
	}
	h.create(newNode("n9", fixture.InternalIP("10.0.1.99")))
	// The answer may not change at all: wait until the controller has
	// handled the new node and finished what it caused, then look.
	h.processed()
	if _, err := h.ctrl.nodes.Get("n9"); err != nil {
		t.Fatalf("the controller has not seen node n9: %v", err)
	}
	if got := h.ingress("web"); !slices.Equal(got, first) {
		t.Errorf("after node n9 joined, web publishes %v, want the same subset %v", got, first)
	}
	var got []string
	if fw := h.rule(svc); fw != nil {
		for _, r := range fw.DestinationRanges {
			got = append(got, strings.TrimSuffix(r, "/32"))
		}
	}
	if !slices.Equal(got, first) {
		t.Errorf("after node n9 joined, the rule opens to %v, want the same subset %v", got, first)
	}
}

func TestNothingIsWrittenWhenNothingChanged(t *testing.T) {
	svc := newService("web")
	h := startHarness(t, objects(threeNodes(), []runtime.Object{svc}))
	h.waitFor(svc, abc, abc)
	h.eventually("the condition is set", func() (bool, string) { c := h.condition("web"); return c != nil, "none" })
	h.processed()
	writes := h.statusWrites()
	h.cloud.Server.ResetCalls()

	// A heartbeat, and a change that makes every Service be looked at again
	// without changing any answer.
	h.updateNode("a", func(n *v1.Node) { n.Status.Conditions[0].LastHeartbeatTime = metav1.Now() })
	h.updateNode("b", func(n *v1.Node) { n.Labels["unrelated"] = "x" })
	h.updateNode("c", func(n *v1.Node) { n.Status.Conditions[0].Status = v1.ConditionFalse })
	h.waitFor(svc, []string{"10.0.0.1", "10.0.0.2"}, []string{"10.0.0.1", "10.0.0.2"})
	h.processed()
	if got := h.statusWrites() - writes; got != 1 {
		t.Errorf("%d status writes, want 1 (for node c only)", got)
	}
	if got := h.firewallWrites(); got != 1 {
		t.Errorf("%d firewall writes, want 1 (the patch for node c)", got)
	}
}

// A node change looks at every served Service again; each one whose answer
// changed gets one status write and one firewall write, the others none,
// and nothing follows once the controller is done.
func TestANodeChangeWritesEachAffectedServiceOnceAndNoOther(t *testing.T) {
	nodes := objects(threeNodes(), []runtime.Object{newNode("d", fixture.InternalIP("10.0.0.4"))})
	var svcs []runtime.Object
	affected := map[string]int{}
	for i := range 6 {
		// Cluster Services publish every node: d going NotReady changes them.
		name := fmt.Sprintf("cluster-%d", i)
		svcs = append(svcs, newService(name, withPorts(int32(8000+i))))
		affected[name] = 1
	}
	for i := range 6 {
		// Local Services publish the nodes of their ready endpoints: half
		// of them have one on d.
		name := fmt.Sprintf("local-%d", i)
		ready := map[string]bool{"a": true, "b": true}
		if i%2 == 0 {
			ready["d"] = true
			affected[name] = 1
		}
		svcs = append(svcs, newService(name, withPorts(int32(9000+i)), fixture.TrafficPolicy(v1.ServiceExternalTrafficPolicyLocal)), endpointSlice(name, name+"-1", ready))
	}
	h := startHarness(t, objects(nodes, svcs))
	for _, o := range svcs {
		if svc, ok := o.(*v1.Service); ok {
			want := []string{"10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4"}
			if svc.Spec.ExternalTrafficPolicy == v1.ServiceExternalTrafficPolicyLocal {
				want = []string{"10.0.0.1", "10.0.0.2"}
				if affected[svc.Name] == 1 {
					want = append(want, "10.0.0.4")
				}
			}
			h.waitFor(svc, want, want)
		}
	}
	h.processed()
	h.client.ClearActions()
	h.cloud.Server.ResetCalls()

	h.updateNode("d", func(n *v1.Node) { n.Status.Conditions[0].Status = v1.ConditionFalse })
	for _, o := range svcs {
		if svc, ok := o.(*v1.Service); ok && affected[svc.Name] == 1 {
			want := []string{"10.0.0.1", "10.0.0.2", "10.0.0.3"}
			if svc.Spec.ExternalTrafficPolicy == v1.ServiceExternalTrafficPolicyLocal {
				want = []string{"10.0.0.1", "10.0.0.2"}
			}
			h.waitFor(svc, want, want)
		}
	}
	h.processed()
	if diff := cmp.Diff(affected, h.statusWritesByService()); diff != "" {
		t.Errorf("status writes by Service (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(affected, h.firewallWritesByService(svcs)); diff != "" {
		t.Errorf("firewall writes by Service (-want +got):\n%s", diff)
	}
}

// statusWritesByService counts the Service status patches since the
// actions were last cleared, by Service name.
func (h *harness) statusWritesByService() map[string]int {
	out := map[string]int{}
	for _, a := range h.client.Actions() {
		if p, ok := a.(k8stesting.PatchAction); ok && a.GetResource().Resource == "services" && a.GetSubresource() == "status" {
			out[p.GetName()]++
		}
	}
	return out
}

// firewallWritesByService counts the mutating calls on each Service's
// firewall rules since the call log was last reset, by Service name; a
// write to a rule of none of svcs counts under its rule's name.
func (h *harness) firewallWritesByService(svcs []runtime.Object) map[string]int {
	owner := map[string]string{}
	for _, o := range svcs {
		if svc, ok := o.(*v1.Service); ok {
			for _, name := range testRuleNames(string(svc.UID)).all() {
				owner[name] = svc.Name
			}
		}
	}
	out := map[string]int{}
	for _, c := range h.cloud.Server.Calls() {
		if !strings.HasPrefix(c.API, "compute.firewalls.") || c.Method == http.MethodGet {
			continue
		}
		// An insert names its rule in the body, not the path.
		rule := "(insert)"
		if c.API != "compute.firewalls.insert" {
			rule = c.Path[strings.LastIndex(c.Path, "/")+1:]
		}
		if name, ok := owner[rule]; ok {
			rule = name
		}
		out[rule]++
	}
	return out
}

func TestARuleChangedByHandIsPutBackOnResync(t *testing.T) {
	svc := newService("web")
	h := startHarness(t, objects(threeNodes(), []runtime.Object{svc}))
	h.waitFor(svc, abc, abc)
	fw := h.rule(svc)
	op, err := h.cloud.Compute.Firewalls.Patch(h.cloud.Project, fw.Name, &compute.Firewall{SourceRanges: []string{"10.9.9.9/32"}}).Do()
	if err == nil {
		_, err = h.cloud.WaitOperation(context.Background(), op)
	}
	if err != nil {
		t.Fatal(err)
	}
	h.ctrl.resync(h.ctx)
	h.eventually("the rule is put back", func() (bool, string) {
		got := h.rule(svc).SourceRanges
		return slices.Equal(got, []string{"0.0.0.0/0"}), fmt.Sprint(got)
	})
}

func TestAForeignRuleOfTheSameNameIsNeverTouched(t *testing.T) {
	svc := newService("web")
	foreign := &compute.Firewall{Name: testFirewallName(string(svc.UID)), Network: "global/networks/default", Description: "opened by hand",
		Allowed: []*compute.FirewallAllowed{{IPProtocol: "tcp", Ports: []string{"9999"}}}}
	h := startHarness(t, objects(threeNodes()))
	op, err := h.cloud.Compute.Firewalls.Insert(h.cloud.Project, foreign).Do()
	if err == nil {
		_, err = h.cloud.WaitOperation(context.Background(), op)
	}
	if err != nil {
		t.Fatal(err)
	}
	h.create(svc)
	h.eventually("the condition reports the name collision", func() (bool, string) {
		c := h.condition("web")
		return c != nil && c.Reason == ReasonNameCollision, fmt.Sprintf("%+v", c)
	})
	// The controller retries, with a backoff, for as long as the rule is
	// in the way; wait for a retry to fail too, then for the rest.
	key := firewallKey{Service: "default/web", UID: string(svc.UID)}
	h.eventually("the firewall sync is retried", func() (bool, string) {
		n := h.ctrl.firewallQueue.NumRequeues(key)
		return n >= 2, fmt.Sprint(n, " requeues")
	})
	h.processedButRetries()
	if got := h.ingress("web"); len(got) != 0 {
		t.Errorf("publishes %v behind a rule it does not own", got)
	}
	if fw := h.rule(svc); fw.Description != "opened by hand" || fw.Allowed[0].Ports[0] != "9999" {
		t.Errorf("the foreign rule changed: %+v", fw)
	}
}

func TestServicesOfAnotherModeOrClassAreNotTouched(t *testing.T) {
	class := "example.com/lb"
	ext := newService("ext", fixture.WithoutAnnotation(annotations.Mode))
	ext.Status.LoadBalancer.Ingress = []v1.LoadBalancerIngress{{IP: "10.0.0.1"}} // even a node's address
	other := newService("other", fixture.WithoutAnnotation(annotations.Mode), func(s *v1.Service) { s.Spec.LoadBalancerClass = &class })
	svc := newService("web")
	h := startHarness(t, objects(threeNodes(), []runtime.Object{ext, other, svc}))
	h.waitFor(svc, abc, abc)
	h.processed()
	for _, a := range h.client.Actions() {
		if pa, ok := a.(interface{ GetName() string }); ok && a.GetVerb() == "patch" && pa.GetName() != "web" {
			t.Errorf("patched %s", pa.GetName())
		}
	}
	if got := h.ingress("ext"); !slices.Equal(got, []string{"10.0.0.1"}) {
		t.Errorf("the external Service's status changed to %v", got)
	}
}

func containsAll(s string, parts ...string) bool {
	for _, p := range parts {
		if !strings.Contains(s, p) {
			return false
		}
	}
	return true
}

func TestARestartWithoutTheCloudsListNeverUnpublishes(t *testing.T) {
	svc := newService("web")
	h := startHarness(t, objects(threeNodes(), []runtime.Object{svc}))
	h.waitFor(svc, abc, abc)
	if err := h.cloud.Server.SetFaults([]fakegce.FaultRule{{Method: "compute.firewalls.list", Code: 503, Reason: "backendError"}}); err != nil {
		t.Fatal(err)
	}
	h.client.ClearActions()
	h.restart()
	h.updateNode("c", func(n *v1.Node) { n.Status.Conditions[0].Status = v1.ConditionFalse })
	h.waitFor(svc, []string{"10.0.0.1", "10.0.0.2"}, []string{"10.0.0.1", "10.0.0.2"})
	h.processed()
	for _, a := range h.client.Actions() {
		p, ok := a.(k8stesting.PatchAction)
		if !ok || a.GetSubresource() != "status" {
			continue
		}
		var ops []patchOp
		if err := json.Unmarshal(p.GetPatch(), &ops); err != nil {
			t.Fatal(err)
		}
		for _, op := range ops {
			if op.Op == "add" && op.Path == "/status/loadBalancer" && !strings.Contains(fmt.Sprint(op.Value), "10.0.0.1") {
				t.Errorf("the restarted controller wrote %v before it knew the rule", op.Value)
			}
		}
	}
}

func TestWritesTestTheResourceVersionTheyWereComputedFrom(t *testing.T) {
	svc := newService("web", func(s *v1.Service) { s.ResourceVersion = "7" })
	h := startHarness(t, objects(threeNodes(), []runtime.Object{svc}))
	h.waitFor(svc, abc, abc)
	h.processed()
	found := false
	for _, a := range h.client.Actions() {
		if p, ok := a.(k8stesting.PatchAction); ok && a.GetSubresource() == "status" {
			var ops []patchOp
			if err := json.Unmarshal(p.GetPatch(), &ops); err != nil {
				t.Fatal(err)
			}
			if len(ops) < 2 || ops[0] != (patchOp{Op: "test", Path: "/metadata/uid", Value: string(svc.UID)}) ||
				ops[1] != (patchOp{Op: "test", Path: "/metadata/resourceVersion", Value: "7"}) {
				t.Errorf("status patch %s does not start by testing the UID and resourceVersion", p.GetPatch())
			}
			found = true
		}
	}
	if !found {
		t.Error("no status patch")
	}
}

func TestASwitchFromExternalPublishesTheNodesAndLeavesTheLoadBalancerToTheProvider(t *testing.T) {
	svc := newService("web")
	svc.Status.LoadBalancer.Ingress = []v1.LoadBalancerIngress{{IP: "198.51.100.7"}}
	svc.Status.Conditions = []metav1.Condition{{Type: lbcondition.Type, Status: metav1.ConditionTrue, Reason: "Provisioned"}}
	h := startHarness(t, objects(threeNodes(), []runtime.Object{svc}))
	h.waitFor(svc, abc, abc)
	h.processed()
	// The external load balancer is the provider's to release
	// (EnsureLoadBalancer, in the service controller's sync of the
	// Service): the controller calls the cloud for its own rules only.
	for _, c := range h.cloud.Server.Calls() {
		if !strings.HasPrefix(c.API, "compute.firewalls.") && !strings.Contains(c.API, "Operations.") {
			t.Errorf("the controller called %s %s", c.API, c.Path)
		}
	}
}

func TestARuleWrittenBeforeTheModeKeyIsKeptAsItIsAndRemovedWithItsService(t *testing.T) {
	svc := newService("web")
	h := startHarness(t, objects(threeNodes(), []runtime.Object{svc}))
	h.waitFor(svc, abc, abc)
	// The rule as an older release wrote it: without the mode key.
	fw := h.rule(svc)
	keys, _ := ownership.Parse(fw.Description)
	delete(keys, ownership.ModeKey)
	older := testOwner.Description(keys)
	op, err := h.cloud.Compute.Firewalls.Patch(h.cloud.Project, fw.Name, &compute.Firewall{Description: older}).Do()
	if err == nil {
		_, err = h.cloud.WaitOperation(context.Background(), op)
	}
	if err != nil {
		t.Fatal(err)
	}
	h.cloud.Server.ResetCalls()
	h.restart() // the upgrade
	h.waitFor(svc, abc, abc)
	h.processed()
	if n := h.firewallWrites(); n != 0 {
		t.Errorf("the upgraded controller made %d firewall writes, want none: the mode key alone is no change", n)
	}
	if got := h.rule(svc); got == nil || got.Description != older {
		t.Errorf("the rule after the upgrade = %+v, want it untouched", got)
	}
	if err := h.client.CoreV1().Services("default").Delete(h.ctx, "web", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	h.eventually("the older rule goes with its Service", func() (bool, string) {
		got := h.rule(svc)
		return got == nil, fmt.Sprint(got)
	})
}

// dualStackNodes are Ready nodes a and b with an IPv4 and an IPv6
// internal address, and c with an IPv4 one only.
func dualStackNodes() []runtime.Object {
	return []runtime.Object{
		newNode("a", fixture.InternalIP("10.0.0.1"), fixture.InternalIP("fd00::1")),
		newNode("b", fixture.InternalIP("10.0.0.2"), fixture.InternalIP("fd00::2")),
		newNode("c", fixture.InternalIP("10.0.0.3")),
	}
}

// waitForRules waits until the Service's IPv4 and IPv6 rules have these
// sources and destinations (nil: no rule of the family).
func (h *harness) waitForRules(svc *v1.Service, want4, want6 *firewallRanges) {
	h.t.Helper()
	for _, fam := range []struct {
		name string
		get  func(*v1.Service) *compute.Firewall
		want *firewallRanges
	}{{"IPv4", h.rule, want4}, {"IPv6", h.ruleIPv6, want6}} {
		h.eventually(fmt.Sprintf("the %s rule of %s is %+v", fam.name, svc.Name, fam.want), func() (bool, string) {
			fw := fam.get(svc)
			if fw == nil {
				return fam.want == nil, "no rule"
			}
			got := firewallRanges{Sources: fw.SourceRanges, Destinations: fw.DestinationRanges}
			return fam.want != nil && cmp.Equal(*fam.want, got), fmt.Sprintf("%+v", got)
		})
	}
}

type firewallRanges struct{ Sources, Destinations []string }

func TestADualStackServiceGetsARulePerFamilyAndLosesBothWhenDeleted(t *testing.T) {
	svc := newService("web", fixture.Families(v1.IPv4Protocol, v1.IPv6Protocol), fixture.SourceRanges("203.0.113.0/24", "2001:db8::/32"))
	other := newService("api", withPorts(8080), fixture.Families(v1.IPv4Protocol, v1.IPv6Protocol))
	var violations func() []string
	h := startHarness(t, objects(dualStackNodes(), []runtime.Object{svc, other}), beforeStart(func(h *harness) { violations = h.checkFirewallOrder() }))
	all := []string{"10.0.0.1", "10.0.0.2", "10.0.0.3", "fd00::1", "fd00::2"}
	h.eventually("web publishes both families", func() (bool, string) { got := h.ingress("web"); return slices.Equal(got, all), fmt.Sprint(got) })
	h.waitForRules(svc,
		&firewallRanges{Sources: []string{"203.0.113.0/24"}, Destinations: []string{"10.0.0.1/32", "10.0.0.2/32", "10.0.0.3/32"}},
		&firewallRanges{Sources: []string{"2001:db8::/32"}, Destinations: []string{"fd00::1/128", "fd00::2/128"}})
	// Without source ranges, each family is open to its whole space.
	h.waitForRules(other,
		&firewallRanges{Sources: []string{"0.0.0.0/0"}, Destinations: []string{"10.0.0.1/32", "10.0.0.2/32", "10.0.0.3/32"}},
		&firewallRanges{Sources: []string{"::/0"}, Destinations: []string{"fd00::1/128", "fd00::2/128"}})
	if c := h.condition("web"); c == nil || c.Status != metav1.ConditionTrue || c.Reason != ReasonPublished {
		t.Errorf("condition = %+v, want True/%s", c, ReasonPublished)
	}

	// A node going NotReady closes both rules to it, after its addresses
	// are taken back.
	h.updateNode("a", func(n *v1.Node) { n.Status.Conditions[0].Status = v1.ConditionFalse })
	h.eventually("web takes back node a", func() (bool, string) {
		got := h.ingress("web")
		return slices.Equal(got, []string{"10.0.0.2", "10.0.0.3", "fd00::2"}), fmt.Sprint(got)
	})
	h.waitForRules(svc,
		&firewallRanges{Sources: []string{"203.0.113.0/24"}, Destinations: []string{"10.0.0.2/32", "10.0.0.3/32"}},
		&firewallRanges{Sources: []string{"2001:db8::/32"}, Destinations: []string{"fd00::2/128"}})

	if err := h.client.CoreV1().Services("default").Delete(h.ctx, "web", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	h.waitForRules(svc, nil, nil)
	h.processed()
	if h.rule(other) == nil || h.ruleIPv6(other) == nil {
		t.Errorf("the other Service's rules went too")
	}
	for _, v := range violations() {
		t.Error(v)
	}
}

func TestADualStackServiceWithIPv4SourceRangesOnlyHasNoIPv6Rule(t *testing.T) {
	svc := newService("web", fixture.Families(v1.IPv4Protocol, v1.IPv6Protocol), fixture.SourceRanges("203.0.113.0/24"))
	var violations func() []string
	h := startHarness(t, objects(dualStackNodes(), []runtime.Object{svc}), beforeStart(func(h *harness) { violations = h.checkFirewallOrder() }))
	v4 := &firewallRanges{Sources: []string{"203.0.113.0/24"}, Destinations: []string{"10.0.0.1/32", "10.0.0.2/32", "10.0.0.3/32"}}
	h.waitFor(svc, abc, abc)
	h.waitForRules(svc, v4, nil)
	if c := h.condition("web"); c == nil || c.Status != metav1.ConditionTrue {
		t.Errorf("condition = %+v, want True: IPv4 ranges only are no error", c)
	}

	// An IPv6 range opens the IPv6 rule and publishes the IPv6 addresses.
	h.updateService("web", func(s *v1.Service) {
		s.Spec.LoadBalancerSourceRanges = append(s.Spec.LoadBalancerSourceRanges, "2001:db8::/32")
	})
	h.waitForRules(svc, v4, &firewallRanges{Sources: []string{"2001:db8::/32"}, Destinations: []string{"fd00::1/128", "fd00::2/128"}})
	h.eventually("web publishes both families", func() (bool, string) {
		got := h.ingress("web")
		return slices.Equal(got, append(slices.Clone(abc), "fd00::1", "fd00::2")), fmt.Sprint(got)
	})

	// Taking it away again deletes the IPv6 rule, after the IPv6
	// addresses are taken back.
	h.updateService("web", func(s *v1.Service) { s.Spec.LoadBalancerSourceRanges = []string{"203.0.113.0/24"} })
	h.waitForRules(svc, v4, nil)
	h.eventually("web publishes IPv4 only", func() (bool, string) { got := h.ingress("web"); return slices.Equal(got, abc), fmt.Sprint(got) })
	for _, v := range violations() {
		t.Error(v)
	}
}

// A Service deleted while no CCM ran leaves both of its rules; the
// provider's garbage collection, which goes by the Service UID in a rule's
// description, removes both.
func TestGarbageCollectionRemovesBothRulesOfAVanishedService(t *testing.T) {
	svc := newService("web", fixture.Families(v1.IPv4Protocol, v1.IPv6Protocol))
	h := startHarness(t, objects(dualStackNodes(), []runtime.Object{svc}))
	h.eventually("both rules exist", func() (bool, string) { return h.rule(svc) != nil && h.ruleIPv6(svc) != nil, "not yet" })
	h.stop()
	h.stop = func() {}
	deleted, err := firewall.CollectGarbage(context.Background(), h.api, testOwner, testNetwork, func(s firewall.RuleService) bool { return s.UID != string(svc.UID) })
	if err != nil {
		t.Fatal(err)
	}
	want := []string{testFirewallName(string(svc.UID)), testFirewallNameIPv6(string(svc.UID))}
	if diff := cmp.Diff(want, deleted); diff != "" {
		t.Errorf("collected (-want +got):\n%s", diff)
	}
}

func TestARefusedFirewallWriteIsRetriedAfterABackoff(t *testing.T) {
	svc := newService("web", withPorts(80))
	h := startHarness(t, objects(threeNodes(), []runtime.Object{svc}))
	h.waitFor(svc, abc, abc)
	h.refuseNextFirewallPatch()
	h.updateService("web", func(s *v1.Service) {
		s.Spec.Ports = append(s.Spec.Ports, v1.ServicePort{Name: "https", Protocol: v1.ProtocolTCP, Port: 443})
	})
	h.waitForEvent("web", v1.EventTypeWarning, ReasonQuotaExceeded, "firewall rule quota is used up")
	h.eventually("the rule opens 443 after the refusal", func() (bool, string) {
		fw := h.rule(svc)
		return fw != nil && len(fw.Allowed) == 1 && slices.Equal(fw.Allowed[0].Ports, []string{"80", "443"}), fmt.Sprintf("%+v", fw)
	})
	h.processed()
	patches := h.firewallPatchTimes()
	if len(patches) != 2 {
		t.Fatalf("%d firewall patches, want 2: the refused one and one retry", len(patches))
	}
	if gap := patches[1].Sub(patches[0]); gap < firewallRetryMin {
		t.Errorf("the retry came %v after the refusal, want at least %v: a refusing cloud is not asked again at once", gap, firewallRetryMin)
	}
}

func TestAServiceChangedWhileItsFirewallBacksOffIsTriedAtOnce(t *testing.T) {
	svc := newService("web", withPorts(80))
	h := startHarness(t, objects(threeNodes(), []runtime.Object{svc}))
	h.waitFor(svc, abc, abc)
	h.refuseNextFirewallPatch()
	addPort := func(port int32) {
		h.updateService("web", func(s *v1.Service) {
			s.Spec.Ports = append(s.Spec.Ports, v1.ServicePort{Name: fmt.Sprintf("p%d", port), Protocol: v1.ProtocolTCP, Port: port})
		})
	}
	addPort(443)
	h.waitForEvent("web", v1.EventTypeWarning, ReasonQuotaExceeded, "firewall rule quota is used up")
	// The refused rules would wait for the backoff; the Service now asks
	// for other ones, which are tried at once.
	addPort(8443)
	h.eventually("the rule opens 8443", func() (bool, string) {
		fw := h.rule(svc)
		return fw != nil && len(fw.Allowed) == 1 && slices.Equal(fw.Allowed[0].Ports, []string{"80", "443", "8443"}), fmt.Sprintf("%+v", fw)
	})
	h.processed() // and the refused sync's retry, which finds nothing to do
	patches := h.firewallPatchTimes()
	if len(patches) != 2 {
		t.Fatalf("%d firewall patches, want 2: the refused one and the changed Service's", len(patches))
	}
	if gap := patches[1].Sub(patches[0]); gap >= firewallRetryMin {
		t.Errorf("the changed Service's rule came %v after the refusal: it waited for the backoff (%v)", gap, firewallRetryMin)
	}
}

// refuseNextFirewallPatch makes the cloud refuse the next firewall patch
// for quota, and starts the call log afresh.
func (h *harness) refuseNextFirewallPatch() {
	h.t.Helper()
	if err := h.cloud.Server.SetFaults([]fakegce.FaultRule{{Method: "compute.firewalls.patch", Code: http.StatusForbidden,
		Reason: "quotaExceeded", Message: "Quota 'FIREWALLS' exceeded. Limit: 100.0 globally.", Count: 1}}); err != nil {
		h.t.Fatal(err)
	}
	h.cloud.Server.ResetCalls()
}

// firewallPatchTimes are when the firewall patches of the call log came.
func (h *harness) firewallPatchTimes() []time.Time {
	var out []time.Time
	for _, c := range h.cloud.Server.Calls() {
		if c.API == "compute.firewalls.patch" {
			out = append(out, c.Time)
		}
	}
	return out
}
