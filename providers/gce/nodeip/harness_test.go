package nodeip

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/api/compute/v1"
	v1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/computeclient"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/lbcondition"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/test/fakegce"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/test/fakegce/fakegcetest"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/test/fixture"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/test/queuebarrier"
)

func TestMain(m *testing.M) {
	// The fake clientset's watchers panic when more than DefaultChanSize
	// events wait to be read; a burst of status writes can exceed 100.
	watch.DefaultChanSize = 100_000
	os.Exit(m.Run())
}

// harness is the controller against a fake clientset (Kubernetes) and
// fake-gce over HTTP (the cloud), running until the test ends.
type harness struct {
	t       testing.TB
	ctx     context.Context
	client  *fake.Clientset
	cloud   *fakegcetest.Cloud
	api     *computeclient.Client
	ctrl    *Controller
	deps    Deps
	options Options
	stop    func()
	// barrier proves the controller done (barrier_test.go).
	barrier *queuebarrier.Barrier
}

type harnessOpt func(*harnessConfig)

type harnessConfig struct {
	deps    Deps
	options Options
	// simple: fake.NewSimpleClientset instead of fake.NewClientset. The
	// latter's field-managed tracker builds a REST mapper on every patch,
	// which costs more than the whole reconcile; the benchmark measures
	// the controller, so it uses the simple tracker.
	simple bool
	// hooks run before the controller starts: the fake clientset's
	// reactors cannot be added while it serves requests.
	hooks []func(*harness)
}

func withDeps(f func(*Deps)) harnessOpt { return func(c *harnessConfig) { f(&c.deps) } }

func beforeStart(f func(*harness)) harnessOpt {
	return func(c *harnessConfig) { c.hooks = append(c.hooks, f) }
}

func simpleClientset() harnessOpt { return func(c *harnessConfig) { c.simple = true } }

