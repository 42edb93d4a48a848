package servicecontroller

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/api/compute/v1"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	servicehelper "k8s.io/cloud-provider/service/helpers"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/providers/gce"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/providers/gce/cloudconfig"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/test/fakegce"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/test/fakegce/fakegcetest"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/test/fixture"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/test/queuebarrier"
)

// harness runs the controller with the real gce provider against fake-gce
// over HTTP (the cloud) and a fake clientset (Kubernetes).
type harness struct {
	t        *testing.T
	client   *fake.Clientset
	cloud    *fakegcetest.Cloud
	provider *gce.Cloud
	ctrl     *Controller
	stop     func()
	// beforeRun, when set, sees each controller before it runs.
	beforeRun func(*Controller)
	// barrier proves the controller done (barrier_test.go).
	barrier *queuebarrier.Barrier
}

func startHarness(t *testing.T, nodes int, objs ...runtime.Object) *harness {
	t.Helper()
	return startHarnessWith(t, harnessOptions{}, nodes, objs...)
}

// harnessOptions are what a few tests change in the harness.
type harnessOptions struct {
	// gate, when set, stands in front of fake-gce and can hold a call
	// open until the test releases it.
	gate *callGate
	// beforeRun, when set, sees each controller before it runs.
	beforeRun func(*Controller)
	// faults are fake-gce's from the start.
	faults []fakegce.FaultRule
}

func startHarnessWith(t *testing.T, opts harnessOptions, nodes int, objs ...runtime.Object) *harness {
	t.Helper()
	gate := opts.gate
	cloud := startCloud(t, fakegce.Config{MaxCalls: 1_000_000}, gate)
	if err := cloud.Server.SetFaults(opts.faults); err != nil {
		t.Fatal(err)
	}
	fixture.InsertNetwork(t, cloud, cloud.Project, fixture.AutoNetwork("default"))
	for i := 1; i <= nodes; i++ {
		addInstance(t, cloud, fmt.Sprintf("node-%d", i))
		objs = append(objs, newNode(fmt.Sprintf("node-%d", i)))
	}
	cfg, err := cloudconfig.Parse(strings.NewReader(fmt.Sprintf(`[global]
project-id = %s
local-zone = us-central1-a
network-name = default
node-tags = k8s-node
api-endpoint = %s
[load-balancer]
backend = backend-service
[compute-api]
no-authentication = true
qps = 5000
burst = 5000
`, cloud.Project, cloud.Endpoint)))
	if err != nil {
		t.Fatal(err)
	}
	provider, err := gce.New(context.Background(), cfg, gce.Options{ClusterName: "test"})
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, client: fake.NewClientset(objs...), cloud: cloud, provider: provider, beforeRun: opts.beforeRun}
	h.start()
	t.Cleanup(func() { h.stop() })
	if gate != nil {
		// Cleanups run last first: a held call is let go before the
		// controller stops, whatever the test's outcome.
		t.Cleanup(gate.release)
	}
	return h
}

// start runs a controller with informers of its own, as a new leader would.
func (h *harness) start() {
	h.t.Helper()
	factory := informers.NewSharedInformerFactory(h.client, 0)
	services, nodes := h.observe(factory.Core().V1().Services(), factory.Core().V1().Nodes())
	ctrl, err := New(h.provider, h.client, services, nodes, "test", WithNote(gce.LoadBalancerNote))
	if err != nil {
		h.t.Fatal(err)
	}
	h.trackQueues(ctrl)
	h.ctrl = ctrl
	if h.beforeRun != nil {
		h.beforeRun(ctrl)
	}
	ctx, cancel := context.WithCancel(context.Background())
	factory.Start(ctx.Done())
	done := make(chan struct{})
	go func() { defer close(done); ctrl.Run(ctx, 4) }()
	h.stop = func() { cancel(); <-done; factory.Shutdown() }
}

