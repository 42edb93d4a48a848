package servicecontroller

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/api/compute/v1"
	"google.golang.org/api/option"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/component-base/metrics"
	"k8s.io/component-base/metrics/testutil"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/test/fakegce"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/test/fakegce/fakegcetest"
)

// callGate holds the first request it matches open until the test
// releases it: a barrier, so that a test can act while a cloud call is in
// flight and know it still is (fake-gce's latency faults slow a call down
// but do not say when it started).
type callGate struct {
	match   func(*http.Request) bool
	mu      sync.Mutex
	taken   bool
	held    chan struct{}
	let     chan struct{}
	letOnce sync.Once
}

func holdFirst(match func(*http.Request) bool) *callGate {
	return &callGate{match: match, held: make(chan struct{}), let: make(chan struct{})}
}

func (g *callGate) take(r *http.Request) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.taken || !g.match(r) {
		return false
	}
	g.taken = true
	return true
}

func (g *callGate) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if g.take(r) {
			close(g.held)
			select {
			case <-g.let:
			case <-r.Context().Done():
			}
		}
		next.ServeHTTP(w, r)
	})
}

func (g *callGate) release() { g.letOnce.Do(func() { close(g.let) }) }

func (g *callGate) waitHeld(t *testing.T) {
	t.Helper()
	select {
	case <-g.held:
	case <-time.After(20 * time.Second):
		t.Fatal("the call to hold never came")
	}
}

// startCloud is fakegcetest.Start with an optional gate in front of
// fake-gce.
func startCloud(t *testing.T, cfg fakegce.Config, gate *callGate) *fakegcetest.Cloud {
	t.Helper()
	if gate == nil {
		return fakegcetest.Start(t, cfg)
	}
	srv, err := fakegce.New(cfg)
	if err != nil {
		t.Fatalf("start fake-gce: %v", err)
	}
	hs := httptest.NewServer(gate.wrap(srv))
	t.Cleanup(func() {
		gate.release()
		hs.Close()
		srv.Close()
	})
	endpoint := hs.URL + "/compute/v1/"
	svc, err := compute.NewService(context.Background(), option.WithEndpoint(endpoint), option.WithHTTPClient(hs.Client()))
	if err != nil {
		t.Fatalf("compute client: %v", err)
	}
	return &fakegcetest.Cloud{Server: srv, HTTP: hs, Endpoint: endpoint, Host: hs.Listener.Addr().String(), Compute: svc, Project: "fake-project"}
}

func (h *harness) groupMembers() []string {
	h.t.Helper()
	got, err := h.cloud.Compute.InstanceGroups.ListInstances(h.cloud.Project, "us-central1-a", groupName(h.t, h), &compute.InstanceGroupsListInstancesRequest{}).Do()
	if err != nil {
		h.t.Fatal(err)
	}
	var out []string
	for _, m := range got.Items {
		out = append(out, m.Instance[strings.LastIndex(m.Instance, "/")+1:])
	}
	slices.Sort(out)
	return out
}

func (h *harness) addNode(name string) {
	h.t.Helper()
	addInstance(h.t, h.cloud, name)
	h.createNode(name)
}

func (h *harness) createNode(name string) {
	h.t.Helper()
	if _, err := h.client.CoreV1().Nodes().Create(context.Background(), newNode(name), metav1.CreateOptions{}); err != nil {
		h.t.Fatal(err)
	}
}

func (h *harness) createService(name string) {
	h.t.Helper()
	if _, err := h.client.CoreV1().Services("default").Create(context.Background(), newService(name), metav1.CreateOptions{}); err != nil {
		h.t.Fatal(err)
	}
}