func startHarness(t testing.TB, objs []runtime.Object, opts ...harnessOpt) *harness {
	t.Helper()
	cloud := fakegcetest.Start(t, fakegce.Config{MaxCalls: 1_000_000})
	fixture.InsertNetwork(t, cloud, cloud.Project, fixture.AutoNetwork("default"))
	api, err := computeclient.New(context.Background(), computeclient.Config{Project: cloud.Project, Endpoint: cloud.Endpoint,
		HTTPClient: cloud.HTTP.Client(), QPS: 5000, Burst: 5000, MaxRetries: 2, Backoff: time.Millisecond, MaxBackoff: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	cfg := harnessConfig{
		deps: Deps{Compute: api, Owner: testOwner, Network: testNetwork, NodeTags: []string{"k8s-node"},
			FirewallName: testFirewallName, FirewallNameIPv6: testFirewallNameIPv6, Defaults: testDefaults()},
		options: Options{ResyncInterval: time.Hour},
	}
	for _, o := range opts {
		o(&cfg)
	}
	deps := cfg.deps
	client := fake.NewClientset(objs...)
	if cfg.simple {
		client = fake.NewSimpleClientset(objs...)
	}
	h := &harness{t: t, ctx: context.Background(), client: client, cloud: cloud, api: api, deps: deps, options: cfg.options}
	for _, hook := range cfg.hooks {
		hook(h)
	}
	h.startController()
	t.Cleanup(func() { h.stop() })
	cloud.Server.ResetCalls()
	return h
}

// startController runs a controller with informers of its own, as a new
// leader would.
func (h *harness) startController() {
	h.t.Helper()
	factory := informers.NewSharedInformerFactory(h.client, 0)
	services, nodes, endpointSlices := h.observe(factory.Core().V1().Services(), factory.Core().V1().Nodes(), factory.Discovery().V1().EndpointSlices())
	ctrl, err := New(h.client, services, nodes, endpointSlices, h.deps, h.options)
	if err != nil {
		h.t.Fatal(err)
	}
	h.trackQueues(ctrl)
	ctx, cancel := context.WithCancel(context.Background())
	factory.Start(ctx.Done())
	done := make(chan struct{})
	go func() {
		defer close(done)
		ctrl.Run(ctx)
	}()
	h.ctrl, h.ctx = ctrl, ctx
	h.stop = func() {
		cancel()
		<-done
		factory.Shutdown()
	}
}

// restart stops the controller and starts another, as after a crash.
func (h *harness) restart() {
	h.stop()
	h.startController()
}

// eventually waits (bounded) until check passes; it reports the last
// answer of check if it never does.
func (h *harness) eventually(what string, check func() (bool, string)) {
	h.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		ok, got := check()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("%s: never happened; last: %s", what, got)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (h *harness) service(name string) *v1.Service {
	h.t.Helper()
	svc, err := h.client.CoreV1().Services("default").Get(h.ctx, name, metav1.GetOptions{})
	if err != nil {
		h.t.Fatal(err)
	}
	return svc
}

func (h *harness) ingress(name string) []string {
	return ips(h.service(name).Status.LoadBalancer.Ingress)
}

// rule is the Service's (IPv4) firewall rule in fake-gce, or nil.
func (h *harness) rule(svc *v1.Service) *compute.Firewall {
	return h.firewall(testFirewallName(string(svc.UID)))
}

// ruleIPv6 is the Service's IPv6 firewall rule in fake-gce, or nil.
func (h *harness) ruleIPv6(svc *v1.Service) *compute.Firewall {
	return h.firewall(testFirewallNameIPv6(string(svc.UID)))
}

func (h *harness) firewall(name string) *compute.Firewall {
	fw, err := h.cloud.Compute.Firewalls.Get(h.cloud.Project, name).Do()
	if err != nil {
		if computeclient.IsNotFound(err) {
			return nil
		}
		h.t.Fatal(err)
	}
	return fw
}

// waitFor waits until the Service publishes want and its rule opens to
// the internal addresses wantRule (none: no rule at all).
func (h *harness) waitFor(svc *v1.Service, want []string, wantRule []string) {
	h.t.Helper()
	h.eventually(fmt.Sprintf("%s publishes %v", svc.Name, want), func() (bool, string) {
		got := h.ingress(svc.Name)
		return slices.Equal(got, want), fmt.Sprint(got)
	})
	h.eventually(fmt.Sprintf("the rule of %s opens to %v", svc.Name, wantRule), func() (bool, string) {
		fw := h.rule(svc)
		if fw == nil {
			return len(wantRule) == 0, "no rule"
		}
		var got []string
		for _, r := range fw.DestinationRanges {
			got = append(got, strings.TrimSuffix(r, "/32"))
		}
		return len(wantRule) > 0 && slices.Equal(got, wantRule), fmt.Sprint(got)
	})
}

func (h *harness) condition(name string) *metav1.Condition {
	return meta.FindStatusCondition(h.service(name).Status.Conditions, lbcondition.Type)
}

// waitForEvent waits for an event on the Service whose type, reason and
// message (a part of it) match.
func (h *harness) waitForEvent(svc, typ, reason, message string) {
	h.t.Helper()
	h.eventually(fmt.Sprintf("a %s %s event on %s saying %q", typ, reason, svc, message), func() (bool, string) {
		list, err := h.client.CoreV1().Events("default").List(h.ctx, metav1.ListOptions{})
		if err != nil {
			return false, err.Error()
		}
		var seen []string
		for _, e := range list.Items {
			if e.InvolvedObject.Name != svc {
				continue
			}
			seen = append(seen, e.Type+" "+e.Reason+": "+e.Message)
			if e.Type == typ && e.Reason == reason && strings.Contains(e.Message, message) {
				return true, ""
			}
		}
		return false, strings.Join(seen, " | ")
	})
}

func (h *harness) create(objs ...runtime.Object) {
	h.t.Helper()
	for _, o := range objs {
		var err error
		switch o := o.(type) {
		case *v1.Node:
			_, err = h.client.CoreV1().Nodes().Create(h.ctx, o, metav1.CreateOptions{})
		case *v1.Service:
			_, err = h.client.CoreV1().Services(o.Namespace).Create(h.ctx, o, metav1.CreateOptions{})
		default:
			err = fmt.Errorf("cannot create %T", o)
		}
		if err != nil {
			h.t.Fatal(err)
		}
	}
}

func (h *harness) updateNode(name string, change func(*v1.Node)) {
	h.t.Helper()
	n, err := h.client.CoreV1().Nodes().Get(h.ctx, name, metav1.GetOptions{})
	if err != nil {
		h.t.Fatal(err)
	}
	change(n)
	if _, err := h.client.CoreV1().Nodes().Update(h.ctx, n, metav1.UpdateOptions{}); err != nil {
		h.t.Fatal(err)
	}
}

func (h *harness) updateService(name string, change func(*v1.Service)) {
	h.t.Helper()
	svc := h.service(name)
	change(svc)
	if _, err := h.client.CoreV1().Services("default").Update(h.ctx, svc, metav1.UpdateOptions{}); err != nil {
		h.t.Fatal(err)
	}
}

func (h *harness) updateSlice(s *discoveryv1.EndpointSlice) {
	h.t.Helper()
	if _, err := h.client.DiscoveryV1().EndpointSlices(s.Namespace).Update(h.ctx, s, metav1.UpdateOptions{}); err != nil {
		h.t.Fatal(err)
	}
}

// statusWrites counts the Service status patches since the test began.
func (h *harness) statusWrites() int {
	n := 0
	for _, a := range h.client.Actions() {
		if a.GetVerb() == "patch" && a.GetResource().Resource == "services" && a.GetSubresource() == "status" {
			n++
		}
	}
	return n
}

// firewallWrites counts the mutating firewall calls since the last reset.
func (h *harness) firewallWrites() int {
	n := 0
	for _, c := range h.cloud.Server.Calls() {
		if strings.HasPrefix(c.API, "compute.firewalls.") && c.Method != "GET" {
			n++
		}
	}
	return n
}

// threeNodes are Ready nodes a, b, c with internal addresses 10.0.0.1-3
// and external ones 203.0.113.1-3.
func threeNodes() []runtime.Object {
	var out []runtime.Object
	for i, n := range []string{"a", "b", "c"} {
		out = append(out, newNode(n, fixture.InternalIP(fmt.Sprintf("10.0.0.%d", i+1)), fixture.ExternalIP(fmt.Sprintf("203.0.113.%d", i+1))))
	}
	return out
}

func objects(groups ...[]runtime.Object) []runtime.Object {
	var out []runtime.Object
	for _, g := range groups {
		out = append(out, g...)
	}
	return out
}

// checkFirewallOrder (a hook to run before start) records, at every status patch, the addresses the
// Service publishes before and after it that the firewall rules do not
// admit at that moment: the firewall must open before an address is
// published, and close only after it is taken back. It returns the
// violations seen so far.
func (h *harness) checkFirewallOrder() func() []string {
	var mu sync.Mutex
	var violations []string
	h.client.PrependReactor("patch", "services", func(a k8stesting.Action) (bool, runtime.Object, error) {
		p := a.(k8stesting.PatchAction)
		if a.GetSubresource() != "status" {
			return false, nil, nil
		}
		obj, err := h.client.Tracker().Get(v1.SchemeGroupVersion.WithResource("services"), p.GetNamespace(), p.GetName())
		if err != nil {
			return false, nil, nil
		}
		svc := obj.(*v1.Service)
		published := ips(svc.Status.LoadBalancer.Ingress)
		var ops []patchOp
		_ = json.Unmarshal(p.GetPatch(), &ops)
		for _, op := range ops {
			if op.Op == "add" && op.Path == "/status/loadBalancer" {
				b, _ := json.Marshal(op.Value)
				var lb v1.LoadBalancerStatus
				_ = json.Unmarshal(b, &lb)
				published = append(published, ips(lb.Ingress)...)
			}
		}
		open := map[string]bool{}
		for _, fw := range []*compute.Firewall{h.rule(svc), h.ruleIPv6(svc)} {
			if fw == nil {
				continue
			}
			for _, r := range fw.DestinationRanges {
				open[strings.TrimSuffix(strings.TrimSuffix(r, "/32"), "/128")] = true
			}
		}
		for _, ip := range published {
			if !open[ip] {
				mu.Lock()
				violations = append(violations, fmt.Sprintf("%s published %s while the firewall was closed to it", svc.Name, ip))
				mu.Unlock()
			}
		}
		return false, nil, nil
	})
	return func() []string {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(violations)
	}
}