func mustDo(t *testing.T, cloud *fakegcetest.Cloud, f func() (*compute.Operation, error)) {
	t.Helper()
	op, err := f()
	if err == nil {
		op, err = cloud.WaitOperation(context.Background(), op)
	}
	if err != nil || op.Error != nil {
		t.Fatalf("%v (operation %+v)", err, op)
	}
}

func addInstance(t *testing.T, cloud *fakegcetest.Cloud, name string) {
	t.Helper()
	mustDo(t, cloud, func() (*compute.Operation, error) {
		return cloud.Compute.Instances.Insert(cloud.Project, "us-central1-a", &compute.Instance{Name: name,
			MachineType: "zones/us-central1-a/machineTypes/e2-medium",
			Disks: []*compute.AttachedDisk{{Boot: true, AutoDelete: true,
				InitializeParams: &compute.AttachedDiskInitializeParams{SourceImage: "projects/debian-cloud/global/images/family/debian-12"}}},
			NetworkInterfaces: []*compute.NetworkInterface{{Network: "global/networks/default"}},
			Tags:              &compute.Tags{Items: []string{"k8s-node"}}}).Do()
	})
}

// eventually polls check (bounded) until it returns "", and fails with its
// last answer otherwise.
func (h *harness) eventually(what string, check func() string) {
	h.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		msg := check()
		if msg == "" {
			return
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("%s: %s", what, msg)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (h *harness) service(name string) (*v1.Service, error) {
	return h.client.CoreV1().Services("default").Get(context.Background(), name, metav1.GetOptions{})
}

func (h *harness) waitReady(name string) *v1.Service {
	h.t.Helper()
	var svc *v1.Service
	h.eventually("the Service gets its address", func() string {
		s, err := h.service(name)
		if err != nil {
			return err.Error()
		}
		if len(s.Status.LoadBalancer.Ingress) == 0 || !servicehelper.HasLBFinalizer(s) {
			return fmt.Sprintf("ingress %v, finalizers %v", s.Status.LoadBalancer.Ingress, s.Finalizers)
		}
		svc = s
		return ""
	})
	return svc
}

func (h *harness) writes() []string {
	var out []string
	for _, c := range h.cloud.Server.Calls() {
		// listInstances and getHealth are POSTs that change nothing.
		read := c.Method == "GET" || strings.HasSuffix(c.API, ".listInstances") || strings.HasSuffix(c.API, ".getHealth")
		if !read && !strings.Contains(c.API, "Operations.") {
			out = append(out, c.API)
		}
	}
	return out
}

func (h *harness) events(reason string) int {
	list, _ := h.client.CoreV1().Events("").List(context.Background(), metav1.ListOptions{})
	n := 0
	for _, e := range list.Items {
		if e.Reason == reason {
			n++
		}
	}
	return n
}

func TestAServiceGetsItsLoadBalancerAndLosesItOnDelete(t *testing.T) {
	h := startHarness(t, 2, newService("web"))
	svc := h.waitReady("web")
	h.eventually("the events of a new request", func() string {
		if h.events("EnsuringLoadBalancer") != 1 || h.events("EnsuredLoadBalancer") != 1 {
			return fmt.Sprintf("EnsuringLoadBalancer %d, EnsuredLoadBalancer %d", h.events("EnsuringLoadBalancer"), h.events("EnsuredLoadBalancer"))
		}
		return ""
	})
	rules, err := h.cloud.Compute.ForwardingRules.List(h.cloud.Project, "us-central1").Do()
	if err != nil || len(rules.Items) != 1 || rules.Items[0].IPAddress != svc.Status.LoadBalancer.Ingress[0].IP {
		t.Fatalf("forwarding rules = %+v, %v; want one with %s", rules, err, svc.Status.LoadBalancer.Ingress[0].IP)
	}

	// Deleting: the API server keeps the Service until the finalizer goes.
	now := metav1.Now()
	svc.DeletionTimestamp = &now
	if _, err := h.client.CoreV1().Services("default").Update(context.Background(), svc, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	h.eventually("the finalizer is removed after the load balancer", func() string {
		s, err := h.service("web")
		if err != nil {
			return err.Error()
		}
		if servicehelper.HasLBFinalizer(s) {
			return "the finalizer is still there"
		}
		return ""
	})
	rules, err = h.cloud.Compute.ForwardingRules.List(h.cloud.Project, "us-central1").Do()
	if err != nil || len(rules.Items) != 0 {
		t.Errorf("forwarding rules after delete = %d, %v; want none", len(rules.Items), err)
	}
}

func TestANoChangeEventCostsNoCall(t *testing.T) {
	h := startHarness(t, 2, newService("web"))
	svc := h.waitReady("web")
	h.processed()
	h.cloud.Server.ResetCalls()
	// A label is not part of the load balancer's request.
	svc.Labels = map[string]string{"team": "web"}
	if _, err := h.client.CoreV1().Services("default").Update(context.Background(), svc, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	h.processed()
	if calls := h.cloud.Server.Calls(); len(calls) != 0 {
		t.Errorf("a label change made %d compute calls, want 0: %v", len(calls), calls)
	}
}

func TestARestartedControllerChecksEverythingAndWritesNothing(t *testing.T) {
	h := startHarness(t, 2, newService("web"), newService("api"))
	h.waitReady("web")
	h.waitReady("api")
	h.processed()
	h.stop()
	h.cloud.Server.ResetCalls()
	h.start()
	h.processed()
	if w := h.writes(); len(w) != 0 {
		t.Errorf("a restart wrote %v, want nothing", w)
	}
	if len(h.cloud.Server.Calls()) == 0 {
		t.Errorf("a restart read nothing: a new leader must check every load balancer once")
	}
}

func TestAChangedStatusIsWrittenBack(t *testing.T) {
	h := startHarness(t, 1, newService("web"))
	svc := h.waitReady("web")
	want := svc.Status.LoadBalancer.Ingress[0].IP
	svc.Status.LoadBalancer = v1.LoadBalancerStatus{}
	if _, err := h.client.CoreV1().Services("default").UpdateStatus(context.Background(), svc, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	h.eventually("the status is written again", func() string {
		s, _ := h.service("web")
		if len(s.Status.LoadBalancer.Ingress) != 1 || s.Status.LoadBalancer.Ingress[0].IP != want {
			return fmt.Sprintf("ingress %v, want %s", s.Status.LoadBalancer.Ingress, want)
		}
		return ""
	})
}

// A burst of node events that arrives while a node-set sync is in
// progress makes one more sync, not one per event. The shared-group cache
// already keeps the cloud calls down whatever the number of syncs, so what
// is counted is the syncs and the node-set changes they publish.
func TestNodeBurstsCoalesceIntoOneNodeSetSync(t *testing.T) {
	const services = 20
	var objs []runtime.Object
	for i := range services {
		objs = append(objs, newService(fmt.Sprintf("web-%d", i)))
	}
	lister := &heldLister{}
	h := startHarnessWith(t, harnessOptions{beforeRun: func(c *Controller) {
		lister.NodeLister = c.nodes
		c.nodes = lister
		// Events are counted after they are queued: once the test has
		// seen the ten, the one more sync they make is already asked for.
		c.nodeSetBatch = 0
	}}, 2, objs...)
	t.Cleanup(lister.release)
	for i := range services {
		h.waitReady(fmt.Sprintf("web-%d", i))
	}
	h.processed()
	for i := 3; i <= 12; i++ {
		addInstance(t, h.cloud, fmt.Sprintf("node-%d", i))
	}
	h.cloud.Server.ResetCalls()
	before := readNodeSetCounters(t)

	// Ten nodes join, as after a scale-up: the first one's sync is held
	// while it lists the nodes, and the other nine arrive meanwhile.
	lister.holdNext()
	h.createNode("node-3")
	lister.waitHeld(t)
	for i := 4; i <= 12; i++ {
		h.createNode(fmt.Sprintf("node-%d", i))
	}
	h.eventually("the controller has seen the ten node events", func() string {
		if n := readNodeSetCounters(t).events - before.events; n != 10 {
			return fmt.Sprintf("%v node events", n)
		}
		return ""
	})
	lister.release()
	h.eventually("the shared instance group has every node", func() string {
		if got := h.groupMembers(); len(got) != 12 {
			return fmt.Sprintf("%d members, want 12", len(got))
		}
		return ""
	})
	h.eventually("the sync for the events that arrived meanwhile has run", func() string {
		if n := readNodeSetCounters(t).syncs - before.syncs; n < 2 {
			return fmt.Sprintf("%v node-set syncs", n)
		}
		return ""
	})
	h.processed()

	after := readNodeSetCounters(t)
	if n := after.syncs - before.syncs; n != 2 {
		t.Errorf("%v node-set syncs for 10 node events, want 2: the one in progress and one for the nine that arrived meanwhile", n)
	}
	if n := after.changes - before.changes; n != 1 {
		t.Errorf("%v node-set changes published, want 1", n)
	}
	if n := after.queued - before.queued; n != services {
		t.Errorf("%v Services queued by node-set changes, want each of the %d once", n, services)
	}
	// No worker holding an older node set undoes a newer one.
	for _, w := range h.writes() {
		if w != "compute.instanceGroups.addInstances" {
			t.Errorf("unexpected write %s", w)
		}
	}
}

func groupName(t *testing.T, h *harness) string {
	t.Helper()
	list, err := h.cloud.Compute.InstanceGroups.List(h.cloud.Project, "us-central1-a").Do()
	if err != nil || len(list.Items) != 1 {
		t.Fatalf("instance groups = %+v, %v; want one", list, err)
	}
	return list.Items[0].Name
}

func TestATypeChangeCleansUp(t *testing.T) {
	h := startHarness(t, 1, newService("web"))
	svc := h.waitReady("web")
	svc.Spec.Type = v1.ServiceTypeClusterIP
	if _, err := h.client.CoreV1().Services("default").Update(context.Background(), svc, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	h.eventually("the load balancer, the finalizer and the status go", func() string {
		s, _ := h.service("web")
		rules, err := h.cloud.Compute.ForwardingRules.List(h.cloud.Project, "us-central1").Do()
		if err != nil {
			return err.Error()
		}
		if servicehelper.HasLBFinalizer(s) || len(s.Status.LoadBalancer.Ingress) != 0 || len(rules.Items) != 0 {
			return fmt.Sprintf("finalizers %v, ingress %v, %d forwarding rules", s.Finalizers, s.Status.LoadBalancer.Ingress, len(rules.Items))
		}
		return ""
	})
}

func TestAServiceWithAClassIsLeftAlone(t *testing.T) {
	h := startHarness(t, 1, newService("other", fixture.Class("example.com/other")), newService("web"))
	h.waitReady("web")
	h.processed()
	s, err := h.service("other")
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Finalizers) != 0 || len(s.Status.LoadBalancer.Ingress) != 0 {
		t.Errorf("a Service with another class was touched: finalizers %v, status %+v", s.Finalizers, s.Status.LoadBalancer)
	}
}

func TestAFailedSyncIsRetriedAfterSecondsDoublingToFiveMinutes(t *testing.T) {
	l := retryLimiter[string]()
	var got []time.Duration
	for range 9 {
		got = append(got, l.When("default/web"))
	}
	want := []time.Duration{5 * time.Second, 10 * time.Second, 20 * time.Second, 40 * time.Second, 80 * time.Second,
		160 * time.Second, 300 * time.Second, 300 * time.Second, 300 * time.Second}
	if !slices.Equal(got, want) {
		t.Errorf("retry delays %v, want %v", got, want)
	}
	if d := l.When("default/other"); d != 5*time.Second {
		t.Errorf("another Service's first retry after %v, want 5s: backoff is per Service", d)
	}
	l.Forget("default/web")
	if d := l.When("default/web"); d != 5*time.Second {
		t.Errorf("after a success the next failure waits %v, want 5s", d)
	}
}