// A node-set change is published while an ensure is still in its cloud
// calls, and a new Service is ensured with the new set meanwhile; when the
// slow ensure, which took the older set, reaches the shared instance group,
// it does not take out the node the newer set put in.
func TestANodeSetChangeDoesNotWaitForASlowEnsure(t *testing.T) {
	// The first address insert is the slow Service's (each Service
	// reserves one, before its group membership and forwarding rule).
	gate := holdFirst(func(r *http.Request) bool {
		return r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/addresses")
	})
	h := startHarnessWith(t, harnessOptions{gate: gate}, 2)
	h.createService("slow")
	gate.waitHeld(t)

	h.addNode("node-3")
	h.eventually("the node set with node-3 is published while an ensure is in flight", func() string {
		if got := h.publishedNodes(); !slices.Contains(got, "node-3") {
			return fmt.Sprintf("published %v", got)
		}
		return ""
	})

	h.createService("fresh")
	h.eventually("the new Service's forwarding rule is inserted while the slow call is held", func() string {
		for _, c := range h.cloud.Server.Calls() {
			if c.API == "compute.forwardingRules.insert" {
				return ""
			}
		}
		return "no forwarding rule inserted yet"
	})
	if got, want := h.groupMembers(), []string{"node-1", "node-2", "node-3"}; !slices.Equal(got, want) {
		t.Errorf("the shared group has %v after the new Service's ensure, want %v", got, want)
	}

	gate.release()
	h.waitReady("slow")
	h.waitReady("fresh")
	h.processed()
	if got, want := h.groupMembers(), []string{"node-1", "node-2", "node-3"}; !slices.Equal(got, want) {
		t.Errorf("the shared group has %v in the end, want %v", got, want)
	}
	if w := h.writes(); slices.Contains(w, "compute.instanceGroups.removeInstances") {
		t.Errorf("the slow ensure's older node set took a node out of the shared group: writes %v", w)
	}
}

// publishedNodes are the names in the controller's current node set.
func (h *harness) publishedNodes() []string {
	var out []string
	for _, n := range h.ctrl.currentNodeSet().nodes {
		out = append(out, n.Name)
	}
	return out
}

// heldLister is the controller's node lister, which the test can make
// hold the next List (a node-set sync) until it releases it.
type heldLister struct {
	corelisters.NodeLister
	mu      sync.Mutex
	armed   bool
	held    chan struct{}
	let     chan struct{}
	letOnce *sync.Once
}

func (l *heldLister) holdNext() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.armed, l.held, l.let, l.letOnce = true, make(chan struct{}), make(chan struct{}), &sync.Once{}
}

func (l *heldLister) List(selector labels.Selector) ([]*v1.Node, error) {
	l.mu.Lock()
	hold := l.armed
	l.armed = false
	held, let := l.held, l.let
	l.mu.Unlock()
	if hold {
		close(held)
		<-let
	}
	return l.NodeLister.List(selector)
}

func (l *heldLister) release() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.letOnce != nil {
		l.letOnce.Do(func() { close(l.let) })
	}
}

func (l *heldLister) waitHeld(t *testing.T) {
	t.Helper()
	l.mu.Lock()
	held := l.held
	l.mu.Unlock()
	select {
	case <-held:
	case <-time.After(20 * time.Second):
		t.Fatal("no node-set sync came to be held")
	}
}

// nodeSetCounters are the controller's node-set metrics.
type nodeSetCounters struct{ events, syncs, changes, queued float64 }

func readNodeSetCounters(t *testing.T) nodeSetCounters {
	t.Helper()
	var c nodeSetCounters
	for _, m := range []struct {
		into   *float64
		metric metrics.CounterMetric
	}{
		{&c.events, nodeEvents},
		{&c.syncs, nodeSetSyncs},
		{&c.changes, nodeSyncs.WithLabelValues("node_set")},
		{&c.queued, nodeSyncs.WithLabelValues("service")},
	} {
		v, err := testutil.GetCounterMetricValue(m.metric)
		if err != nil {
			t.Fatal(err)
		}
		*m.into = v
	}
	return c
}

// A Service created while a node's join still waits in the batch window is
// ensured with that node: the window delays the resync of the load
// balancers built before the join, never what a new Service is built with.
// (A window of an hour: the batched sync cannot be what brings the node.)
func TestANewServiceIsBuiltWithTheNodesThatJoinedBeforeIt(t *testing.T) {
	h := startHarnessWith(t, harnessOptions{beforeRun: func(c *Controller) {
		c.nodeSetBatch = time.Hour
	}}, 1)
	h.eventually("the controller has published its first node set", func() string {
		if got := h.publishedNodes(); !slices.Equal(got, []string{"node-1"}) {
			return fmt.Sprintf("published %v", got)
		}
		return ""
	})
	addInstance(t, h.cloud, "node-2")
	h.createNode("node-2")
	h.eventually("the controller has the new node in its cache", func() string {
		if _, err := h.ctrl.nodes.Get("node-2"); err != nil {
			return err.Error()
		}
		return ""
	})
	h.createService("web")
	h.waitReady("web")
	if got, want := h.groupMembers(), []string{"node-1", "node-2"}; !slices.Equal(got, want) {
		t.Errorf("the new Service's instance group has %v, want %v", got, want)
	}
}
